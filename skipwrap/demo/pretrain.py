"""Pre-train the demo CLIP contrastively on the demo world: ``python -m skipwrap.demo.pretrain``.

The model is open_clip's own ``CLIP`` built from a custom config, so everything downstream
(skipwrap's open_clip adapter, ``create_model("local-dir:...")``) runs the real library code.
Image–caption batches are drawn on the fly from ``world.sample_pretrain`` with the seed
``(seed, step)``: a run is reproducible from its seed and never sees a batch twice. The
result is an open_clip ``local-dir`` folder (see ``local_dir``), evaluated zero-shot on a
fresh downstream test set after loading it back, so the reported numbers are those of the
written file.

Defaults are the shipped model's settings. Training uses one thread by default: the
matrices are tiny, and on a shared machine a second OpenMP thread mostly spins waiting.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import open_clip
import torch
from open_clip.loss import ClipLoss
from open_clip.model import CLIP, set_model_preprocess_cfg
from torch import nn
from tqdm import tqdm

from . import world
from ..data.records import DEFAULT_TEMPLATE
from .local_dir import WEIGHTS_DTYPE, read_local_dir, write_local_dir, write_record
from .pixels import normalise
from .render import IMAGE_SIZE
from .tokenizer import WordTokenizer
from .zero_shot import base_new_zero_shot

RECENT = 50  # steps averaged into the reported final loss


@dataclass(frozen=True)
class PretrainConfig:
    """Everything a run depends on; each field is also a command-line option (``--batch-size``)."""

    seed: int = 0
    steps: int = 800
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup_steps: int = 100
    embed_dim: int = 64
    vision_width: int = 64
    vision_layers: int = 6
    patch_size: int = 4
    text_width: int = 64
    text_layers: int = 4
    head_width: int = 32
    threads: int = 1
    statistics_images: int = 4096  # pre-training images behind the preprocess mean / std
    eval_per_class: int = 50
    eval_seed: int = 12345


def model_config(cfg: PretrainConfig, tokenizer: WordTokenizer) -> dict:
    """The open_clip ``model_cfg`` of the demo CLIP (what ``open_clip_config.json`` stores)."""
    return {
        "embed_dim": cfg.embed_dim,
        "vision_cfg": {"image_size": IMAGE_SIZE, "patch_size": cfg.patch_size, "width": cfg.vision_width,
                       "layers": cfg.vision_layers, "head_width": cfg.head_width},
        "text_cfg": {"context_length": tokenizer.context_length, "vocab_size": tokenizer.vocab_size,
                     "width": cfg.text_width, "heads": max(cfg.text_width // cfg.head_width, 1),
                     "layers": cfg.text_layers},
    }


def preprocess_config(cfg: PretrainConfig) -> dict:
    """Per-channel mean / std of pre-training images, in open_clip's ``preprocess_cfg`` form."""
    images, _ = world.sample_pretrain(cfg.statistics_images, cfg.seed)  # never a training batch: those use (seed, step)
    pixels = images.reshape(-1, 3) / 255
    return {"size": IMAGE_SIZE, "mean": np.round(pixels.mean(0), 4).tolist(),
            "std": np.round(pixels.std(0), 4).tolist()}


def command_line(cfg: PretrainConfig, out: Path) -> str:
    """The command that repeats this run, every setting spelled out."""
    options = " ".join(f"--{name.replace('_', '-')} {value}" for name, value in dataclasses.asdict(cfg).items())
    return f"python -m skipwrap.demo.pretrain --out {out} {options}"


def _warmup_cosine(cfg: PretrainConfig) -> Callable[[int], float]:
    """Learning-rate factor per step: linear warm-up, then cosine decay to zero."""
    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        progress = (step - cfg.warmup_steps) / max(cfg.steps - cfg.warmup_steps, 1)
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return factor


def _optimizer(model: nn.Module, cfg: PretrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on gains, biases, class token or logit scale)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(
        [{"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
         {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}],
        lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6,
    )


def train(model: CLIP, tokenizer: WordTokenizer, cfg: PretrainConfig, progress: bool = True) -> list[float]:
    """Contrastive training with open_clip's ``ClipLoss``; returns the loss of every step."""
    mean, std = model.visual.preprocess_cfg["mean"], model.visual.preprocess_cfg["std"]
    optimizer = _optimizer(model, cfg)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_cosine(cfg))
    loss_fn = ClipLoss()
    losses: list[float] = []
    model.train()
    bar = tqdm(range(cfg.steps), desc="pretrain", unit="step", disable=not progress)
    for step in bar:
        images, captions = world.sample_pretrain(cfg.batch_size, (cfg.seed, step))
        image_features, text_features, scale = model(normalise(images, mean, std), tokenizer(captions))
        loss = loss_fn(image_features, text_features, scale)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))  # as open_clip's trainer: temperature >= 0.01
        losses.append(loss.item())
        bar.set_postfix(loss=f"{losses[-1]:.3f}", scale=f"{scale.item():.1f}")
    return losses


def pretrain(cfg: PretrainConfig, out: Path, progress: bool = True) -> dict:
    """Build, train, write and re-evaluate the demo CLIP; returns the record written beside it.

    Runs on ``cfg.threads`` threads and restores the caller's thread count afterwards.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        return _pretrain(cfg, out, progress)
    finally:
        torch.set_num_threads(threads)


def _pretrain(cfg: PretrainConfig, out: Path, progress: bool) -> dict:
    started = time.perf_counter()
    tokenizer = WordTokenizer.from_texts(world.all_captions())
    model_cfg = model_config(cfg, tokenizer)
    preprocess_cfg = preprocess_config(cfg)
    with torch.random.fork_rng():  # seeded initialisation without touching the caller's generator
        torch.manual_seed(cfg.seed)
        model = CLIP(**model_cfg)
    set_model_preprocess_cfg(model, preprocess_cfg)
    losses = train(model, tokenizer, cfg, progress)
    train_seconds = time.perf_counter() - started
    record = {
        "config": dataclasses.asdict(cfg),
        "command": command_line(cfg, out),
        "train_seconds": round(train_seconds, 1),
        "final_loss": round(float(np.mean(losses[-RECENT:])), 4),
        "parameters": sum(p.numel() for p in model.parameters()),
        "weights_dtype": str(WEIGHTS_DTYPE).removeprefix("torch."),
        "versions": {"torch": torch.__version__, "open_clip": open_clip.__version__, "numpy": np.__version__},
    }
    write_local_dir(out, model, model_cfg, preprocess_cfg, tokenizer, record)
    loaded, loaded_tokenizer = read_local_dir(out)
    scores = base_new_zero_shot(loaded, loaded_tokenizer, cfg.eval_per_class, cfg.eval_seed, DEFAULT_TEMPLATE)
    record["zero_shot"] = {"per_class": cfg.eval_per_class, "seed": cfg.eval_seed, "template": DEFAULT_TEMPLATE,
                           **{name: round(value, 4) for name, value in scores.items()}}
    write_record(out, record)
    return record


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m skipwrap.demo.pretrain", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the local-dir folder to write (replaced if present)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    for field in dataclasses.fields(PretrainConfig):
        parser.add_argument(f"--{field.name.replace('_', '-')}", type=type(field.default),
                            default=field.default, help=f"default {field.default}")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = _parser().parse_args(argv)
    cfg = PretrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(PretrainConfig)})
    record = pretrain(cfg, args.out, progress=not args.quiet)
    scores = record["zero_shot"]
    print(f"wrote {args.out} in {record['train_seconds']:.0f} s of training; final loss {record['final_loss']:.3f}; "
          f"zero-shot base {scores['base']:.1%}, new {scores['new']:.1%}, all {scores['all']:.1%} "
          f"(seed {scores['seed']}, {scores['per_class']} images per class)")


if __name__ == "__main__":
    main()
