"""How a baseline is optimised: its :class:`Hyper`, and the optimiser and per-step schedule
built from it.

Both methods with published recipes decay with a cosine: CLIP-LoRA per iteration
(``CosineAnnealingLR`` to 1e-6), CoOp per epoch after one constant warm-up epoch (Dassl).
Here every method steps per iteration (CoOp's per-epoch cosine becomes its per-step
equivalent), with torch's own schedulers.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Callable, Sequence

import torch
from torch import nn
from torch.optim.lr_scheduler import ConstantLR, CosineAnnealingLR, LRScheduler, SequentialLR


@dataclass(frozen=True)
class Hyper:
    """How a method is optimised: its published defaults, replaced field by field by the
    caller's overrides. The schedule is per step: a constant warm-up of ``warmup_epochs`` at
    ``warmup_lr``, then cosine decay from ``lr`` to ``min_lr``."""

    optimizer: str
    lr: float
    batch_size: int
    weight_decay: float
    momentum: float = 0.9            # SGD only
    warmup_epochs: int = 0
    warmup_lr: float = 1e-5
    min_lr: float = 0.0

    def replaced(self, **changes: Any) -> "Hyper":
        """A copy with ``changes``, checked; a bad value raises ``ValueError`` naming its range."""
        hyper = replace(self, **changes)
        checks = {
            "optimizer": (hyper.optimizer in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}"),
            "lr": (hyper.lr > 0, "> 0"),
            "batch_size": (hyper.batch_size >= 1, ">= 1"),
            "weight_decay": (hyper.weight_decay >= 0, ">= 0"),
            "momentum": (0 <= hyper.momentum < 1, "in [0, 1)"),
            "warmup_epochs": (hyper.warmup_epochs >= 0, ">= 0"),
            "warmup_lr": (0 < hyper.warmup_lr <= hyper.lr, f"in (0, lr={hyper.lr}]"),
            "min_lr": (0 <= hyper.min_lr < hyper.lr, f"in [0, lr={hyper.lr})"),
        }
        for name, (ok, valid) in checks.items():
            if not ok:
                raise ValueError(f"{name} must be {valid}, got {getattr(hyper, name)!r}")
        return hyper

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


OPTIMIZERS: dict[str, Callable[[Sequence[nn.Parameter], Hyper], torch.optim.Optimizer]] = {
    "sgd": lambda params, h: torch.optim.SGD(params, lr=h.lr, momentum=h.momentum, weight_decay=h.weight_decay),
    "adamw": lambda params, h: torch.optim.AdamW(params, lr=h.lr, betas=(0.9, 0.999), weight_decay=h.weight_decay),
}


def build_optimizer(params: Sequence[nn.Parameter], hyper: Hyper) -> torch.optim.Optimizer:
    if not params:
        raise ValueError("nothing to optimise: the method has no trainable parameters")
    return OPTIMIZERS[hyper.optimizer](list(params), hyper)


def build_scheduler(optimizer: torch.optim.Optimizer, hyper: Hyper, epochs: int, steps_per_epoch: int) -> LRScheduler:
    """Constant ``warmup_lr`` for ``warmup_epochs`` epochs (at most the whole run), then cosine
    from ``lr`` to ``min_lr`` over the remaining steps; stepped once per optimiser step."""
    total = epochs * steps_per_epoch
    warmup = min(hyper.warmup_epochs * steps_per_epoch, total)
    cosine = CosineAnnealingLR(optimizer, T_max=max(total - warmup, 1), eta_min=hyper.min_lr)
    if warmup == 0:
        return cosine
    constant = ConstantLR(optimizer, factor=hyper.warmup_lr / hyper.lr, total_iters=warmup)
    return SequentialLR(optimizer, [constant, cosine], milestones=[warmup])
