"""Zero-shot classification accuracy of an open_clip model on uint8 images, and on the demo world.

It uses only the model's own ``encode_image`` / ``encode_text``, so it measures exactly the
model a user holds: pre-trained, tuned in place by skipwrap, or loaded from tuned weights.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..data.records import DEFAULT_TEMPLATE
from ..towers import resolve
from ..train.evaluate import zero_shot_logits
from . import world
from .pixels import model_statistics, normalise

Tokenize = Callable[[Sequence[str]], torch.Tensor]


@torch.no_grad()
def zero_shot_accuracy(model: nn.Module, tokenizer: Tokenize, images: np.ndarray, labels: Sequence[int],
                       classnames: Sequence[str], template: str, batch_size: int = 512) -> float:
    """Fraction of ``images`` whose nearest class prompt (``template.format(name)``) is their label.

    ``labels`` index ``classnames``. Images are normalised with the model's preprocess mean/std.
    """
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    mean, std = model_statistics(model)
    text = {"input_ids": tokenizer([template.format(name) for name in classnames])}
    device = next(model.parameters()).device
    logits = zero_shot_logits(resolve(model), text, device)
    correct = 0
    for start in range(0, len(images), batch_size):
        pixels = normalise(images[start:start + batch_size], mean, std)
        predictions = logits(pixels.to(device)).argmax(dim=1).cpu()
        correct += int((predictions == labels[start:start + batch_size]).sum())
    return correct / max(len(images), 1)


def base_new_zero_shot(model: nn.Module, tokenizer: Tokenize, per_class: int, seed: int,
                       template: str = DEFAULT_TEMPLATE) -> dict[str, float]:
    """Zero-shot accuracy on a fresh downstream test set of the demo world, as the protocol reports it.

    ``base`` and ``new`` classify each half among its own classes (base-to-new protocol);
    ``all`` classifies every test image among all classes.
    """
    images, labels = world.sample_downstream(world.balanced_labels(per_class), seed)
    base = labels < world.NUM_BASE
    names = world.CLASSNAMES
    return {
        "base": zero_shot_accuracy(model, tokenizer, images[base], labels[base], names[:world.NUM_BASE], template),
        "new": zero_shot_accuracy(model, tokenizer, images[~base], labels[~base] - world.NUM_BASE,
                                  names[world.NUM_BASE:], template),
        "all": zero_shot_accuracy(model, tokenizer, images, labels, names, template),
    }
