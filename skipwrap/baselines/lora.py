"""CLIP-LoRA (Zanella & Ben Ayed, CVPRW 2024): low-rank adapters on the q, k and v projections
of every block of both towers, through the ``peft`` library.

Defaults are CLIP-LoRA's (``run_utils.py`` / ``lora.py`` / ``loralib`` of its repository):
rank 2, alpha 1, scaling ``alpha / sqrt(rank)`` (its loralib; peft's ``use_rslora``), dropout
0.25 on the adapter input, A Kaiming-uniform and B zero (peft's default init), AdamW lr 2e-4,
weight decay 1e-2, betas (0.9, 0.999), batch 32, cosine decay per step to 1e-6. Every step
encodes the template prompts of all training classes and the images with gradients, as
CLIP-LoRA does with ``encoder='both'``. The logit scale stays fixed.

The model's own encoders run with the adapters active, so evaluation and New classes need
nothing special. Only the adapter tensors are saved (peft's state-dict names).
"""
from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Benchmark
from ..models import LoadedModel
from .attention import attention_projections
from .method import Method
from .optim import Hyper


def _peft():
    try:
        import peft
    except ImportError as exc:
        raise ImportError("the lora baseline needs peft: pip install peft") from exc
    return peft


class LoRA(Method):
    name = "lora"
    hyper = Hyper("adamw", lr=2e-4, batch_size=32, weight_decay=1e-2, min_lr=1e-6)

    def __init__(self, rank: int = 2, alpha: float = 1.0, dropout: float = 0.25):
        if rank < 1:
            raise ValueError(f"rank must be >= 1, got {rank}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.rank, self.alpha, self.dropout = rank, alpha, dropout

    def setup(self, loaded: LoadedModel, benchmark_train: Benchmark, device: torch.device) -> None:
        super().setup(loaded, benchmark_train, device)
        peft = _peft()
        self.model.requires_grad_(False)
        targets = attention_projections(self.model, [self.encoders.image, self.encoders.text])
        config = peft.LoraConfig(r=self.rank, lora_alpha=self.alpha, lora_dropout=self.dropout, use_rslora=True,
                                 target_modules="|".join(re.escape(t) for t in targets), bias="none")
        peft.inject_adapter_in_model(config, self.model)
        self.train_text = self.tokenize(self.prompts(self.classnames))

    def train_mode(self, training: bool) -> None:
        self.model.train(training)

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def loss(self, pixels: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        ids = self.train_text["input_ids"]
        extra = {k: v for k, v in self.train_text.items() if k != "input_ids"}
        text = self.encoders.encode_text(ids, **extra)
        return F.cross_entropy(self.logits(self.encoders.encode_image(pixels), text), labels)

    def state_dict_to_save(self) -> dict[str, torch.Tensor]:
        return dict(_peft().get_peft_model_state_dict(self.model))
