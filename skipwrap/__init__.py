"""skipwrap: Skip Tuning (Wu et al., CVPR 2025) for any CLIP-like dual encoder.

>>> wrapped, head = skipwrap.skip_wrap(model, skip_layers=6, class_ratio=0.5)
"""
from .cskip import CSkipHead, Selection
from .io import load_tuned, save_tuned
from .towers import register_model, register_tower
from .towers.generic import UnsupportedModelError
from .version import __version__
from .wrap import SkipWrapped, skip_wrap

__all__ = [
    "skip_wrap",
    "SkipWrapped",
    "CSkipHead",
    "Selection",
    "save_tuned",
    "load_tuned",
    "register_model",
    "register_tower",
    "UnsupportedModelError",
    "__version__",
]
