"""The attribute vocabulary of the demo world: what an object can be, and how it is named.

An object is a combination of four attributes (size, colour, pattern, shape). Keeping the
values and their words in one place lets the renderer, the captioner, the class list and
the tokenizer agree without importing each other.
"""
from __future__ import annotations

from typing import NamedTuple

SIZES: tuple[str, ...] = ("large", "small")
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 225),
    "yellow": (235, 215, 40),
    "purple": (140, 60, 190),
    "orange": (245, 140, 30),
    "cyan": (40, 200, 215),
    "pink": (245, 130, 195),
}
PATTERNS: tuple[str, ...] = ("solid", "striped", "dotted")
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "star", "cross", "ring", "diamond", "heart")

# How a caption may say a pattern after the noun ("a red star with stripes").
PATTERN_PHRASES: dict[str, str] = {"solid": "with no pattern", "striped": "with stripes", "dotted": "with dots"}


class Combo(NamedTuple):
    """One combination of attribute values: a downstream class, or the content of an image."""

    size: str
    colour: str
    pattern: str
    shape: str

    @property
    def name(self) -> str:
        """The class name, in the fixed word order "size colour pattern shape"."""
        return f"{self.size} {self.colour} {self.pattern} {self.shape}"


def all_combos() -> list[Combo]:
    """Every combination of attribute values, in a fixed order."""
    return [Combo(size, colour, pattern, shape)
            for size in SIZES for colour in COLOURS for pattern in PATTERNS for shape in SHAPES]

