"""The CLIP shipped with the package: where it lives and how to load it.

``skipwrap/demo/assets/tiny_clip/`` is an open_clip ``local-dir:`` folder made by
``python -m skipwrap.demo.pretrain`` (the command, seed, time and zero-shot accuracy of the
shipped run are in ``assets/README.md`` and ``tiny_clip/pretrain.json``). Load it with
``load_demo_model()``, or anywhere open_clip is used as ``"local-dir:" + str(model_dir())``;
its tokenizer is the word-level ``WordTokenizer`` of ``tokenizer.json``, not open_clip's BPE.
"""
from __future__ import annotations

from pathlib import Path

from torch import nn

from .local_dir import read_local_dir
from .tokenizer import WordTokenizer
from .zero_shot import zero_shot_accuracy

__all__ = ["asset_dir", "model_dir", "load_demo_model", "zero_shot_accuracy"]

MODEL_FOLDER = "tiny_clip"


def asset_dir() -> Path:
    """The package's ``demo/assets`` folder."""
    return Path(__file__).resolve().parent / "assets"


def model_dir() -> Path:
    """The shipped model's open_clip ``local-dir`` folder."""
    return asset_dir() / MODEL_FOLDER


def load_demo_model() -> tuple[nn.Module, WordTokenizer]:
    """The shipped CLIP (a fresh copy, eval mode, via ``open_clip.create_model``) and its tokenizer."""
    folder = model_dir()
    if not (folder / "open_clip_config.json").is_file():
        raise FileNotFoundError(f"the demo model is missing from {folder}; "
                                f"rebuild it with the command in {asset_dir() / 'README.md'}")
    return read_local_dir(folder)
