"""Tiny on-disk datasets for the data-layer tests: a few generated PNGs in real layouts."""
from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image


def write_png(path: Path, shade: int = 128, size: tuple[int, int] = (12, 10)) -> Path:
    """A small solid-colour RGB image in PNG format at ``path``, whatever its suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (shade, 255 - shade, shade // 2)).save(path, format="PNG")
    return path


def write_corrupt(path: Path) -> Path:
    """Seeded random bytes under an image suffix: no image format recognises them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(0).randbytes(512))
    return path


def class_tree(root: Path, classes: dict[str, int], suffix: str = ".png") -> Path:
    """``root/<class>/<i><suffix>`` with the given number of images per class."""
    for index, (name, count) in enumerate(classes.items()):
        for i in range(count):
            write_png(root / name / f"{i}{suffix}", shade=20 * index + i)
    return root


def split_json_root(data_root: Path, name: str, folder: str, images: str, classes: list[str]) -> Path:
    """A CoOp json-split dataset: two images per class per split under ``folder/images``."""
    image_dir = data_root / folder / images
    split = {}
    for part in ("train", "val", "test"):
        entries = []
        for label, classname in enumerate(classes):
            for i in range(2):
                relative = f"{classname}/{part}_{i}.jpg"
                write_png(image_dir / relative, shade=10 * label + i)
                entries.append([relative, label, classname])
        split[part] = entries
    (data_root / folder / f"split_zhou_{name}.json").write_text(json.dumps(split))
    return data_root


def aircraft_root(data_root: Path, variants: list[str]) -> Path:
    """FGVC-Aircraft's ``data/`` layout: variants.txt, images_variant_<split>.txt, images/<id>.jpg."""
    folder = data_root / "fgvc_aircraft"
    folder.mkdir(parents=True)
    (folder / "variants.txt").write_text("".join(f"{v}\n" for v in variants))
    image_id = 1000000
    for part in ("train", "val", "test"):
        lines = []
        for variant in variants:
            image_id += 1
            write_png(folder / "images" / f"{image_id}.jpg")
            lines.append(f"{image_id} {variant}\n")
        (folder / f"images_variant_{part}.txt").write_text("".join(lines))
    return data_root


IMAGENET_CLASSES = {"n01440764": "tench", "n01443537": "goldfish", "n01484850": "great white shark"}


def classnames_txt(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "classnames.txt").write_text("".join(f"{w} {n}\n" for w, n in IMAGENET_CLASSES.items()))


def imagenet_root(data_root: Path) -> Path:
    """``imagenet/images/{train,val}/<wnid>/`` + classnames.txt, val missing one class's images."""
    folder = data_root / "imagenet"
    classnames_txt(folder)
    for wnid in IMAGENET_CLASSES:
        class_tree(folder / "images" / "train", {wnid: 3}, suffix=".JPEG")
        class_tree(folder / "images" / "val", {wnid: 1}, suffix=".JPEG")
    return data_root


def imagenet_subset_root(data_root: Path, folder: str, images: str, wnids: list[str]) -> Path:
    """An ImageNet-A/-R style target: classnames.txt for all classes, folders for a subset."""
    classnames_txt(data_root / folder)
    for wnid in wnids:
        class_tree(data_root / folder / images, {wnid: 2})
    (data_root / folder / images / "README.txt").write_text("not a class")
    return data_root


def imagenet_v2_root(data_root: Path) -> Path:
    """ImageNet-V2 matched-frequency: folders named by label id."""
    classnames_txt(data_root / "imagenetv2")
    image_dir = data_root / "imagenetv2" / "imagenetv2-matched-frequency-format-val"
    for label in range(len(IMAGENET_CLASSES)):
        class_tree(image_dir, {str(label): 2}, suffix=".jpeg")
    return data_root
