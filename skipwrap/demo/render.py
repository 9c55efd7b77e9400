"""Drawing batches of objects onto backgrounds, the whole batch at once with numpy.

A ``SceneStyle`` holds every knob that differs between the pre-training and the downstream
distribution (background, object scale and placement, colour cast, sensor noise), so the
domain shift of the demo is stated in one place and the drawing code has no special cases.
Objects are drawn at ``SUPERSAMPLE`` times the resolution and averaged down, which
anti-aliases edges, stripes and dots.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np

from .attributes import COLOURS, Combo
from .shapes import SHAPE_TESTS

IMAGE_SIZE = 32
SUPERSAMPLE = 2
CLUTTER_GRID = 5  # the background blobs are a CLUTTER_GRID^2 grid, bilinearly upsampled
ACCENT_DARKNESS = 0.3  # stripes and dots are the object's colour at this brightness

Range = tuple[float, float]


@dataclass(frozen=True)
class SceneStyle:
    """The parameters of one image distribution.

    The background is a grey level in ``background_level`` with a per-channel tint of at most
    ``background_tint`` and smooth colour blobs of an amplitude drawn from ``clutter``; the
    sensor noise std is drawn from ``noise_std`` per image. ``radius`` gives the object radius range in pixels per size word; ``centre_jitter`` is the
    largest offset of the object centre from the image centre, or ``None`` to place the
    object anywhere it fits. ``colour_cast`` is the largest per-channel gain change applied
    to the whole image, ``colour_jitter`` the same for the object's colour alone.
    """

    background_level: Range
    background_tint: float
    clutter: Range
    radius: dict[str, Range]
    centre_jitter: Optional[float]
    rotation_deg: float
    colour_jitter: float
    colour_cast: float
    noise_std: Range
    stripe_period: Range
    dot_spacing: Range


def _upsample(grid: np.ndarray, size: int) -> np.ndarray:
    """Bilinear upsampling of ``(N, g, g, C)`` to ``(N, size, size, C)`` (pixel centres aligned)."""
    g = grid.shape[1]
    pos = np.clip((np.arange(size) + 0.5) * g / size - 0.5, 0, g - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, g - 1)
    w = (pos - lo)[None, :, None, None]
    rows = grid[:, lo] * (1 - w) + grid[:, hi] * w
    w = w.reshape(1, 1, size, 1)
    return rows[:, :, lo] * (1 - w) + rows[:, :, hi] * w


def _background(n: int, style: SceneStyle, rng: np.random.Generator) -> np.ndarray:
    """A grey level, a tint and smooth colour blobs (clutter): ``(N, 32, 32, 3)`` in [0, 1]-ish."""
    level = rng.uniform(*style.background_level, size=(n, 1, 1, 1))
    tint = rng.uniform(-style.background_tint, style.background_tint, size=(n, 1, 1, 3))
    amplitude = rng.uniform(*style.clutter, size=(n, 1, 1, 1))
    blobs = amplitude * rng.uniform(-1, 1, size=(n, CLUTTER_GRID, CLUTTER_GRID, 3))
    return _upsample(level + tint + blobs, IMAGE_SIZE)


def _stripes(x: np.ndarray, y: np.ndarray, style: SceneStyle, rng: np.random.Generator) -> np.ndarray:
    n = x.shape[0]
    angle = rng.uniform(0, np.pi, size=(n, 1, 1))
    period = rng.uniform(*style.stripe_period, size=(n, 1, 1))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 1, 1))
    return np.sin(2 * np.pi * (x * np.cos(angle) + y * np.sin(angle)) / period + phase) > 0.2


def _dots(x: np.ndarray, y: np.ndarray, style: SceneStyle, rng: np.random.Generator) -> np.ndarray:
    n = x.shape[0]
    spacing = rng.uniform(*style.dot_spacing, size=(n, 1, 1))
    offset = rng.uniform(0, 1, size=(n, 2, 1, 1)) * spacing[:, None]
    du = np.mod(x + offset[:, 0], spacing) - spacing / 2
    dv = np.mod(y + offset[:, 1], spacing) - spacing / 2
    return du * du + dv * dv <= (0.3 * spacing) ** 2


def _solid(x: np.ndarray, y: np.ndarray, style: SceneStyle, rng: np.random.Generator) -> np.ndarray:
    return np.zeros(x.shape, dtype=bool)


# Where a pattern darkens the object, in image pixel coordinates.
ACCENTS: dict[str, Callable[[np.ndarray, np.ndarray, SceneStyle, np.random.Generator], np.ndarray]] = {
    "solid": _solid,
    "striped": _stripes,
    "dotted": _dots,
}


def _centres(radius: np.ndarray, style: SceneStyle, rng: np.random.Generator) -> np.ndarray:
    """``(N, 2)`` object centres in pixels: jittered around the middle, or anywhere it fits."""
    if style.centre_jitter is None:
        low, high = radius + 1, IMAGE_SIZE - radius - 1
        return rng.uniform(low[:, None], high[:, None], size=(radius.size, 2))
    return IMAGE_SIZE / 2 + rng.uniform(-style.centre_jitter, style.centre_jitter, size=(radius.size, 2))


def _grouped(values: Sequence[str]) -> dict[str, np.ndarray]:
    """Indices of each distinct value, so that per-attribute work runs once per value."""
    array = np.asarray(values)
    return {value: np.flatnonzero(array == value) for value in dict.fromkeys(values)}


def render(combos: Sequence[Combo], style: SceneStyle, rng: np.random.Generator) -> np.ndarray:
    """Draw one object per combination: ``(N, 32, 32, 3)`` uint8 RGB."""
    n = len(combos)
    radius = np.empty(n)
    for size, idx in _grouped([c.size for c in combos]).items():
        radius[idx] = rng.uniform(*style.radius[size], size=idx.size)
    centre = _centres(radius, style, rng)
    rotation = np.deg2rad(rng.uniform(-style.rotation_deg, style.rotation_deg, size=n))

    fine = IMAGE_SIZE * SUPERSAMPLE
    coords = (np.arange(fine) + 0.5) / SUPERSAMPLE
    x = np.broadcast_to(coords[None, None, :], (n, fine, fine))
    y = np.broadcast_to(coords[None, :, None], (n, fine, fine))
    dx, dy = x - centre[:, 0, None, None], y - centre[:, 1, None, None]
    cos, sin = np.cos(rotation)[:, None, None], np.sin(rotation)[:, None, None]
    u = (dx * cos + dy * sin) / radius[:, None, None]
    v = (-dx * sin + dy * cos) / radius[:, None, None]

    inside = np.zeros((n, fine, fine), dtype=bool)
    for shape, idx in _grouped([c.shape for c in combos]).items():
        inside[idx] = SHAPE_TESTS[shape](u[idx], v[idx])
    accent = np.zeros((n, fine, fine), dtype=bool)
    for pattern, idx in _grouped([c.pattern for c in combos]).items():
        accent[idx] = ACCENTS[pattern](x[idx], y[idx], style, rng)

    palette = np.array([COLOURS[c.colour] for c in combos], dtype=float) / 255
    colour = palette * rng.uniform(1 - style.colour_jitter, 1 + style.colour_jitter, size=(n, 3))
    shade = np.where(accent, ACCENT_DARKNESS, 1.0)[..., None] * colour[:, None, None, :]
    background = np.repeat(np.repeat(_background(n, style, rng), SUPERSAMPLE, 1), SUPERSAMPLE, 2)
    image = np.where(inside[..., None], shade, background)
    image = image.reshape(n, IMAGE_SIZE, SUPERSAMPLE, IMAGE_SIZE, SUPERSAMPLE, 3).mean(axis=(2, 4))

    image = image * rng.uniform(1 - style.colour_cast, 1 + style.colour_cast, size=(n, 1, 1, 3))
    image = image + rng.uniform(*style.noise_std, size=(n, 1, 1, 1)) * rng.normal(size=image.shape)
    return np.clip(np.round(image * 255), 0, 255).astype(np.uint8)
