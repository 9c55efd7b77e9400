"""LSkip: split a tower at block ``k`` into a frozen, cacheable prefix and a trainable suffix.

The prefix (stem + blocks ``0..k-1``) runs without gradients with its modules in eval mode,
and its parameters are frozen (``requires_grad=False``), so an optimiser built afterwards
never sees them. The suffix (blocks ``k..`` + pooling, norm and projection) is the only part
that trains. Exactness: ``suffix(prefix(x)) == tower(x)`` for every ``k`` in the valid range.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional

import torch
from torch import nn

from .towers.base import Tower


def resolve_skip(skip: Optional[int], depth: int, name: str) -> int:
    """``skip`` validated against a tower of ``depth`` blocks; ``None`` means half the depth."""
    if skip is None:
        return depth // 2
    if isinstance(skip, bool) or not isinstance(skip, int):
        raise ValueError(f"skip_layers for the {name} tower must be an int in [0, {depth}], got {skip!r}")
    if not 0 <= skip <= depth:
        raise ValueError(f"skip_layers for the {name} tower must be in [0, {depth}] "
                         f"(it has {depth} blocks), got {skip}")
    return skip


@contextlib.contextmanager
def eval_mode(modules: list[nn.Module]) -> Iterator[None]:
    """Put ``modules`` in eval mode for the block, then restore each one's own mode."""
    saved = [(m, m.training) for m in modules]
    for m, _ in saved:
        m.eval()
    try:
        yield
    finally:
        for m, mode in saved:
            m.train(mode)


class SkippedTower:
    """A tower split at block ``skip``; see the module docstring.

    ``cache_dtype`` stores prefix states in a lower precision (bf16/fp16) to halve cache
    memory; the suffix casts them back to the tower's compute dtype. That changes numbers
    (rounding of the cached states), so it is off unless asked for.
    """

    def __init__(self, tower: Tower, skip: Optional[int], cache_dtype: Optional[torch.dtype] = None):
        self.tower = tower
        self.requested = skip
        self.cache_dtype = cache_dtype
        self.skip: Optional[int] = None
        self._frozen: list[nn.Parameter] = []
        if not getattr(tower, "is_bound", True):
            return  # generic towers learn their depth from the first input (see bind)
        self._finish(resolve_skip(skip, tower.depth, tower.modality))

    @property
    def ready(self) -> bool:
        return self.skip is not None

    def bind(self, inputs: torch.Tensor, **extra: Any) -> None:
        """Bind a generic tower on an example input, then freeze its prefix."""
        if self.ready:
            return
        k_hint = self.requested if isinstance(self.requested, int) else 0
        self.tower.bind(inputs, max(0, k_hint), **extra)
        depth = self.tower.depth
        k = resolve_skip(self.requested, depth, self.tower.modality)
        if k != k_hint:
            self.tower.bind(inputs, k, **extra)
        self._finish(k)

    def _finish(self, k: int) -> None:
        self.skip = k
        self._frozen = []
        seen: set[int] = set()
        for p in self.tower.prefix_parameters(k):
            if id(p) not in seen:
                seen.add(id(p))
                if p.requires_grad:
                    self._frozen.append(p)
                p.requires_grad_(False)

    def unfreeze(self) -> None:
        """Give back ``requires_grad`` to every parameter this split froze."""
        for p in self._frozen:
            p.requires_grad_(True)
        self._frozen = []

    @property
    def frozen_parameters(self) -> list[nn.Parameter]:
        return list(self._frozen)

    @torch.no_grad()
    def prefix(self, inputs: torch.Tensor, **extra: Any) -> torch.Tensor:
        """Hidden states entering block ``skip``: frozen, gradient-free, cacheable."""
        if not self.ready:
            self.bind(inputs, **extra)
        with eval_mode(self.tower.prefix_modules(self.skip)):
            hidden = self.tower.run_prefix(inputs, self.skip, **extra)
        return hidden.to(self.cache_dtype) if self.cache_dtype is not None else hidden

    def suffix(self, hidden: torch.Tensor, inputs: Optional[torch.Tensor] = None, *,
               shorten: bool = True, **extra: Any) -> torch.Tensor:
        """The tower's embedding from cached prefix states (gradients flow into the suffix)."""
        if not self.ready:
            raise RuntimeError(f"the {self.tower.modality} tower has not seen an input yet: call the "
                               "prefix once (or pass example_inputs to skip_wrap) before the suffix")
        hidden = hidden.to(self.tower.dtype)
        return self.tower.run_suffix(hidden, self.skip, inputs, shorten=shorten, **extra)
