"""The demo world: seeded image–caption pairs for pre-training, labelled images downstream.

Downstream classes are 48 attribute combinations named "size colour pattern shape"
("large red striped star"). ``CLASSNAMES`` is sorted, which is the order
``skipwrap.data.image_folder`` gives the folders that ``write_image_folder`` writes, so
class ids agree in memory and on disk. The base-to-new rule takes the first half of the
class ids as base: here every "large" class is base and every "small" class is new, and
each half holds every colour, pattern and shape, in colour–shape pairings the other half
never uses. New classes are therefore new compositions of known words.

Pre-training sees every attribute value, but not every combination: the combinations of
every fourth downstream class (``HELD_OUT``) never appear in it, so zero-shot accuracy on
them measures composition rather than memory.

The two distributions differ as web photos and a target domain would (``STYLES``):
pre-training draws larger, roughly centred objects on nearly plain backgrounds of any
brightness; downstream draws objects anywhere on cluttered, tinted backgrounds, with a
stronger colour cast and more sensor noise, and with "large" objects scarcely larger than
"small" ones. Every function is deterministic in its seed; the distributions draw from
separate random streams, so equal seeds never give related images across them.
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
import zlib
from pathlib import Path
from typing import Mapping, Optional, Sequence, Union

import numpy as np
from PIL import Image

from .attributes import COLOURS, PATTERNS, SHAPES, SIZES, Combo, all_combos
from .captions import caption, every_caption
from .render import SceneStyle, render

PathLike = Union[str, os.PathLike]


def _downstream_combos() -> list[Combo]:
    """Per size, each colour with each pattern, on a shape that cycles with a per-size offset.

    Shape index ``(colour + 3 * pattern + size) % 8`` gives each half 24 classes that use
    every shape three times and pair colours with shapes differently from the other half.
    """
    colours, shapes = list(COLOURS), SHAPES
    return sorted(
        (Combo(size, colour, pattern, shapes[(c + 3 * p + s) % len(shapes)])
         for s, size in enumerate(SIZES) for c, colour in enumerate(colours) for p, pattern in enumerate(PATTERNS)),
        key=lambda combo: combo.name,
    )


DOWNSTREAM: list[Combo] = _downstream_combos()
CLASSNAMES: list[str] = [combo.name for combo in DOWNSTREAM]
NUM_BASE: int = math.ceil(len(CLASSNAMES) / 2)
HELD_OUT: frozenset[Combo] = frozenset(DOWNSTREAM[3::4])
PRETRAIN_COMBOS: list[Combo] = [combo for combo in all_combos() if combo not in HELD_OUT]

STYLES: dict[str, SceneStyle] = {
    "pretrain": SceneStyle(
        background_level=(0.15, 0.95), background_tint=0.06, clutter=(0.0, 0.12),
        radius={"large": (10.0, 13.5), "small": (6.0, 8.5)}, centre_jitter=5.0,
        rotation_deg=15.0, colour_jitter=0.05, colour_cast=0.03, noise_std=(0.0, 0.03),
        stripe_period=(3.5, 5.0), dot_spacing=(4.0, 5.5),
    ),
    "downstream": SceneStyle(
        background_level=(0.2, 0.8), background_tint=0.12, clutter=(0.12, 0.22),
        radius={"large": (7.5, 10.5), "small": (6.5, 8.5)}, centre_jitter=None,
        rotation_deg=20.0, colour_jitter=0.1, colour_cast=0.15, noise_std=(0.03, 0.06),
        stripe_period=(3.0, 4.5), dot_spacing=(3.5, 5.0),
    ),
}


Seed = Union[int, Sequence[int]]


def _rng(seed: Seed, stream: str) -> np.random.Generator:
    """A generator for one named stream of a seed (an int, or ints such as ``(seed, step)``).

    Streams of the same seed are independent.
    """
    return np.random.default_rng([*np.atleast_1d(seed).tolist(), zlib.crc32(stream.encode())])


def sample_pretrain(n: int, seed: Seed) -> tuple[np.ndarray, list[str]]:
    """``n`` pre-training images ``(n, 32, 32, 3)`` uint8 and one caption each.

    Combinations are drawn without replacement in rounds over ``PRETRAIN_COMBOS``, so a batch
    of up to 372 pairs has no two images of the same combination: a contrastive loss then has
    no false negatives.
    """
    rng = _rng(seed, "pretrain")
    rounds = -(-n // len(PRETRAIN_COMBOS))
    order = np.concatenate([rng.permutation(len(PRETRAIN_COMBOS)) for _ in range(rounds)])[:n]
    combos = [PRETRAIN_COMBOS[i] for i in order]
    return render(combos, STYLES["pretrain"], rng), [caption(c, rng) for c in combos]


def _draw_downstream(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return render([DOWNSTREAM[i] for i in labels], STYLES["downstream"], rng)


def sample_downstream(labels: Sequence[int], seed: Seed) -> tuple[np.ndarray, np.ndarray]:
    """One downstream image per entry of ``labels`` (class ids into ``CLASSNAMES``): images, labels."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASSNAMES)):
        raise ValueError(f"class ids must lie in [0, {len(CLASSNAMES)}), got {labels.min()}..{labels.max()}")
    return _draw_downstream(labels, _rng(seed, "downstream")), labels


def balanced_labels(per_class: int, classes: Optional[Sequence[int]] = None) -> np.ndarray:
    """``per_class`` copies of each class id (all classes by default), grouped by class."""
    classes = range(len(CLASSNAMES)) if classes is None else classes
    return np.repeat(np.asarray(classes, dtype=np.int64), per_class)


def all_captions() -> list[str]:
    """Every caption the world can write, over every combination: the text a vocabulary needs."""
    return [text for combo in all_combos() for text in every_caption(combo)]


def write_image_folder(root: PathLike, split_counts: Mapping[str, int], seed: int) -> Path:
    """Write ``root/<split>/<class name>/NNNN.png`` with ``split_counts[split]`` images per class.

    Each split draws from its own stream of ``seed``, so train and test never share images.
    The folder appears complete or not at all (written aside, then renamed); an existing
    ``root`` is refused rather than mixed with.
    """
    root = Path(root)
    if root.exists():
        raise FileExistsError(f"{root} exists; write_image_folder makes a fresh folder")
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a data folder is meant to be shared
    try:
        for split, per_class in split_counts.items():
            labels = balanced_labels(per_class)
            images = _draw_downstream(labels, _rng(seed, f"downstream/{split}"))
            for name in CLASSNAMES:
                (staging / split / name).mkdir(parents=True)
            for index, (image, label) in enumerate(zip(images, labels)):
                Image.fromarray(image).save(staging / split / CLASSNAMES[label] / f"{index:05d}.png")
        staging.rename(root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return root
