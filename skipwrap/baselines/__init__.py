"""Baselines trained and evaluated by one shared loop: zero-shot, linear probe, CoOp, CLIP-LoRA.

>>> from skipwrap.baselines import train_baseline
>>> result = train_baseline(config, "coop")          # config: skipwrap.train.TrainConfig

Every method sees the model through skipwrap's tower interface or the model's own encoders,
so each works for open_clip and transformers models alike. ``METHODS`` maps a name to its
class (:class:`~skipwrap.baselines.method.Method`).
"""
from .loop import train_baseline
from .method import Method
from .optim import Hyper
from .registry import METHODS, build_method

__all__ = ["METHODS", "Hyper", "Method", "build_method", "train_baseline"]
