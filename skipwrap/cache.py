"""Cached prefix features: storage in RAM or on disk, and batching from the cache.

A :class:`FeatureStore` holds one row of prefix hidden states per training image (or per
image and augmented view). Small caches live in RAM; large ones go to a memory-mapped file
in a chosen precision, so the process keeps only the pages it is reading: ImageNet 16-shot
on ViT-B/16 (16k x 197 x 768 values) is 4.8 GB on disk in fp16 and needs no such RAM.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch

# numpy has no bfloat16: it is stored as its raw 16 bits and viewed back in torch
_NUMPY_STORAGE = {torch.float32: np.float32, torch.float16: np.float16, torch.bfloat16: np.uint16}
MODES = ("auto", "ram", "disk")


class FeatureStore:
    """A fixed-size table of feature rows, in RAM or memory-mapped on disk.

    ``mode="auto"`` picks RAM when the table fits in ``ram_budget_gib``, else disk (which
    then needs ``path``).
    """

    def __init__(self, rows: int, row_shape: Sequence[int], dtype: torch.dtype = torch.float32,
                 mode: str = "auto", ram_budget_gib: float = 2.0, path: Optional[Union[str, Path]] = None):
        if mode not in MODES:
            raise ValueError(f"cache mode must be one of {', '.join(MODES)}, got {mode!r}")
        if dtype not in _NUMPY_STORAGE:
            raise ValueError(f"cache dtype must be one of float32, float16, bfloat16, got {dtype}")
        if rows < 0:
            raise ValueError(f"rows must be >= 0, got {rows}")
        self.rows, self.row_shape, self.dtype = rows, tuple(row_shape), dtype
        self.nbytes = rows * math.prod(self.row_shape) * torch.empty(0, dtype=dtype).element_size()
        if mode == "auto":
            mode = "ram" if self.nbytes <= ram_budget_gib * 1024 ** 3 else "disk"
        self.mode = mode
        if mode == "ram":
            self._table = torch.empty((rows, *self.row_shape), dtype=dtype)
            self._memmap = None
            self.path = None
        else:
            if path is None:
                raise ValueError(f"a {self.nbytes / 1024 ** 3:.1f} GiB cache does not fit the RAM budget "
                                 f"({ram_budget_gib} GiB): give a path for the disk cache")
            self.path = Path(path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._memmap = np.lib.format.open_memmap(self.path, mode="w+", dtype=_NUMPY_STORAGE[dtype],
                                                     shape=(rows, *self.row_shape))
            self._table = None

    def __len__(self) -> int:
        return self.rows

    def write(self, index: torch.Tensor, values: torch.Tensor) -> None:
        """Store ``values`` (rows) at positions ``index``."""
        values = values.detach().to("cpu", self.dtype)
        if self._table is not None:
            self._table[index] = values
            return
        raw = values.view(torch.uint16) if self.dtype == torch.bfloat16 else values
        self._memmap[index.numpy()] = raw.numpy()

    def read(self, index: torch.Tensor) -> torch.Tensor:
        """A copy of the rows at ``index``."""
        if self._table is not None:
            return self._table[index]
        rows = torch.from_numpy(np.ascontiguousarray(self._memmap[np.sort(index.numpy())]))
        order = torch.argsort(torch.argsort(index))  # undo the sort (sorted reads are sequential)
        rows = rows[order]
        return rows.view(torch.bfloat16) if self.dtype == torch.bfloat16 else rows

    def flush(self) -> None:
        if self._memmap is not None:
            self._memmap.flush()

    def close(self) -> None:
        """Drop the table (and delete the disk file)."""
        self._table = None
        if self._memmap is not None:
            del self._memmap
            self._memmap = None
            if self.path is not None and self.path.exists():
                os.unlink(self.path)


BATCHING = ("class", "random")


def batch_indices(labels: torch.Tensor, batch_size: int, mode: str, generator: torch.Generator) -> list[torch.Tensor]:
    """One epoch of batches of row indices.

    ``class``: each batch holds rows of a single class (the reference's choice with >= 4 shots):
    rows are shuffled within each class, cut into batches, and the batches shuffled.
    ``random``: a random permutation cut into batches.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if mode not in BATCHING:
        raise ValueError(f"batching must be one of {', '.join(BATCHING)}, got {mode!r}")
    if mode == "random":
        return list(torch.randperm(len(labels), generator=generator).split(batch_size))
    batches: list[torch.Tensor] = []
    for cls in torch.unique(labels).tolist():
        rows = (labels == cls).nonzero().squeeze(1)
        batches += list(rows[torch.randperm(len(rows), generator=generator)].split(batch_size))
    order = torch.randperm(len(batches), generator=generator)
    return [batches[i] for i in order.tolist()]
