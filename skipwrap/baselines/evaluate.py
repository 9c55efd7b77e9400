"""Evaluation of a baseline through its ``logits_fn`` with the shared protocol of
:func:`skipwrap.train.evaluate.evaluate_parts` (a part the method cannot score is ``None``)."""
from __future__ import annotations

from typing import Callable, Optional

import torch

from ..data import Benchmark
from ..train.evaluate import evaluate_parts
from .method import Method


@torch.no_grad()
def evaluate_method(method: Method, benchmark: Benchmark, transform: Callable, device: torch.device,
                    **kwargs) -> dict[str, Optional[float]]:
    """``{"accuracy"}`` over all classes and, with two classes or more, ``base``, ``new``, ``hm``."""
    method.train_mode(False)
    return evaluate_parts(lambda part: method.logits_fn(part.classnames), benchmark, transform, device, **kwargs)
