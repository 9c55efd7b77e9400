"""Listing image files and class folders the same way everywhere.

Hidden entries (dot-files such as ``.DS_Store`` or ``._x.jpg``) are never data; names are
sorted so that every listing, and so every label assignment, is reproducible. Listings use
``os.scandir``, whose entries know their type, so a million-image folder costs no extra
``stat`` per file.
"""
from __future__ import annotations

import os
from pathlib import Path

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})


def _visible(entry: os.DirEntry) -> bool:
    return not entry.name.startswith(".")


def list_images(folder: Path) -> list[Path]:
    """The image files directly inside ``folder`` (suffix in ``IMAGE_SUFFIXES``, any case), sorted."""
    with os.scandir(folder) as entries:
        return sorted(
            Path(e.path) for e in entries
            if _visible(e) and e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES
        )


def list_subfolders(folder: Path) -> list[Path]:
    """The visible sub-folders of ``folder``, sorted by name."""
    with os.scandir(folder) as entries:
        return sorted(Path(e.path) for e in entries if _visible(e) and e.is_dir())
