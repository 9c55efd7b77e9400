"""Images of a sample list as a torch ``Dataset`` that survives broken files.

One unreadable image (truncated download, wrong format, missing file) should cost that
image, not the run: it is logged once with its path and the reason, recorded in
``dataset.failures``, and returned as ``None``; ``collate_skip_broken`` drops the ``None``
entries of a batch. With ``num_workers > 0`` each worker process holds its own copy of the
dataset, so ``failures`` and the one-time warning are per worker there; the main process's
``failures`` is filled only for items it loads itself.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Optional

import torch
from PIL import Image
from torch.utils.data import Dataset, default_collate

from .records import Sample

logger = logging.getLogger(__name__)

Item = tuple[torch.Tensor, int, int]
READ_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def _read_rgb(path: str) -> Image.Image:
    """The image at ``path``, fully decoded (so truncation shows here) and in RGB."""
    with Image.open(path) as image:
        return image.convert("RGB")


class ImageDataset(Dataset):
    """``(transform(rgb_image), label, index)`` per sample, or ``None`` for a broken image."""

    def __init__(self, samples: Sequence[Sample], transform: Callable[[Image.Image], torch.Tensor]):
        self.samples = list(samples)
        self.transform = transform
        self.failures: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Optional[Item]:
        sample = self.samples[index]
        if sample.path in self.failures:
            return None
        try:
            image = _read_rgb(sample.path)
        except READ_ERRORS as error:
            reason = f"{type(error).__name__}: {error}"
            self.failures[sample.path] = reason
            logger.warning("skipping unreadable image %s (%s)", sample.path, reason)
            return None
        return self.transform(image), sample.label, index


def collate_skip_broken(batch: Sequence[Optional[Any]]) -> Optional[Any]:
    """``default_collate`` of the readable items of ``batch``; ``None`` if none is readable."""
    kept = [item for item in batch if item is not None]
    return default_collate(kept) if kept else None
