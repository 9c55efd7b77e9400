"""Learned context vectors in a text prompt, injected through skipwrap's tower interface.

A prompt ``"X X ... X {classname}."`` is tokenized as text; the stem of the text tower
(:meth:`~skipwrap.towers.base.Tower.embed`) embeds it; the token embedding enters every
supported stem additively (token + position), so adding ``context - token_embedding(X)`` at
the placeholder positions gives exactly the stem output of a prompt whose placeholders *are*
the context vectors. Every block then runs, and :meth:`~skipwrap.towers.base.Tower.pool`
pools: no layer is skipped, gradients reach the context through the whole frozen tower.
The only shortening is the tower's own exact one (:meth:`~skipwrap.towers.base.Tower.shorten`:
padding after the last end-of-text token of a causal tower), which Skip Tuning gets too.
"""
from __future__ import annotations

from dataclasses import dataclass
from operator import attrgetter
from typing import Callable, Sequence

import torch
from torch import nn

from ..towers.base import Tower

# Where a text tower keeps its token embedding: open_clip's towers expose it directly,
# transformers' CLIP / SigLIP text models under ``embeddings``.
TOKEN_EMBEDDING_PATHS = ("token_embedding", "root.embeddings.token_embedding")
PLACEHOLDER = "X"


def token_embedding(tower: Tower) -> nn.Embedding:
    """The token-embedding module of a text tower, or ``ValueError`` naming where it looked."""
    for path in TOKEN_EMBEDDING_PATHS:
        try:
            found = attrgetter(path)(tower)
        except AttributeError:
            continue
        if isinstance(found, nn.Embedding):
            return found
    raise ValueError(f"cannot find the token embedding of text tower {type(tower).__name__} "
                     f"(root {type(tower.root).__name__}); looked at {', '.join(TOKEN_EMBEDDING_PATHS)}")


def context_start(with_n: torch.Tensor, with_fewer: torch.Tensor, n_ctx: int) -> int:
    """Where the placeholders start in the token ids ``with_n`` of ``"X ... X ."`` (no class
    name, so nothing else can look like a placeholder); ``with_fewer`` has one placeholder less,
    so the first position where the two differ is the last placeholder. ``ValueError`` where
    the placeholders do not fit the context length or the word is not one token of its own."""
    differs = (with_n != with_fewer).nonzero().flatten()
    start = int(differs[0]) + 1 - n_ctx if len(differs) else -1
    if start < 0:
        raise ValueError(f"{n_ctx} context tokens do not fit the text context of {len(with_n)} tokens; "
                         "use fewer context tokens (n_ctx)")
    if not bool((with_n[start:start + n_ctx] == with_n[start]).all()):
        raise ValueError(f"the placeholder word {PLACEHOLDER!r} is not one token of its own for this tokenizer")
    return start


def truncated_rows(with_n: torch.Tensor, with_fewer: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """Rows whose prompt was cut by the tokenizer's context length: where nothing was cut, every
    token after the placeholders (from ``end`` on) is in ``with_fewer`` one position earlier."""
    columns = torch.arange(1, with_n.shape[1], device=with_n.device)
    same = (with_n[:, 1:] == with_fewer[:, :-1]) | (columns < end[:, None])
    return ~same.all(1)


@dataclass
class PlaceholderPrompts:
    """Tokenized placeholder prompts: ids, the tower's extra inputs (attention mask), positions."""

    input_ids: torch.Tensor
    extra: dict[str, torch.Tensor]
    positions: torch.Tensor


class ContextPrompt:
    """Encodes class names behind ``n_ctx`` shared context vectors with a frozen text tower."""

    def __init__(self, tower: Tower, tokenize: Callable[[Sequence[str]], dict], n_ctx: int):
        if type(tower).embed is Tower.embed:
            raise ValueError(f"text tower {type(tower).__name__} has no explicit stem (embed): prompt "
                             "context cannot be injected; it needs an explicit tower adapter")
        self.tower, self.tokenize, self.n_ctx = tower, tokenize, n_ctx
        self.embedding = token_embedding(tower)
        with_n, with_fewer = (self.tokenize(self.texts([""], n))["input_ids"][0] for n in (n_ctx, n_ctx - 1))
        self.start = context_start(with_n, with_fewer, n_ctx)

    @property
    def width(self) -> int:
        return self.embedding.embedding_dim

    def texts(self, classnames: Sequence[str], n_ctx: int) -> list[str]:
        """CoOp's prompts: the placeholders, the class name (underscores as spaces), a full stop."""
        return [" ".join([PLACEHOLDER] * n_ctx + [f"{name.replace('_', ' ')}."]) for name in classnames]

    def prepare(self, classnames: Sequence[str], device: torch.device) -> PlaceholderPrompts:
        """Tokenized prompts of ``classnames``; ``ValueError`` naming the classes whose prompt
        does not fit the tokenizer's context length."""
        text = {k: v.to(device) for k, v in self.tokenize(self.texts(classnames, self.n_ctx)).items()}
        ids = text.pop("input_ids")
        fewer = self.tokenize(self.texts(classnames, self.n_ctx - 1))["input_ids"].to(device)
        positions = (self.start + torch.arange(self.n_ctx, device=device)).expand(len(ids), -1)
        cut = truncated_rows(ids, fewer, positions[:, -1] + 1).nonzero().flatten().tolist()
        if cut:
            more = f" and {len(cut) - 3} more" if len(cut) > 3 else ""
            names = ", ".join(repr(classnames[i]) for i in cut[:3]) + more
            raise ValueError(f"prompts of {self.n_ctx} context tokens do not fit the text context of {ids.shape[1]} "
                             f"tokens for {names}; use fewer context tokens (n_ctx)")
        return PlaceholderPrompts(ids, text, positions)

    def encode(self, prompts: PlaceholderPrompts, context: torch.Tensor) -> torch.Tensor:
        """Text embeddings of ``prompts`` with ``context`` (``(n_ctx, width)``) at the placeholders."""
        tower = self.tower
        hidden, ctx = tower.embed(prompts.input_ids, **prompts.extra)
        rows = torch.arange(len(hidden), device=hidden.device)[:, None]
        placeholders = self.embedding(prompts.input_ids.gather(1, prompts.positions))
        delta = torch.zeros_like(hidden)
        delta[rows, prompts.positions] = (context.unsqueeze(0) - placeholders).to(hidden.dtype)
        hidden, ctx = tower.shorten(hidden + delta, ctx)
        for block in tower.blocks:
            hidden = tower.run_block(block, hidden, ctx)
        return tower.pool(hidden, ctx)
