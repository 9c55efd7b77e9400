"""The two sample selections of the evaluation protocols: K shots per class, base/new classes.

``few_shot`` draws each class's shots with its own generator seeded by ``(seed, label)``
from the class's samples sorted by path, so the draw depends only on the seed and on that
class's samples: not on input order, nor on which other classes are present.

``split_classes`` follows CoOp's ``subsample_classes``: base = the first ``ceil(C / 2)``
class ids, new = the rest, each relabelled from 0. C is the length of ``classnames`` (CoOp
counts the labels present in the train split; the two agree whenever every class has a
training image).
"""
from __future__ import annotations

import math
import random
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from .records import SPLITS, Benchmark, Sample

SHOWN = 10


def _by_class(samples: Iterable[Sample]) -> dict[int, list[Sample]]:
    groups: dict[int, list[Sample]] = defaultdict(list)
    for sample in samples:
        groups[sample.label].append(sample)
    return {label: sorted(group, key=lambda s: (s.path, s.classname)) for label, group in sorted(groups.items())}


def few_shot(samples: Iterable[Sample], shots: int, seed: int) -> list[Sample]:
    """``shots`` samples per class (all of a class that has fewer, with a warning), sorted by label.

    Deterministic for a given ``seed``, whatever the order of ``samples``.
    """
    if shots < 1:
        raise ValueError(f"shots must be >= 1, got {shots}")
    picked: list[Sample] = []
    short: list[str] = []
    for label, group in _by_class(samples).items():
        if len(group) < shots:
            short.append(f"{group[0].classname} ({label}): {len(group)}")
            picked.extend(group)
        else:
            picked.extend(random.Random(f"{seed}:{label}").sample(group, shots))
    if short:
        more = f" and {len(short) - SHOWN} more" if len(short) > SHOWN else ""
        warnings.warn(
            f"{len(short)} class(es) have fewer than {shots} samples and keep all of them: "
            f"{'; '.join(short[:SHOWN])}{more}",
            stacklevel=2,
        )
    return picked


SUBSETS: dict[str, Callable[[int], range]] = {
    "all": lambda count: range(count),
    "base": lambda count: range(math.ceil(count / 2)),
    "new": lambda count: range(math.ceil(count / 2), count),
}


def split_classes(
    samples: Iterable[Sample], classnames: Sequence[str], subsample: str
) -> tuple[list[Sample], list[str]]:
    """The samples of the ``subsample`` classes ("all", "base" or "new"), relabelled 0.., and their names."""
    if subsample not in SUBSETS:
        raise ValueError(f"subsample must be one of {', '.join(SUBSETS)}, got {subsample!r}")
    kept = SUBSETS[subsample](len(classnames))
    relabel = {old: new for new, old in enumerate(kept)}
    selected = [replace(s, label=relabel[s.label]) for s in samples if s.label in relabel]
    return selected, [classnames[old] for old in kept]


def subsample_benchmark(benchmark: Benchmark, subsample: str) -> Benchmark:
    """``benchmark`` restricted to its ``subsample`` classes in every split (base-to-new protocol)."""
    splits = {
        name: split_classes(getattr(benchmark, name), benchmark.classnames, subsample)[0]
        for name in SPLITS
    }
    _, classnames = split_classes([], benchmark.classnames, subsample)
    return replace(benchmark, classnames=classnames, **splits)
