"""CSkip: a loss head that runs the text suffix only on the classes that matter for a batch.

Per step, every class gets a score: the highest cosine similarity between its zero-shot
prototype (text embedding of the *untouched* model, computed once in :meth:`set_classes`)
and any image of the batch; classes present in the batch rank first. The top
``ceil(class_ratio * C)`` ranks (capped at ``max_classes``) are kept; every later rank ``i``
is kept with a probability decaying exponentially with rank: ``exp(-x_i / decay)`` over
``x = linspace(0, 5, C - top)``, min-max normalised to [1, 0] (the reference's keep-mask,
drawn once and reused unless ``resample=True``). Labels are re-indexed into the kept subset
and the loss is cross-entropy over ``logit_scale.exp() * cos(image, text) (+ logit_bias)``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import nn

from .lskip import eval_mode
from .wrap import SkipWrapped


@dataclass
class Selection:
    """What one step kept: sorted class ids and the batch labels re-indexed into them."""

    classes: torch.Tensor
    labels: torch.Tensor


def tail_keep_probabilities(n: int, decay: float) -> torch.Tensor:
    """Keep probability of the ranks after the top ones: 1 for the first, 0 for the last."""
    if n <= 0:
        return torch.zeros(0)
    x = torch.linspace(0.0, 5.0, n, dtype=torch.float64)
    p = torch.exp(-x / decay)
    if n > 1:
        p = (p - p[-1]) / (p[0] - p[-1])
    return p.float()


def _check(name: str, value: Any, low: float, high: float, *, low_open: bool = False,
           integer: bool = False) -> None:
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    in_range = ok_type and not isinstance(value, bool) and (
        (value > low if low_open else value >= low) and value <= high)
    if not in_range:
        bracket = "(" if low_open else "["
        kind = "an int" if integer else "a number"
        raise ValueError(f"{name} must be {kind} in {bracket}{low}, {high}], got {value!r}")


class CSkipHead(nn.Module):
    """Class-wise skipping loss head; see the module docstring.

    ``head.last_selection`` exposes what the last step kept. The head's own state (prototypes,
    fixed keep-mask, random generator) travels in its ``state_dict``, so a resumed run keeps
    the prototypes of the untouched model and draws the same masks.
    """

    def __init__(self, wrapped: SkipWrapped, class_ratio: float = 0.5, max_classes: int = 50,
                 decay: float = 0.3, resample: bool = False, seed: int = 0, chunk_size: int = 256):
        super().__init__()
        _check("class_ratio", class_ratio, 0.0, 1.0, low_open=True)
        _check("max_classes", max_classes, 1, math.inf, integer=True)
        _check("decay", decay, 0.0, math.inf, low_open=True)
        _check("chunk_size", chunk_size, 1, math.inf, integer=True)
        # a plain attribute, not a submodule: the head owns no model parameters
        self.__dict__["wrapped"] = wrapped
        self.class_ratio = float(class_ratio)
        self.max_classes = int(max_classes)
        self.decay = float(decay)
        self.resample = resample
        self.chunk_size = chunk_size
        self.generator = torch.Generator().manual_seed(seed)
        self.register_buffer("text_prefix", None, persistent=False)
        self.register_buffer("token_ids", None, persistent=False)
        self.register_buffer("attention_mask", None, persistent=False)
        self.register_buffer("prototypes", None, persistent=False)  # saved in extra state
        self.keep_mask: Optional[torch.Tensor] = None
        self.last_selection: Optional[Selection] = None

    # -- classes -------------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        return 0 if self.token_ids is None else self.token_ids.shape[0]

    @property
    def num_top(self) -> int:
        """Ranks always kept: ``min(ceil(class_ratio * C), max_classes, C)``; every class when
        ``class_ratio == 1`` (no class skipping at all, as in the reference)."""
        c = self.num_classes
        if self.class_ratio >= 1.0:
            return c
        return min(math.ceil(self.class_ratio * c), self.max_classes, c)

    @torch.no_grad()
    def set_classes(self, token_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None) -> None:
        """Cache the text prefix of every class prompt and the zero-shot prototypes.

        Call before training: the prototypes must come from the untouched model.
        """
        if not isinstance(token_ids, torch.Tensor) or token_ids.dim() != 2 or token_ids.shape[0] < 1:
            shape = tuple(token_ids.shape) if isinstance(token_ids, torch.Tensor) else type(token_ids).__name__
            raise ValueError(f"token_ids must be a (num_classes >= 1, seq_len) tensor, got {shape}")
        wrapped = self.wrapped
        extra = {} if attention_mask is None else {"attention_mask": attention_mask}
        prefixes, prototypes = [], []
        with eval_mode([wrapped.model]):
            for start in range(0, token_ids.shape[0], self.chunk_size):
                rows = slice(start, start + self.chunk_size)
                chunk_extra = {k: v[rows] for k, v in extra.items()}
                hidden = wrapped.encode_text_prefix(token_ids[rows], **chunk_extra)
                prefixes.append(hidden)
                features = wrapped.encode_text_suffix(hidden, token_ids[rows], **chunk_extra)
                prototypes.append(F.normalize(features.float(), dim=-1))
        self.text_prefix = torch.cat(prefixes)
        self.token_ids = token_ids
        self.attention_mask = attention_mask
        self.prototypes = torch.cat(prototypes)
        self.keep_mask = None

    # -- selection -----------------------------------------------------------------------
    def _rank_keep_mask(self, device: torch.device) -> torch.Tensor:
        """Which ranks to keep: the top ones always, the tail by decaying probability."""
        if self.keep_mask is None or self.resample:
            top, c = self.num_top, self.num_classes
            probs = torch.cat([torch.ones(top), tail_keep_probabilities(c - top, self.decay)])
            self.keep_mask = torch.rand(c, generator=self.generator) < probs
        return self.keep_mask.to(device)

    @torch.no_grad()
    def select(self, image_features: torch.Tensor, labels: torch.Tensor) -> Selection:
        """Choose the classes to run for this batch (labels are always among them)."""
        c = self.num_classes
        if c == 0:
            raise RuntimeError("call head.set_classes(token_ids) before the first step")
        if labels.dim() != 1 or labels.shape[0] != image_features.shape[0]:
            raise ValueError(f"labels must be a 1-d tensor of {image_features.shape[0]} class ids, "
                             f"got shape {tuple(labels.shape)}")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= c):
            raise ValueError(f"labels must be class ids in [0, {c - 1}], got values in "
                             f"[{int(labels.min())}, {int(labels.max())}]")
        device = image_features.device
        if self.num_top >= c:
            return Selection(torch.arange(c, device=device), labels)
        features = F.normalize(image_features.detach().float(), dim=-1)
        scores = (features @ self.prototypes.to(device).T).amax(dim=0)
        scores[labels] = math.inf
        ranked = scores.argsort(descending=True)
        keep = torch.zeros(c, dtype=torch.bool, device=device)
        keep[ranked[self._rank_keep_mask(device)]] = True
        keep[labels] = True
        classes = keep.nonzero().squeeze(1)
        return Selection(classes, torch.searchsorted(classes, labels))

    # -- loss ----------------------------------------------------------------------------
    def logits(self, image_features: torch.Tensor, labels: torch.Tensor,
               classes: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Scaled cosine logits over the kept classes and the re-indexed labels.

        ``classes`` (sorted ids holding every label) skips the selection: distributed training
        selects once from the whole global batch and every rank scores its rows against it.
        """
        if classes is None:
            selection = self.select(image_features, labels)
        else:
            selection = Selection(classes, torch.searchsorted(classes, labels))
        self.last_selection = selection
        kept = selection.classes.to(self.text_prefix.device)
        extra = {} if self.attention_mask is None else {"attention_mask": self.attention_mask[kept]}
        text = self.wrapped.encode_text_suffix(self.text_prefix[kept], self.token_ids[kept], **extra)
        image = F.normalize(image_features, dim=-1)
        text = F.normalize(text.to(image.dtype), dim=-1)
        logits = self.wrapped.logit_scale.to(image.device).exp() * image @ text.T
        bias = self.wrapped.logit_bias
        if bias is not None:
            logits = logits + bias
        return logits, selection.labels

    def forward(self, image_features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        logits, labels = self.logits(image_features, labels)
        return F.cross_entropy(logits, labels)

    # -- state ---------------------------------------------------------------------------
    def get_extra_state(self) -> dict:
        return {"prototypes": self.prototypes, "keep_mask": self.keep_mask,
                "generator": self.generator.get_state()}

    def set_extra_state(self, state: dict) -> None:
        self.prototypes = state["prototypes"]
        self.keep_mask = state["keep_mask"]
        self.generator.set_state(state["generator"])
