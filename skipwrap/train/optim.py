"""Optimiser and schedule of the reference: SGD with separate learning rates for the text
side and the image tower, cosine decay per epoch after a constant warm-up.

The image group is found by autograd, not by parameter names: the parameters a backward
through the image suffix reaches (so projections living outside the tower module, as in
transformers' ``CLIPModel``, land in the right group, for any family).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..wrap import SkipWrapped


def image_parameters(wrapped: SkipWrapped, hidden_row: torch.Tensor) -> list[nn.Parameter]:
    """Trainable parameters that the image suffix uses, probed on one cached row."""
    trainable = [p for p in wrapped.model.parameters() if p.requires_grad]
    with torch.enable_grad():
        out = wrapped.encode_image_suffix(hidden_row[:1])
        grads = torch.autograd.grad(out.float().sum(), trainable, allow_unused=True)
    return [p for p, g in zip(trainable, grads) if g is not None]


def build_optimizer(wrapped: SkipWrapped, hidden_row: torch.Tensor, lr_text: float, lr_image: float,
                    momentum: float, weight_decay: float) -> torch.optim.SGD:
    image = image_parameters(wrapped, hidden_row)
    image_ids = {id(p) for p in image}
    text = [p for p in wrapped.model.parameters() if p.requires_grad and id(p) not in image_ids]
    groups = [{"params": text, "lr": lr_text, "name": "text"}, {"params": image, "lr": lr_image, "name": "image"}]
    return torch.optim.SGD([g for g in groups if g["params"]], lr=lr_text, momentum=momentum,
                           weight_decay=weight_decay)


def build_scheduler(optimizer: torch.optim.Optimizer, epochs: int, warmup_epochs: int,
                    warmup_lr: float) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-epoch factors: ``warmup_lr / lr`` during warm-up, then cosine from 1 to 0."""
    def factor(base_lr: float):
        def at(epoch: int) -> float:
            if epoch < warmup_epochs:
                return warmup_lr / base_lr
            progress = (epoch - warmup_epochs) / max(1, epochs - warmup_epochs)
            return 0.5 * (1 + math.cos(math.pi * progress))
        return at

    return torch.optim.lr_scheduler.LambdaLR(optimizer, [factor(g["lr"]) for g in optimizer.param_groups])
