"""Recovering the class-name list of a benchmark from its labelled samples.

Split files store ``(path, label, classname)`` per image rather than a class list, so the
list is rebuilt here and checked: one name per id, ids 0..C-1 without gaps.
"""
from __future__ import annotations

from collections.abc import Iterable

from .records import Sample


def classnames_from_samples(samples: Iterable[Sample], source: str) -> list[str]:
    """``classnames[label]`` for the labels used by ``samples``; ``source`` names the file in errors."""
    names: dict[int, str] = {}
    for sample in samples:
        known = names.setdefault(sample.label, sample.classname)
        if known != sample.classname:
            raise ValueError(
                f"{source}: label {sample.label} is named both {known!r} and {sample.classname!r}"
            )
    missing = sorted(set(range(len(names))) - set(names))
    if missing:
        raise ValueError(
            f"{source}: labels must be 0..C-1 without gaps; {len(names)} labels found but "
            f"{missing[:10]} missing (largest label {max(names)})"
        )
    return [names[label] for label in range(len(names))]
