"""An open_clip ``local-dir:`` folder with the demo tokenizer: written all at once, read back.

The folder holds what ``open_clip.create_model("local-dir:" + path)`` reads
(``open_clip_config.json`` with ``model_cfg`` and ``preprocess_cfg``, and
``open_clip_model.safetensors``), plus the demo's ``tokenizer.json`` and a
``pretrain.json`` record of how the weights were made. It is written aside and renamed into
place, so an interrupted run never leaves a half-written model where a loader would find it.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Union

import open_clip
import torch
from safetensors.torch import save_file
from torch import nn

from .tokenizer import WordTokenizer

PathLike = Union[str, os.PathLike]

CONFIG_FILE = "open_clip_config.json"
WEIGHTS_FILE = "open_clip_model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
RECORD_FILE = "pretrain.json"
WEIGHTS_DTYPE = torch.float16  # halves the shipped file; the loader casts back to the model's dtype


def _write_json(path: Path, data: Any) -> None:
    """Write ``data`` as JSON through a temporary file and a rename, so readers never see half of it."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(temporary, path)


def _swap_into_place(staging: Path, out: Path) -> None:
    """Rename ``staging`` to ``out``, replacing an existing ``out`` only once the new one is complete."""
    if not out.exists():
        staging.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
    old.rmdir()
    out.rename(old)
    staging.rename(out)
    shutil.rmtree(old)


def write_local_dir(out: PathLike, model: nn.Module, model_cfg: dict, preprocess_cfg: dict,
                    tokenizer: WordTokenizer, record: dict) -> Path:
    """Write ``model`` (weights in ``WEIGHTS_DTYPE``) and its configs to the folder ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the model folder is meant to be shared
    try:
        state = {name: tensor.detach().to(WEIGHTS_DTYPE).contiguous() for name, tensor in model.state_dict().items()}
        save_file(state, str(staging / WEIGHTS_FILE), metadata={"format": "pt"})
        (staging / WEIGHTS_FILE).chmod(0o644)  # safetensors writes it private
        _write_json(staging / CONFIG_FILE, {"model_cfg": model_cfg, "preprocess_cfg": preprocess_cfg})
        tokenizer.save(staging / TOKENIZER_FILE)
        _write_json(staging / RECORD_FILE, record)
        _swap_into_place(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def write_record(out: PathLike, record: dict) -> None:
    """Replace the ``pretrain.json`` record of an existing folder (e.g. to add evaluation results)."""
    _write_json(Path(out) / RECORD_FILE, record)


def read_local_dir(path: PathLike) -> tuple[nn.Module, WordTokenizer]:
    """The model (through ``open_clip.create_model("local-dir:...")``, in eval mode) and its tokenizer."""
    path = Path(path)
    model = open_clip.create_model(f"local-dir:{path}")
    return model.eval(), WordTokenizer.load(path / TOKENIZER_FILE)
