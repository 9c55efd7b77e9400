"""The one interface through which skipwrap sees an encoder tower.

A tower is split at block ``k``: the *stem* (everything before the first block) and blocks
``0..k-1`` form the frozen prefix, blocks ``k..`` plus pooling, final norm and projection
form the trainable suffix. Explicit adapters describe a tower by four pieces (``embed``,
``blocks``, ``run_block``, ``pool``) and inherit :meth:`Tower.run_prefix` /
:meth:`Tower.run_suffix`; the generic hook-based fallback overrides those two directly.

Towers know nothing of caching, freezing or loss heads: that is :mod:`skipwrap.lskip` and
:mod:`skipwrap.cskip`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional, Sequence

import torch
from torch import nn

Context = Any
"""What the blocks and the pooling need besides the hidden states (masks, token ids)."""


class Tower:
    """One encoder tower (image or text) seen as stem -> blocks -> pool.

    Subclasses set ``modality`` and ``root`` (the module whose train/eval mode governs the
    tower) and implement the abstract pieces below. ``inputs`` is the pixel tensor for an
    image tower and the token-id tensor for a text tower; ``extra`` carries optional
    model-specific inputs such as a Hugging Face ``attention_mask``.
    """

    modality: str = ""
    root: nn.Module

    # -- the four pieces an explicit adapter provides ------------------------------------
    @property
    def blocks(self) -> Sequence[nn.Module]:
        raise NotImplementedError

    def embed(self, inputs: torch.Tensor, **extra: Any) -> tuple[torch.Tensor, Context]:
        """The stem: everything before block 0. Returns batch-first hidden states and ctx."""
        raise NotImplementedError

    def context(self, inputs: Optional[torch.Tensor], **extra: Any) -> Context:
        """Rebuild ctx for the suffix without running the stem (image towers: usually None)."""
        raise NotImplementedError

    def run_block(self, block: nn.Module, hidden: torch.Tensor, ctx: Context) -> torch.Tensor:
        raise NotImplementedError

    def pool(self, hidden: torch.Tensor, ctx: Context) -> torch.Tensor:
        """Final norm, pooling and projection: the tower's embedding."""
        raise NotImplementedError

    def stem_modules(self) -> list[nn.Module]:
        """Modules holding stem parameters (frozen with the prefix)."""
        raise NotImplementedError

    def stem_parameters(self) -> list[nn.Parameter]:
        """Parameters of the stem that are not inside a module of :meth:`stem_modules`
        (bare ``nn.Parameter`` attributes such as class or positional embeddings)."""
        return []

    # -- optional: exact sequence shortening for causal text towers ----------------------
    def shorten(self, hidden: torch.Tensor, ctx: Context) -> tuple[torch.Tensor, Context]:
        """Drop trailing positions that cannot influence the pooled output.

        Only towers whose result provably ignores them (causal attention with EOT pooling)
        override this; the default keeps everything.
        """
        return hidden, ctx

    # -- derived ---------------------------------------------------------------------------
    @property
    def depth(self) -> int:
        return len(self.blocks)

    @property
    def dtype(self) -> torch.dtype:
        """The dtype blocks compute in (that of the first floating-point block parameter)."""
        for block in self.blocks:
            for p in block.parameters():
                if p.is_floating_point():
                    return p.dtype
        return torch.get_default_dtype()

    def prefix_modules(self, k: int) -> list[nn.Module]:
        """Modules the prefix runs (put in eval mode while it does)."""
        return list(self.stem_modules()) + list(self.blocks)[:k]

    def prefix_parameters(self, k: int) -> Iterator[nn.Parameter]:
        """Every parameter that influences the input of block ``k``."""
        for module in self.stem_modules():
            yield from module.parameters()
        yield from self.stem_parameters()
        for block in list(self.blocks)[:k]:
            yield from block.parameters()

    def run_prefix(self, inputs: torch.Tensor, k: int, **extra: Any) -> torch.Tensor:
        """Hidden states entering block ``k`` (batch first)."""
        hidden, ctx = self.embed(inputs, **extra)
        for block in list(self.blocks)[:k]:
            hidden = self.run_block(block, hidden, ctx)
        return hidden

    def run_suffix(
        self,
        hidden: torch.Tensor,
        k: int,
        inputs: Optional[torch.Tensor] = None,
        *,
        shorten: bool = True,
        **extra: Any,
    ) -> torch.Tensor:
        """Embedding from the hidden states entering block ``k``."""
        ctx = self.context(inputs, **extra)
        if shorten:
            hidden, ctx = self.shorten(hidden, ctx)
        for block in list(self.blocks)[k:]:
            hidden = self.run_block(block, hidden, ctx)
        return self.pool(hidden, ctx)


@dataclass
class DualEncoder:
    """What an adapter finds in a model: its two towers and its similarity parameters.

    ``encode_image`` / ``encode_text`` are the model's own encoders (features before any
    normalisation): the ground truth every adapter is tested against.
    """

    image: Tower
    text: Tower
    logit_scale: Optional[nn.Parameter]
    logit_bias: Optional[nn.Parameter]
    encode_image: Callable[..., torch.Tensor]
    encode_text: Callable[..., torch.Tensor]
    family: str
