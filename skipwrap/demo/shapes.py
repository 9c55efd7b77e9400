"""Shape silhouettes as inside-tests on object-centred coordinates.

Each test takes ``u, v`` arrays (any shape, the object's frame: centre at 0, radius 1, ``v``
pointing down as image rows do) and returns where the shape covers them. Writing shapes as
vectorised tests lets the renderer draw a whole batch with a few numpy operations.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

ShapeTest = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _regular_polygon(u: np.ndarray, v: np.ndarray, sides: int, apothem: float) -> np.ndarray:
    """Inside a regular polygon with a vertex pointing up and the given centre-to-edge distance."""
    inside = np.ones(np.broadcast(u, v).shape, dtype=bool)
    for k in range(sides):
        normal = np.pi / 2 + 2 * np.pi * k / sides  # outward normal of edge k; edge 0 is the bottom
        inside &= u * np.cos(normal) + v * np.sin(normal) <= apothem
    return inside


def circle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return u * u + v * v <= 0.9 ** 2


def square(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.maximum(np.abs(u), np.abs(v)) <= 0.78


def triangle(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    # Apothem 0.6 puts the tip at -1.2; shifted down 0.2 so the tip stays in the unit disc.
    return _regular_polygon(u, v - 0.2, 3, 0.6)


def star(u: np.ndarray, v: np.ndarray, points: int = 5, inner: float = 0.45) -> np.ndarray:
    """A star: folded into one half-spike by symmetry, then tested against its outer edge."""
    radius = np.hypot(u, v)
    spike = 2 * np.pi / points
    angle = np.mod(np.arctan2(v, u) + np.pi / 2, spike)  # 0 at a tip (tips point up first)
    angle = np.minimum(angle, spike - angle)
    x, y = radius * np.cos(angle), radius * np.sin(angle)
    tip_x, tip_y = 1.0, 0.0
    notch_x, notch_y = inner * np.cos(spike / 2), inner * np.sin(spike / 2)
    # Same side of the tip-notch edge as the centre: the cross products share a sign.
    edge = (notch_x - tip_x) * (y - tip_y) - (notch_y - tip_y) * (x - tip_x)
    centre = (notch_x - tip_x) * (0 - tip_y) - (notch_y - tip_y) * (0 - tip_x)
    return edge * centre >= 0


def cross(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    au, av = np.abs(u), np.abs(v)
    return ((au <= 0.3) & (av <= 0.92)) | ((av <= 0.3) & (au <= 0.92))


def ring(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    r2 = u * u + v * v
    return (r2 <= 0.92 ** 2) & (r2 >= 0.5 ** 2)


def diamond(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.abs(u) / 0.8 + np.abs(v) <= 1.0


def heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The classic quartic heart ``(x^2 + y^2 - 1)^3 <= x^2 y^3``, scaled into the unit disc."""
    x, y = u * 1.2, -v * 1.2 + 0.15
    return (x * x + y * y - 1) ** 3 - x * x * y ** 3 <= 0


SHAPE_TESTS: dict[str, ShapeTest] = {
    "circle": circle,
    "square": square,
    "triangle": triangle,
    "star": star,
    "cross": cross,
    "ring": ring,
    "diamond": diamond,
    "heart": heart,
}
