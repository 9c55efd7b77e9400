"""The standard benchmarks by name: ``BENCHMARKS`` and ``load_benchmark``.

Each reader takes the data root (the ``$DATA`` folder of CoOp's DATASETS.md) and returns the
benchmark with its standard split and the Skip Tuning reference's prompt template.
Canonical names are CoOp's dataset class names; common lower-case aliases map to the same
readers, and lookup also ignores case, ``-``, ``_`` and spaces.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Optional, Union

from ..records import Benchmark
from .aircraft import read_fgvc_aircraft
from .imagenet import read_imagenet, read_imagenet_a, read_imagenet_r, read_imagenet_sketch, read_imagenet_v2
from .split_json import LAYOUTS, read_split_json_benchmark

PathLike = Union[str, os.PathLike]
Reader = Callable[[Path], Benchmark]

CANONICAL: dict[str, Reader] = {
    **{layout.name: partial(read_split_json_benchmark, layout) for layout in LAYOUTS},
    "FGVCAircraft": read_fgvc_aircraft,
    "ImageNet": read_imagenet,
    "ImageNetV2": read_imagenet_v2,
    "ImageNetSketch": read_imagenet_sketch,
    "ImageNetA": read_imagenet_a,
    "ImageNetR": read_imagenet_r,
}

ALIASES: dict[str, str] = {
    "caltech101": "Caltech101",
    "caltech": "Caltech101",
    "oxford_pets": "OxfordPets",
    "pets": "OxfordPets",
    "stanford_cars": "StanfordCars",
    "cars": "StanfordCars",
    "oxford_flowers": "OxfordFlowers",
    "flowers102": "OxfordFlowers",
    "flowers": "OxfordFlowers",
    "food101": "Food101",
    "food": "Food101",
    "fgvc_aircraft": "FGVCAircraft",
    "aircraft": "FGVCAircraft",
    "sun397": "SUN397",
    "dtd": "DescribableTextures",
    "describable_textures": "DescribableTextures",
    "eurosat": "EuroSAT",
    "ucf101": "UCF101",
    "imagenet": "ImageNet",
    "imagenet_v2": "ImageNetV2",
    "imagenet_sketch": "ImageNetSketch",
    "imagenet_a": "ImageNetA",
    "imagenet_r": "ImageNetR",
}

BENCHMARKS: dict[str, Reader] = {**CANONICAL, **{alias: CANONICAL[name] for alias, name in ALIASES.items()}}


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch not in "-_ ")


_BY_KEY: dict[str, Reader] = {_key(name): reader for name, reader in BENCHMARKS.items()}
_NAME_BY_KEY: dict[str, str] = {**{_key(n): n for n in CANONICAL}, **{_key(a): n for a, n in ALIASES.items()}}


def canonical_name(name: str) -> Optional[str]:
    """The canonical name of a benchmark given any accepted spelling, or ``None``."""
    return _NAME_BY_KEY.get(_key(name))


def load_benchmark(name: str, root: PathLike, template: Optional[str] = None) -> Benchmark:
    """Read the standard benchmark ``name`` from the data ``root``.

    ``template`` replaces the default prompt template (e.g. ``COOP_TEMPLATES[name]``).
    Raises ``ValueError`` for an unknown name (listing the known ones) and
    ``MissingPathError`` (a ``ValueError``) naming any expected file or folder that is absent.
    """
    reader = _BY_KEY.get(_key(name))
    if reader is None:
        raise ValueError(
            f"unknown benchmark {name!r}; known: {', '.join(CANONICAL)} (aliases: {', '.join(ALIASES)})"
        )
    benchmark = reader(Path(root).expanduser())
    return benchmark if template is None else replace(benchmark, template=template)
