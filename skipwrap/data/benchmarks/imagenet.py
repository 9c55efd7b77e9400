"""ImageNet and its test-only shifts (V2, Sketch, A, R), in CoOp's folder layout.

Each dataset folder holds a copy of ``classnames.txt`` (lines ``<wnid> <class name>``, the
CLIP class names, in label order). Images sit in one folder per class:

- ``imagenet/images/{train,val}/<wnid>/`` — the official val set is the test split
  (standard practice, as in CoOp); there is no separate val split, so ``val`` is empty;
- ``imagenetv2/imagenetv2-matched-frequency-format-val/<label>/`` — folders named by id;
- ``imagenet-sketch/images/<wnid>/`` — all 1000 classes;
- ``imagenet-adversarial/imagenet-a/<wnid>/`` and ``imagenet-rendition/imagenet-r/<wnid>/``
  — 200-class subsets: the benchmark's classes are the folders present, sorted, labelled
  0..199, as CoOp does; a model trained on ImageNet is evaluated over these classes only.
"""
from __future__ import annotations

from collections.abc import Container
from pathlib import Path

from ..errors import require_path
from ..files import list_images, list_subfolders
from ..records import Benchmark, Sample
from .templates import SKIPT_TEMPLATES


def read_classnames(path: Path) -> dict[str, str]:
    """``wnid -> class name`` in file order (= label order) from a CoOp ``classnames.txt``."""
    text = require_path(path, "classnames.txt", "See CoOp's DATASETS.md: each folder holds a copy of it.")
    pairs = [line.strip().partition(" ") for line in text.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {wnid: name for wnid, _, name in pairs}


def _unknown_folders(folders: list[Path], known: Container[str], image_dir: Path) -> None:
    unknown = [f.name for f in folders if f.name not in known]
    if unknown:
        raise ValueError(f"{image_dir}: folders not in classnames.txt: {', '.join(unknown[:10])}")


def read_class_folders(image_dir: Path, folder_labels: dict[str, int], classnames: list[str]) -> list[Sample]:
    """Samples of ``image_dir/<folder>/*`` labelled through ``folder_labels``."""
    folders = list_subfolders(require_path(image_dir, "image folder"))
    _unknown_folders(folders, folder_labels, image_dir)
    return [
        Sample(str(path), folder_labels[f.name], classnames[folder_labels[f.name]])
        for f in folders
        for path in list_images(f)
    ]


def _full_label_space(folder: Path) -> tuple[dict[str, int], list[str]]:
    """wnid -> label and the 1000 names, labels in classnames.txt order."""
    names = read_classnames(folder / "classnames.txt")
    return {wnid: label for label, wnid in enumerate(names)}, list(names.values())


def read_imagenet(root: Path) -> Benchmark:
    """ImageNet: train on ``images/train``, test on the official ``images/val``."""
    folder = root / "imagenet"
    labels, classnames = _full_label_space(folder)
    train = read_class_folders(folder / "images" / "train", labels, classnames)
    test = read_class_folders(folder / "images" / "val", labels, classnames)
    return Benchmark("ImageNet", classnames, SKIPT_TEMPLATES["ImageNet"], train=train, test=test)


def read_imagenet_v2(root: Path) -> Benchmark:
    """ImageNet-V2 matched-frequency: test only, class folders named by label id."""
    folder = root / "imagenetv2"
    _, classnames = _full_label_space(folder)
    by_id = {str(label): label for label in range(len(classnames))}
    test = read_class_folders(folder / "imagenetv2-matched-frequency-format-val", by_id, classnames)
    return Benchmark("ImageNetV2", classnames, SKIPT_TEMPLATES["ImageNetV2"], test=test)


def read_imagenet_sketch(root: Path) -> Benchmark:
    """ImageNet-Sketch: test only, all 1000 classes."""
    folder = root / "imagenet-sketch"
    labels, classnames = _full_label_space(folder)
    test = read_class_folders(folder / "images", labels, classnames)
    return Benchmark("ImageNetSketch", classnames, SKIPT_TEMPLATES["ImageNetSketch"], test=test)


def _read_subset(root: Path, name: str, folder_name: str, images: str) -> Benchmark:
    """A test-only 200-class subset: the class folders present, sorted by wnid, labelled 0.."""
    folder = root / folder_name
    names = read_classnames(folder / "classnames.txt")
    image_dir = require_path(folder / images, f"{name} image folder")
    folders = list_subfolders(image_dir)
    _unknown_folders(folders, names, image_dir)
    wnids = [f.name for f in folders]
    labels = {wnid: label for label, wnid in enumerate(wnids)}
    classnames = [names[wnid] for wnid in wnids]
    test = read_class_folders(image_dir, labels, classnames)
    return Benchmark(name, classnames, SKIPT_TEMPLATES[name], test=test)


def read_imagenet_a(root: Path) -> Benchmark:
    """ImageNet-A: test only, its 200-class subset."""
    return _read_subset(root, "ImageNetA", "imagenet-adversarial", "imagenet-a")


def read_imagenet_r(root: Path) -> Benchmark:
    """ImageNet-R: test only, its 200-class subset."""
    return _read_subset(root, "ImageNetR", "imagenet-rendition", "imagenet-r")
