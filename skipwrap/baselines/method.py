"""What every baseline is to the shared loop: a :class:`Method`.

The loop (:func:`skipwrap.baselines.loop.train_baseline`) knows a method only through this
interface, so one loop trains and evaluates them all the same way. The default pieces here
score with the model's own encoders (the zero-shot classifier); methods that learn something
other than the model's weights (prompts, a linear head) override :meth:`Method.logits_fn`.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..data import Benchmark
from ..models import LoadedModel
from ..towers import resolve
from ..towers.base import DualEncoder
from ..train.evaluate import class_embeddings
from .optim import Hyper

Logits = Callable[[torch.Tensor], torch.Tensor]

def frozen_scale(encoders: DualEncoder) -> torch.Tensor:
    """``exp(logit_scale)`` of the model (CLIP's initial 1/0.07 when it has none), not trained."""
    scale = encoders.logit_scale
    return scale.detach().exp() if scale is not None else torch.tensor(1 / 0.07)


def similarity_logits(image: torch.Tensor, text: torch.Tensor, scale: torch.Tensor,
                      bias: Optional[torch.Tensor]) -> torch.Tensor:
    """``scale * cos(image, text) (+ bias)`` in float32, as CLIP and SigLIP score classes."""
    logits = scale.to(image.device) * F.normalize(image.float(), dim=-1) @ F.normalize(text.float(), dim=-1).T
    return logits if bias is None else logits + bias.detach().to(logits.device)


class Method:
    """One fine-tuning baseline, driven by the shared loop.

    Subclasses set ``name``, ``hyper`` (``None``: nothing to train) and ``augment`` (whether
    training images get the random crop + flip of the train transform, or the eval transform),
    and implement :meth:`trainable_parameters`, :meth:`loss` and :meth:`state_dict_to_save`.
    Constructor keyword arguments are the method's options (the loop passes them through).
    """

    name: str = ""
    hyper: Optional[Hyper] = None
    augment: bool = True

    def setup(self, loaded: LoadedModel, benchmark_train: Benchmark, device: torch.device) -> None:
        """Bind to a model (already on ``device``) and the classes it is trained on."""
        self.loaded, self.device = loaded, device
        self.model = loaded.model
        self.encoders = resolve(loaded.model)
        self.benchmark = benchmark_train
        self.classnames = list(benchmark_train.classnames)
        self.scale = frozen_scale(self.encoders).to(device)

    def trainable_parameters(self) -> list[nn.Parameter]:
        raise NotImplementedError

    def loss(self, pixels: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def state_dict_to_save(self) -> dict[str, torch.Tensor]:
        """Only what the method trained (an empty dict when it trains nothing)."""
        raise NotImplementedError

    def train_mode(self, training: bool) -> None:
        """Frozen encoders stay in eval mode (features as at test time); methods that tune
        the model's own weights override this to honour ``training`` (dropout)."""
        self.model.eval()

    # -- the model's own classifier: template prompts through its encoders ----------------
    def prompts(self, classnames: Sequence[str]) -> list[str]:
        """The benchmark's template for ``classnames`` (underscores read as spaces)."""
        return replace(self.benchmark, classnames=list(classnames), train=[], val=[], test=[]).prompts()

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        return {k: v.to(self.device) for k, v in self.loaded.tokenize(list(texts)).items()}

    def logits(self, image_features: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
        return similarity_logits(image_features, text_features, self.scale, self.encoders.logit_bias)

    def logits_fn(self, classnames: Sequence[str]) -> Optional[Logits]:
        """Pixels -> logits over ``classnames``, or ``None`` where the method cannot score them.

        Default: the model as it is now (zero-shot, or with its tuned weights), text features
        computed once for the list."""
        text = class_embeddings(self.encoders, self.loaded.tokenize(self.prompts(classnames)), self.device)
        return lambda pixels: self.logits(self.encoders.encode_image(pixels), text)
