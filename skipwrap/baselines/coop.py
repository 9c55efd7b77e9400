"""CoOp (Zhou et al., IJCV 2022): ``n_ctx`` class-agnostic context vectors learned in front
of the class name (``"X X ... X {classname}."``), both towers frozen.

Defaults are CoOp's (``configs/trainers/CoOp/vit_b16.yaml`` and Dassl's optimiser defaults):
16 context vectors initialised from a normal of std 0.02 (CoOp's generic context when no
init words are given), SGD lr 0.002, momentum 0.9, weight decay 5e-4, batch 32, one
constant warm-up epoch at 1e-5, then cosine decay. As in CoOp, image features come from the
frozen image encoder without gradients, and every step encodes the prompts of all training
classes through the whole frozen text tower (:mod:`skipwrap.baselines.prompt`). Learned
context carries over to any class list, so New classes are scored with it too.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Benchmark
from ..models import LoadedModel
from .method import Logits, Method
from .optim import Hyper
from .prompt import ContextPrompt


class CoOp(Method):
    name = "coop"
    hyper = Hyper("sgd", lr=0.002, batch_size=32, weight_decay=5e-4, momentum=0.9, warmup_epochs=1,
                  warmup_lr=1e-5)

    def __init__(self, n_ctx: int = 16, init_std: float = 0.02):
        if n_ctx < 1:
            raise ValueError(f"n_ctx must be >= 1, got {n_ctx}")
        if init_std <= 0:
            raise ValueError(f"init_std must be > 0, got {init_std}")
        self.n_ctx, self.init_std = n_ctx, init_std

    def setup(self, loaded: LoadedModel, benchmark_train: Benchmark, device: torch.device) -> None:
        super().setup(loaded, benchmark_train, device)
        self.model.requires_grad_(False)
        self.prompt = ContextPrompt(self.encoders.text, loaded.tokenize, self.n_ctx)
        self.context = nn.Parameter(torch.randn(self.n_ctx, self.prompt.width, device=device) * self.init_std)
        self.train_prompts = self.prompt.prepare(self.classnames, device)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [self.context]

    def loss(self, pixels: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            image = self.encoders.encode_image(pixels)
        text = self.prompt.encode(self.train_prompts, self.context)
        return F.cross_entropy(self.logits(image, text), labels)

    def logits_fn(self, classnames: Sequence[str]) -> Logits:
        text = self.prompt.encode(self.prompt.prepare(classnames, self.device), self.context)
        return lambda pixels: self.logits(self.encoders.encode_image(pixels), text)

    def state_dict_to_save(self) -> dict[str, torch.Tensor]:
        return {"context": self.context.detach()}
