"""A benchmark from a CSV listing: header ``path,label`` and an optional ``split`` column.

``label`` is either a class name in every row or an integer id in every row:

- names: classes are the sorted distinct names (or the order of ``classnames`` if given);
- ids: ids must lie in 0..C-1; names come from ``classnames`` if given, else ``str(id)``.

``split`` holds ``train``, ``val`` or ``test`` (any case); without the column every row is
``train``. Relative paths are resolved against ``root`` or else the CSV's own folder. The
whole file is checked before anything is built, and every missing image is counted.
"""
from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Optional, Union

from .errors import require_path
from .records import DEFAULT_TEMPLATE, SPLITS, Benchmark, Sample

PathLike = Union[str, os.PathLike]
REQUIRED_COLUMNS = ("path", "label")
SHOWN = 5
_INTEGER = re.compile(r"[+-]?\d+")


def _read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = [column.strip() for column in reader.fieldnames or []]
        missing = [column for column in REQUIRED_COLUMNS if column not in header]
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; header is {header}")
        reader.fieldnames = header
        rows = [{k: (v or "").strip() for k, v in row.items() if k is not None} for row in reader]
    if not rows:
        raise ValueError(f"{path}: no rows after the header")
    blank = [line for line, row in enumerate(rows, start=2) if not (row["path"] and row["label"])]
    if blank:
        raise ValueError(f"{path}: {len(blank)} row(s) with an empty path or label, e.g. line(s) {blank[:SHOWN]}")
    return rows


def _split_of(rows: list[dict[str, str]], path: Path) -> list[str]:
    splits = [row.get("split", "train").lower() or "train" for row in rows]
    bad = [(line, split) for line, split in enumerate(splits, start=2) if split not in SPLITS]
    if bad:
        shown = ", ".join(f"line {line}: {split!r}" for line, split in bad[:SHOWN])
        raise ValueError(f"{path}: split must be one of {', '.join(SPLITS)}; {len(bad)} rows are not ({shown})")
    return splits


def _labels_and_names(
    raw: list[str], classnames: Optional[Sequence[str]], path: Path
) -> tuple[list[int], list[str]]:
    """Integer labels for the rows and the class-name list, from names or ids."""
    is_id = [bool(_INTEGER.fullmatch(value)) for value in raw]
    if any(is_id) and not all(is_id):
        first_id, first_name = raw[is_id.index(True)], raw[is_id.index(False)]
        raise ValueError(
            f"{path}: labels mix integer ids (e.g. {first_id!r}) and class names (e.g. {first_name!r}); "
            "use one kind in the whole file"
        )
    if all(is_id):
        labels = [int(value) for value in raw]
        count = len(classnames) if classnames is not None else max(labels) + 1
        outside = sorted({label for label in labels if not 0 <= label < count})
        if outside:
            raise ValueError(f"{path}: label ids must lie in 0..{count - 1}; found {outside[:SHOWN]}")
        names = list(classnames) if classnames is not None else [str(label) for label in range(count)]
        return labels, names
    names = list(classnames) if classnames is not None else sorted(set(raw))
    index = {name: label for label, name in enumerate(names)}
    unknown = sorted(set(raw) - set(index))
    if unknown:
        raise ValueError(f"{path}: class names not in classnames: {unknown[:SHOWN]}")
    return [index[value] for value in raw], names


def _resolve(rows: list[dict[str, str]], base: Path, path: Path) -> list[Path]:
    files = [base / row["path"] for row in rows]
    missing = [str(file) for file in files if not file.is_file()]
    if missing:
        raise ValueError(f"{path}: {len(missing)} image file(s) not found, e.g. {', '.join(missing[:SHOWN])}")
    return files


def csv_source(
    path: PathLike,
    root: Optional[PathLike] = None,
    name: Optional[str] = None,
    template: str = DEFAULT_TEMPLATE,
    classnames: Optional[Sequence[str]] = None,
) -> Benchmark:
    """Read a ``path,label[,split]`` CSV as a ``Benchmark`` named ``name`` (default: the file's stem).

    Raises ``ValueError`` for a missing file or column, mixed label kinds, unknown splits or
    labels, and image files that do not exist (the first few are listed, all are counted).
    """
    path = require_path(Path(path), "CSV file")
    rows = _read_rows(path)
    splits = _split_of(rows, path)
    labels, names = _labels_and_names([row["label"] for row in rows], classnames, path)
    files = _resolve(rows, Path(root) if root is not None else path.parent, path)
    by_split: dict[str, list[Sample]] = {split: [] for split in SPLITS}
    for file, label, split in zip(files, labels, splits):
        by_split[split].append(Sample(str(file), label, names[label]))
    return Benchmark(name=name or path.stem, classnames=names, template=template, **by_split)
