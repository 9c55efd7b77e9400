"""Linear probe on frozen image features, initialised at the zero-shot classifier.

Features are the model's own ``encode_image`` of un-augmented images (the loop uses the eval
transform for this method), L2-normalised and computed without gradients. The classifier is
``scale * f @ W.T + b`` with ``W`` the normalised zero-shot text embeddings of the training
classes and ``b`` the model's logit bias (0 for CLIP), so training starts exactly at
zero-shot. It is trained with cross-entropy and AdamW (lr 1e-3, no weight decay, which would
pull ``W`` towards 0 rather than towards the zero-shot start): a ZS-initialised probe has no
published AdamW recipe, and CoOp's own probe (scikit-learn L-BFGS with a C search on
validation shots) is not reproduced. It can score only the classes it was trained on.
"""
from __future__ import annotations

from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Benchmark
from ..models import LoadedModel
from ..train.evaluate import class_embeddings
from .method import Logits, Method
from .optim import Hyper


class LinearProbe(Method):
    name = "linear-probe"
    hyper = Hyper("adamw", lr=1e-3, batch_size=32, weight_decay=0.0)
    augment = False

    def setup(self, loaded: LoadedModel, benchmark_train: Benchmark, device: torch.device) -> None:
        super().setup(loaded, benchmark_train, device)
        self.model.requires_grad_(False)
        text = class_embeddings(self.encoders, loaded.tokenize(self.prompts(self.classnames)), device)
        bias = self.encoders.logit_bias
        start = bias.detach().float().expand(len(self.classnames)) if bias is not None else text.new_zeros(len(text))
        self.weight = nn.Parameter(text.clone())
        self.bias = nn.Parameter(start.clone().to(device))
        self.column = {name: i for i, name in enumerate(self.classnames)}

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [self.weight, self.bias]

    def _classify(self, pixels: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            features = F.normalize(self.encoders.encode_image(pixels).float(), dim=-1)
        return self.scale * features @ self.weight.T + self.bias

    def loss(self, pixels: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(self._classify(pixels), labels)

    def logits_fn(self, classnames: Sequence[str]) -> Optional[Logits]:
        """The trained columns of ``classnames``; ``None`` if any of them was not trained."""
        if any(name not in self.column for name in classnames):
            return None
        columns = torch.tensor([self.column[name] for name in classnames], device=self.device)
        return lambda pixels: self._classify(pixels)[:, columns]

    def state_dict_to_save(self) -> dict[str, torch.Tensor]:
        return {"weight": self.weight.detach(), "bias": self.bias.detach()}
