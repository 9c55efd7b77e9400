"""Load a model by spec, with its tokenizer and image preprocessing.

Specs name a loader and a model: ``demo:tiny_clip`` (the small CLIP shipped with the
package, for the offline demo), ``open_clip:ViT-B-16`` (``pretrained`` is an open_clip tag
such as ``openai`` or a checkpoint file; without it the model starts from random weights
and open_clip warns) or ``hf:openai/clip-vit-base-patch16`` (a hub name or a local directory:
transformers' ``from_pretrained`` works offline from a directory). Weights load through
safetensors or ``torch.load(weights_only=True)`` only, as both libraries do by default.
"""
from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from torch import nn

TextBatch = dict  # {"input_ids": LongTensor, optional "attention_mask": LongTensor}


@dataclass
class LoadedModel:
    """A dual encoder plus what it needs to read text and images."""

    model: nn.Module
    tokenize: Callable[[Sequence[str]], TextBatch]
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    spec: str
    pretrained: Optional[str]


def _open_clip(name: str, pretrained: Optional[str]) -> LoadedModel:
    import open_clip

    known = open_clip.list_models()
    if name not in known and not name.startswith(("hf-hub:", "local-dir:")):
        close = difflib.get_close_matches(name, known, n=5)
        raise ValueError(f"unknown open_clip model {name!r}" + (f"; did you mean {', '.join(close)}?" if close else
                                                                 f"; known: {', '.join(known[:20])}, ..."))
    model = open_clip.create_model(name, pretrained=pretrained)
    tokenizer = open_clip.get_tokenizer(name)
    cfg = getattr(model.visual, "preprocess_cfg", {}) or {}
    size = model.visual.image_size
    size = size if isinstance(size, int) else size[0]
    return LoadedModel(model, lambda texts: {"input_ids": tokenizer(list(texts))}, size,
                       tuple(cfg.get("mean", open_clip.OPENAI_DATASET_MEAN)),
                       tuple(cfg.get("std", open_clip.OPENAI_DATASET_STD)), f"open_clip:{name}", pretrained)


def _hf(name: str, pretrained: Optional[str]) -> LoadedModel:
    try:
        import transformers
    except ImportError as exc:
        raise ImportError("hf: models need transformers: pip install 'skipwrap[hf]'") from exc
    if pretrained is not None:
        warnings.warn("--pretrained is ignored for hf: models; the name or directory says which weights",
                      stacklevel=3)
    model = transformers.AutoModel.from_pretrained(name)
    tokenizer = transformers.AutoTokenizer.from_pretrained(name)
    processor = transformers.AutoImageProcessor.from_pretrained(name)
    length = model.config.text_config.max_position_embeddings
    keep_mask = not model.config.model_type.startswith("siglip")  # SigLIP is trained without one

    def tokenize(texts: Sequence[str]) -> TextBatch:
        batch = tokenizer(list(texts), padding="max_length", max_length=length, truncation=True,
                          return_tensors="pt")
        out = {"input_ids": batch["input_ids"]}
        if keep_mask and "attention_mask" in batch:
            out["attention_mask"] = batch["attention_mask"]
        return out

    size = model.config.vision_config.image_size
    return LoadedModel(model, tokenize, size, tuple(processor.image_mean), tuple(processor.image_std),
                       f"hf:{name}", None)


def _demo(name: str, pretrained: Optional[str]) -> LoadedModel:
    """The small CLIP shipped with skipwrap (open_clip architecture, word-level tokenizer)."""
    from .demo.assets import MODEL_FOLDER, load_demo_model

    if name != MODEL_FOLDER:
        raise ValueError(f"the demo loader has one model, demo:{MODEL_FOLDER}; got demo:{name}")
    model, tokenizer = load_demo_model()
    cfg = model.visual.preprocess_cfg
    return LoadedModel(model, lambda texts: {"input_ids": tokenizer(list(texts))}, model.visual.image_size
                       if isinstance(model.visual.image_size, int) else model.visual.image_size[0],
                       tuple(cfg["mean"]), tuple(cfg["std"]), f"demo:{name}", None)


LOADERS: dict[str, Callable[[str, Optional[str]], LoadedModel]] = {"open_clip": _open_clip, "hf": _hf, "demo": _demo}


def load_model(spec: str, pretrained: Optional[str] = None) -> LoadedModel:
    """``LOADER:NAME`` -> model, tokenizer and preprocessing; see the module docstring."""
    loader, sep, name = spec.partition(":")
    if not sep or loader not in LOADERS or not name:
        raise ValueError(f"model spec must be LOADER:NAME with LOADER one of {', '.join(LOADERS)} "
                         f"(e.g. open_clip:ViT-B-16, hf:openai/clip-vit-base-patch16), got {spec!r}")
    return LOADERS[loader](name, pretrained)
