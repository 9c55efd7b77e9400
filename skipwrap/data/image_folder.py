"""A benchmark from a folder of class sub-folders: ``root/<class>/<image>``.

Layouts:

- ``root/<class>/*.jpg`` — every image goes to ``train``; ``val`` and ``test`` are empty
  (split it yourself, e.g. with ``few_shot``, or use the split layout).
- ``root/train/<class>/*``, ``root/val/<class>/*``, ``root/test/<class>/*`` — each split
  folder that is present becomes that split; absent ones are empty.

Classes are the sub-folder names sorted, labelled 0..C-1. Everything is checked before any
sample is built, and all problems of a kind are named in one error, so a broken dataset is
fixed in one go rather than one folder per run.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

from .errors import MissingPathError
from .files import list_images, list_subfolders
from .records import DEFAULT_TEMPLATE, SPLITS, Benchmark, Sample

PathLike = Union[str, os.PathLike]


def _split_folders(root: Path) -> dict[str, Path]:
    """The split sub-folders of ``root`` ({} for the flat layout); refuses a mix of both layouts."""
    folders = list_subfolders(root)
    splits = {f.name: f for f in folders if f.name in SPLITS}
    others = [f.name for f in folders if f.name not in SPLITS]
    if splits and others:
        raise ValueError(
            f"{root} mixes split folders ({', '.join(splits)}) with other folders "
            f"({', '.join(others[:10])}): use either root/<class>/ or root/<split>/<class>/"
        )
    return splits


def _class_images(folder: Path) -> dict[str, list[Path]]:
    """Class name -> its images, for one folder of class sub-folders."""
    classes = list_subfolders(folder)
    if not classes:
        raise ValueError(f"{folder} has no class sub-folders (expected {folder}/<class>/<image>)")
    return {c.name: list_images(c) for c in classes}


def _check_nonempty(tree: dict[str, dict[str, list[Path]]], root: Path) -> None:
    empty = [
        str(root / split / name) if split else str(root / name)
        for split, classes in tree.items()
        for name, images in classes.items()
        if not images
    ]
    if empty:
        raise ValueError(f"class folders without images: {', '.join(empty)}")


def _check_same_classes(tree: dict[str, dict[str, list[Path]]]) -> None:
    sets = {split: set(classes) for split, classes in tree.items()}
    reference = set().union(*sets.values())
    disagree = {split: sorted(reference - names) for split, names in sets.items() if names != reference}
    if disagree:
        detail = "; ".join(f"{split} lacks {', '.join(names[:10])}" for split, names in disagree.items())
        raise ValueError(f"the split folders disagree on class names: {detail}")


def image_folder(root: PathLike, name: Optional[str] = None, template: str = DEFAULT_TEMPLATE) -> Benchmark:
    """Read ``root/<class>/*`` or ``root/{train,val,test}/<class>/*`` as a ``Benchmark``.

    ``name`` defaults to the folder's name. Raises ``ValueError`` (before building anything)
    when the folder is missing, has no class folders, a class folder has no images, or the
    split folders disagree on class names.
    """
    root = Path(root)
    if not root.is_dir():
        raise MissingPathError(f"image folder not found: expected a directory at {root}")
    splits = _split_folders(root)
    tree = {split: _class_images(folder) for split, folder in splits.items()} if splits else {"": _class_images(root)}
    _check_nonempty(tree, root)
    _check_same_classes(tree)
    classnames = sorted(next(iter(tree.values())))
    by_split = {
        split or "train": [
            Sample(str(path), label, classname)
            for label, classname in enumerate(classnames)
            for path in classes[classname]
        ]
        for split, classes in tree.items()
    }
    return Benchmark(name=name or root.name, classnames=classnames, template=template, **by_split)
