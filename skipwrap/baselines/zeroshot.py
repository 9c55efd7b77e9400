"""Zero-shot: the untouched model, scored with the benchmark's template prompts.

Nothing is trained; the loop writes an empty weights file and evaluates, so zero-shot sits in
the same tables as the tuned methods.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .method import Method


class ZeroShot(Method):
    name = "zeroshot"
    hyper = None

    def trainable_parameters(self) -> list[nn.Parameter]:
        return []

    def loss(self, pixels: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the zero-shot classifier over the training classes (nothing to train)."""
        return F.cross_entropy(self.logits_fn(self.classnames)(pixels), labels)

    def state_dict_to_save(self) -> dict[str, torch.Tensor]:
        return {}
