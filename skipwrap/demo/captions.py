"""Captions for pre-training: varied sentence templates around varied attribute phrases.

Each caption names all four attributes of its image, but in one of several word orders and
inside one of several sentences, so the text tower must compose attribute words rather than
memorise one string per class. The downstream prompt template ("a photo of a {}.") with
the class-name word order is one of the possibilities, as web captions would contain it.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .attributes import PATTERN_PHRASES, Combo

TEMPLATES: tuple[str, ...] = (
    "a photo of a {}.",
    "a {} on a plain background.",
    "an image showing a {}.",
    "a picture of a {}.",
    "a drawing of a {}.",
    "there is a {} in the image.",
    "this is a {}.",
    "a {}.",
    "a close up photo of a {}.",
    "a rendering of a {}.",
)

PHRASES: dict[str, Callable[[Combo], str]] = {
    "class name": lambda c: c.name,
    "pattern first": lambda c: f"{c.size} {c.pattern} {c.colour} {c.shape}",
    "pattern phrase": lambda c: f"{c.size} {c.colour} {c.shape} {PATTERN_PHRASES[c.pattern]}",
    "size last": lambda c: f"{c.colour} {c.pattern} {c.shape} that is {c.size}",
    "colour phrase": lambda c: f"{c.size} {c.pattern} {c.shape} in {c.colour}",
}


def caption(combo: Combo, rng: np.random.Generator) -> str:
    """One caption of ``combo``: a random template around a random attribute phrase."""
    template = TEMPLATES[rng.integers(len(TEMPLATES))]
    phrase = list(PHRASES.values())[rng.integers(len(PHRASES))]
    return template.format(phrase(combo))


def every_caption(combo: Combo) -> list[str]:
    """All captions ``caption`` can give ``combo``: what a vocabulary must cover."""
    return [template.format(phrase(combo)) for template in TEMPLATES for phrase in PHRASES.values()]
