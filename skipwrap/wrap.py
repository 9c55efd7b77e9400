"""``skip_wrap``: the one-line entry point, and the wrapped model it returns.

The wrapped model holds the original model as ``wrapped.model`` and shares its parameters:
training tunes the model in place, and the model's own ``encode_image`` / ``encode_text``
give the tuned model at any time. Nothing of the model is replaced or deleted.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Union

import torch
from torch import nn

from .lskip import SkippedTower
from .towers import resolve
from .towers.base import DualEncoder

SkipLayers = Union[None, int, Sequence[Optional[int]]]


def _split_skip(skip_layers: SkipLayers) -> tuple[Optional[int], Optional[int]]:
    if skip_layers is None or isinstance(skip_layers, int):
        return skip_layers, skip_layers
    if isinstance(skip_layers, (tuple, list)) and len(skip_layers) == 2:
        return skip_layers[0], skip_layers[1]
    raise ValueError(f"skip_layers must be None, an int, or a pair (image, text), got {skip_layers!r}")


class SkipWrapped(nn.Module):
    """A dual encoder split for Skip Tuning (see :func:`skip_wrap`).

    ``encode_*_prefix`` return frozen, gradient-free hidden states to cache;
    ``encode_*_suffix`` turn cached states into embeddings, with gradients into the
    trainable suffix. ``forward`` is the original model's forward.
    """

    def __init__(self, model: nn.Module, skip_layers: SkipLayers = None, *,
                 cache_dtype: Optional[torch.dtype] = None, shorten_text: bool = True,
                 train_logit_scale: bool = False,
                 example_inputs: Optional[tuple[torch.Tensor, torch.Tensor]] = None):
        super().__init__()
        if not isinstance(model, nn.Module):
            raise TypeError(f"skip_wrap needs an nn.Module, got {type(model).__name__}")
        if cache_dtype is not None and not (isinstance(cache_dtype, torch.dtype) and cache_dtype.is_floating_point):
            raise ValueError(f"cache_dtype must be a floating torch.dtype such as torch.bfloat16, got {cache_dtype!r}")
        self.model = model
        self.encoders: DualEncoder = resolve(model)
        k_image, k_text = _split_skip(skip_layers)
        self.image = SkippedTower(self.encoders.image, k_image, cache_dtype)
        self.text = SkippedTower(self.encoders.text, k_text, cache_dtype)
        self.shorten_text = shorten_text
        self._frozen_scale = [p for p in (self.encoders.logit_scale, self.encoders.logit_bias)
                              if isinstance(p, nn.Parameter) and p.requires_grad and not train_logit_scale]
        for p in self._frozen_scale:
            p.requires_grad_(False)
        if example_inputs is not None:
            pixels, token_ids = example_inputs
            self.image.bind(pixels)
            self.text.bind(token_ids)

    # -- the contract of DESIGN.md section 4 ----------------------------------------------
    def encode_image_prefix(self, pixels: torch.Tensor, **extra: Any) -> torch.Tensor:
        return self.image.prefix(pixels, **extra)

    def encode_image_suffix(self, hidden: torch.Tensor, **extra: Any) -> torch.Tensor:
        return self.image.suffix(hidden, None, **extra)

    def encode_text_prefix(self, token_ids: torch.Tensor, **extra: Any) -> torch.Tensor:
        return self.text.prefix(token_ids, **extra)

    def encode_text_suffix(self, hidden: torch.Tensor, token_ids: torch.Tensor, **extra: Any) -> torch.Tensor:
        return self.text.suffix(hidden, token_ids, shorten=self.shorten_text, **extra)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.model(*args, **kwargs)

    # -- introspection and conveniences ---------------------------------------------------
    @property
    def skip_layers(self) -> tuple[Optional[int], Optional[int]]:
        """(image, text) split depths; ``None`` for a generic tower not yet bound."""
        return self.image.skip, self.text.skip

    @property
    def logit_scale(self) -> torch.Tensor:
        """The model's (log) logit scale, or CLIP's initial value when it has none."""
        scale = self.encoders.logit_scale
        return scale if scale is not None else torch.tensor(math.log(1 / 0.07))

    @property
    def logit_bias(self) -> Optional[torch.Tensor]:
        return self.encoders.logit_bias

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.model.parameters() if p.requires_grad or not trainable_only)

    def print_trainable_parameters(self) -> None:
        trainable, total = self.num_parameters(True), self.num_parameters()
        print(f"trainable params: {trainable:,d} || all params: {total:,d} "
              f"|| trainable%: {100 * trainable / max(total, 1):.4f}")

    def unwrap(self) -> nn.Module:
        """Give back the model with every parameter this wrapper froze unfrozen again."""
        self.image.unfreeze()
        self.text.unfreeze()
        for p in self._frozen_scale:
            p.requires_grad_(True)
        self._frozen_scale = []
        return self.model


def skip_wrap(model: nn.Module, skip_layers: SkipLayers = None, class_ratio: float = 0.5, *,
              max_classes: int = 50, decay: float = 0.3, resample: bool = False, seed: int = 0,
              cache_dtype: Optional[torch.dtype] = None, shorten_text: bool = True,
              train_logit_scale: bool = False,
              example_inputs: Optional[tuple[torch.Tensor, torch.Tensor]] = None):
    """Wrap ``model`` for Skip Tuning; returns ``(wrapped, head)``.

    Args:
        model: a CLIP-like dual encoder (open_clip ``CLIP`` / ``CustomTextCLIP``, transformers
            ``CLIPModel`` / ``SiglipModel``, or anything with ``encode_image`` / ``encode_text``).
        skip_layers: LSkip depth ``k``: an int for both towers, a pair ``(k_image, k_text)``, or
            ``None`` for half of each tower's depth. ``0`` skips nothing.
        class_ratio: CSkip ratio ``r`` in (0, 1]: the top ``ceil(r * C)`` classes per step
            (capped at ``max_classes``) always run; ``1.0`` runs every class.
        max_classes: cap on the always-kept top classes.
        decay: scale of the exponential keep probability of the remaining ranks.
        resample: draw the tail keep-mask afresh every step (the reference draws it once).
        seed: seed of the head's own random generator (keep-mask draws).
        cache_dtype: store prefix states in this dtype (e.g. ``torch.bfloat16``); changes
            numbers slightly, so off by default.
        shorten_text: run the text suffix only up to the last EOT of the kept classes where that
            is exact (causal towers with EOT pooling).
        train_logit_scale: also tune the model's logit scale / bias (frozen by default).
        example_inputs: ``(pixels, token_ids)`` to bind generic (hook-based) towers now rather
            than on their first input.

    ``skip_layers=0, class_ratio=1.0`` is plain full fine-tuning through the same code path.
    """
    from .cskip import CSkipHead

    wrapped = SkipWrapped(model, skip_layers, cache_dtype=cache_dtype, shorten_text=shorten_text,
                          train_logit_scale=train_logit_scale, example_inputs=example_inputs)
    head = CSkipHead(wrapped, class_ratio=class_ratio, max_classes=max_classes, decay=decay,
                     resample=resample, seed=seed)
    return wrapped, head
