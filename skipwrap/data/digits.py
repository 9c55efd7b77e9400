"""Real images offline: scikit-learn's ``load_digits`` written out as a PNG image folder.

The 1797 8x8 hand-written digits ship inside scikit-learn, so tests and examples can train
and evaluate on real images without a download. scikit-learn is not a dependency of
skipwrap; this is the only place that needs it.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import numpy as np
from PIL import Image

PathLike = Union[str, os.PathLike]
DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
MAX_PIXEL = 16  # load_digits pixel values lie in 0..16


def digits_folder(root: PathLike, per_class: Optional[int] = None) -> Path:
    """Write ``root/<digit name>/<index>.png`` (8x8 grey) and return ``root``; read it with ``image_folder``.

    ``per_class`` keeps the first N images of each digit (all ~180 by default). Class folders
    are English digit names so prompts read naturally. ``root`` must be absent or empty.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError("digits_folder needs scikit-learn: pip install scikit-learn") from error
    if per_class is not None and per_class < 1:
        raise ValueError(f"per_class must be >= 1, got {per_class}")
    root = Path(root)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty; digits_folder writes into an empty or new folder")
    digits = load_digits()
    pixels = (digits.images * (255 / MAX_PIXEL)).round().astype(np.uint8)
    written = dict.fromkeys(range(len(DIGIT_NAMES)), 0)
    for index, (image, target) in enumerate(zip(pixels, digits.target.tolist())):
        if per_class is not None and written[target] >= per_class:
            continue
        folder = root / DIGIT_NAMES[target]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{index:04d}.png")
        written[target] += 1
    return root
