"""Export and import of tuned weights through safetensors only.

``save_tuned`` writes the tensors training can change (the parameters left trainable by
``skip_wrap``) plus metadata: library version, model class, skip depths and a fingerprint
of the model's parameter names and shapes. ``load_tuned`` refuses a file whose fingerprint
or model class does not match the model it is loaded into, naming the difference.
``merged=True`` writes the whole state dict instead, for deployment without skipwrap.
Files are written to a temporary name and renamed, so a crash never leaves half a file.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Union

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from .version import __version__
from .wrap import SkipWrapped

PathLike = Union[str, os.PathLike]
FORMAT = "skipwrap-tuned"


def _model_of(model: Union[nn.Module, SkipWrapped]) -> nn.Module:
    return model.model if isinstance(model, SkipWrapped) else model


def _class_name(model: nn.Module) -> str:
    return f"{type(model).__module__}.{type(model).__qualname__}"


def _shapes(model: nn.Module) -> dict[str, list[int]]:
    return {name: list(t.shape) for name, t in model.state_dict().items()}


def fingerprint(model: nn.Module) -> str:
    """SHA-256 of the sorted parameter/buffer names and shapes: same architecture, same print."""
    text = json.dumps(sorted(_shapes(model).items()))
    return hashlib.sha256(text.encode()).hexdigest()


def atomic_save_file(tensors: dict[str, torch.Tensor], path: PathLike, metadata: dict[str, str]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_tuned(model: Union[SkipWrapped, nn.Module], path: PathLike, *, merged: bool = False) -> Path:
    """Write the trainable tensors (or, with ``merged=True``, the whole state dict) of a model."""
    net = _model_of(model)
    if merged:
        tensors = net.state_dict()
    else:
        tensors = {name: p for name, p in net.named_parameters() if p.requires_grad}
        if not tensors:
            raise ValueError("the model has no trainable parameters to save; pass merged=True "
                             "to write the whole state dict")
    tensors = {name: t.detach().to("cpu").contiguous().clone() for name, t in tensors.items()}
    skip = list(model.skip_layers) if isinstance(model, SkipWrapped) else None
    metadata = {
        "format": FORMAT,
        "kind": "merged" if merged else "tuned",
        "skipwrap_version": __version__,
        "model_class": _class_name(net),
        "skip_layers": json.dumps(skip),
        "fingerprint": fingerprint(net),
        "shapes": json.dumps(_shapes(net)),
    }
    atomic_save_file(tensors, path, metadata)
    return Path(path)


def _mismatch(saved: dict[str, list[int]], current: dict[str, list[int]]) -> str:
    missing = sorted(set(saved) - set(current))
    extra = sorted(set(current) - set(saved))
    shape = sorted(n for n in set(saved) & set(current) if saved[n] != current[n])
    parts = []
    for label, names in (("not in the model", missing), ("not in the file", extra)):
        if names:
            parts.append(f"{len(names)} tensors {label} (e.g. {', '.join(names[:3])})")
    if shape:
        n = shape[0]
        parts.append(f"{len(shape)} shape mismatches (e.g. {n}: file {saved[n]} vs model {current[n]})")
    return "; ".join(parts) or "names and shapes agree but the fingerprint differs"


def read_metadata(path: PathLike) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path} is not a skipwrap file (metadata format {metadata.get('format')!r})")
    return metadata


@torch.no_grad()
def load_tuned(model: Union[SkipWrapped, nn.Module], path: PathLike) -> nn.Module:
    """Load a file written by :func:`save_tuned` into a fresh copy of the same model."""
    net = _model_of(model)
    metadata = read_metadata(path)
    if metadata["model_class"] != _class_name(net):
        raise ValueError(f"{path} was saved from {metadata['model_class']}, "
                         f"not {_class_name(net)}")
    if metadata["fingerprint"] != fingerprint(net):
        detail = _mismatch(json.loads(metadata["shapes"]), _shapes(net))
        raise ValueError(f"{path} does not fit this {type(net).__name__}: {detail}")
    state = net.state_dict(keep_vars=True)
    with safe_open(str(path), framework="pt") as f:
        for name in f.keys():
            target = state[name]
            target.data.copy_(f.get_tensor(name).to(dtype=target.dtype, device=target.device))
    return net
