"""Benchmarks with a CoOp split file ``split_zhou_<Name>.json``.

The file maps ``train`` / ``val`` / ``test`` to lists of ``[relative_path, label, classname]``,
paths relative to the dataset's image folder. The folder names below follow CoOp's
DATASETS.md, so a ``$DATA`` root prepared for CoOp (or any of its successors) works as is.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..errors import MissingPathError, require_path
from ..labels import classnames_from_samples
from ..records import SPLITS, Benchmark, Sample
from .templates import SKIPT_TEMPLATES


@dataclass(frozen=True)
class SplitJsonLayout:
    """Where one dataset lives under the data root: ``<folder>/<images>`` and the split file."""

    name: str
    folder: str
    images: str

    def split_file(self, root: Path) -> Path:
        return root / self.folder / f"split_zhou_{self.name}.json"

    def image_dir(self, root: Path) -> Path:
        return root / self.folder / self.images


LAYOUTS = [
    SplitJsonLayout("Caltech101", "caltech-101", "101_ObjectCategories"),
    SplitJsonLayout("OxfordPets", "oxford_pets", "images"),
    SplitJsonLayout("StanfordCars", "stanford_cars", ""),
    SplitJsonLayout("OxfordFlowers", "oxford_flowers", "jpg"),
    SplitJsonLayout("Food101", "food-101", "images"),
    SplitJsonLayout("SUN397", "sun397", "SUN397"),
    SplitJsonLayout("DescribableTextures", "dtd", "images"),
    SplitJsonLayout("EuroSAT", "eurosat", "2750"),
    SplitJsonLayout("UCF101", "ucf101", "UCF-101-midframes"),
]


def read_split_file(split_file: Path, image_dir: Path) -> dict[str, list[Sample]]:
    """The samples of each split listed in a CoOp split file, paths joined to ``image_dir``."""
    hint = "Download it as described in CoOp's DATASETS.md."
    with require_path(split_file, "split file", hint).open(encoding="utf-8") as handle:
        content = json.load(handle)
    absent = [split for split in SPLITS if split not in content]
    if absent:
        raise ValueError(f"{split_file}: missing key(s) {', '.join(absent)}")
    return {
        split: [Sample(str(image_dir / path), int(label), classname) for path, label, classname in content[split]]
        for split in SPLITS
    }


def _check_first_images(splits: dict[str, list[Sample]], split_file: Path) -> None:
    """Catch a wrong image folder at once, at the cost of one file check per split."""
    for samples in splits.values():
        if samples and not Path(samples[0].path).is_file():
            raise MissingPathError(
                f"{split_file} lists {samples[0].path}, which does not exist: "
                "is the image folder where CoOp's DATASETS.md puts it?"
            )


def read_split_json_benchmark(layout: SplitJsonLayout, root: Path) -> Benchmark:
    """The benchmark of ``layout`` under the data ``root``, with its standard train/val/test split."""
    image_dir = require_path(layout.image_dir(root), f"{layout.name} image folder")
    split_file = layout.split_file(root)
    splits = read_split_file(split_file, image_dir)
    _check_first_images(splits, split_file)
    classnames = classnames_from_samples((s for samples in splits.values() for s in samples), str(split_file))
    return Benchmark(name=layout.name, classnames=classnames, template=SKIPT_TEMPLATES[layout.name], **splits)
