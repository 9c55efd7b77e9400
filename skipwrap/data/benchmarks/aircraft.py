"""FGVC-Aircraft (variant level, 100 classes) from the dataset's own annotation files.

CoOp uses the official split instead of a json: under ``fgvc_aircraft/`` (the ``data/``
folder of ``fgvc-aircraft-2013b``), ``variants.txt`` lists the class names in label order
and ``images_variant_{train,val,test}.txt`` hold lines ``<image id> <variant name>``;
images are ``images/<image id>.jpg``.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import require_path
from ..records import SPLITS, Benchmark, Sample
from .templates import SKIPT_TEMPLATES

NAME = "FGVCAircraft"
FOLDER = "fgvc_aircraft"


def _lines(path: Path) -> list[str]:
    text = require_path(path, f"{NAME} annotation file").read_text(encoding="utf-8")
    return [line.strip() for line in text.splitlines() if line.strip()]


def _read_split(folder: Path, split: str, index: dict[str, int]) -> list[Sample]:
    path = folder / f"images_variant_{split}.txt"
    samples = []
    for line in _lines(path):
        image_id, _, variant = line.partition(" ")
        if variant not in index:
            raise ValueError(f"{path}: variant {variant!r} of image {image_id} is not in variants.txt")
        samples.append(Sample(str(folder / "images" / f"{image_id}.jpg"), index[variant], variant))
    return samples


def read_fgvc_aircraft(root: Path) -> Benchmark:
    """FGVC-Aircraft under the data ``root`` with its official train/val/test split."""
    folder = root / FOLDER
    require_path(folder / "images", f"{NAME} image folder")
    classnames = _lines(folder / "variants.txt")
    index = {variant: label for label, variant in enumerate(classnames)}
    splits = {split: _read_split(folder, split, index) for split in SPLITS}
    return Benchmark(name=NAME, classnames=classnames, template=SKIPT_TEMPLATES[NAME], **splits)
