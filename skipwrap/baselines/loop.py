"""The one loop that trains and evaluates every baseline.

Data are read exactly as the Skip Tuning loop reads them (same benchmark, class subsample and
few-shot draw for a config); a DataLoader applies the train transform per step (the eval
transform for methods that train on frozen, un-augmented features). The method's
hyper-parameters are its published defaults (:class:`~.method.Hyper` of each method), replaced
by ``overrides``. Config fields honoured: ``model``, ``pretrained``, ``data``, ``dataset``,
``root``, ``shots``, ``subsample``, ``epochs``, ``seed``, ``workers``, ``eval_batch_size``,
``device``, ``precision``, ``grad_clip``, ``out``. Skip Tuning's own optimisation fields
(``batch_size``, ``lr_text``, ``lr_image``, ``momentum``, ``weight_decay``, ``warmup_*``) and
its skip / cache / batching fields are not read: a baseline's batch size, learning rate,
weight decay, momentum and warm-up are overrides (``batch_size``, ``lr``, ...).

Writes ``OUT/config.json`` (the config plus ``method``, ``overrides`` and the resolved
``hyper``), ``OUT/metrics.jsonl`` (one record per epoch, then the evaluation) and
``OUT/<method>.safetensors`` (what the method trained), and evaluates on the test split.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..data import (ImageDataset, Sample, collate_skip_broken, eval_transform, few_shot, subsample_benchmark,
                    train_transform)
from ..io import atomic_save_file
from ..models import load_model
from ..train import RunResult, TrainConfig
from ..train.loop import AUTOCAST, read_benchmark
from .evaluate import evaluate_method
from .method import Method
from .optim import Hyper, build_optimizer, build_scheduler
from .registry import build_method

logger = logging.getLogger(__name__)
FORMAT = "skipwrap-baseline"


def _append_jsonl(path: Path, record: dict) -> None:
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")


def _device(config: TrainConfig) -> torch.device:
    if config.device:
        return torch.device(config.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _fit(method: Method, hyper: Hyper, samples: Sequence[Sample], transform, config: TrainConfig,
         device: torch.device, metrics_path: Path, progress: bool) -> list[dict]:
    """Train ``method`` for ``config.epochs``; returns (and appends) one record per epoch."""
    loader = DataLoader(ImageDataset(samples, transform), batch_size=hyper.batch_size, shuffle=True,
                        generator=torch.Generator().manual_seed(config.seed), num_workers=config.workers,
                        collate_fn=collate_skip_broken)
    params = method.trainable_parameters()
    optimizer = build_optimizer(params, hyper)
    scheduler = build_scheduler(optimizer, hyper, config.epochs, len(loader))
    dtype = AUTOCAST[config.precision]
    scaler = torch.amp.GradScaler(device.type, enabled=config.precision == "fp16")
    records = []
    for epoch in range(config.epochs):
        method.train_mode(True)
        lr = optimizer.param_groups[0]["lr"]
        began, total, count, steps = time.perf_counter(), 0.0, 0, 0
        for batch in tqdm(loader, desc=f"{method.name} epoch {epoch + 1}/{config.epochs}", disable=not progress,
                          leave=False):
            if batch is None:
                continue
            pixels, labels, _ = batch
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                loss = method.loss(pixels.to(device), labels.to(device))
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if config.grad_clip is not None:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            total += loss.item() * len(labels)
            count += len(labels)
            steps += 1
        record = {"epoch": epoch + 1, "loss": total / max(count, 1), "steps": steps,
                  "lr": lr, "seconds": time.perf_counter() - began}
        _append_jsonl(metrics_path, record)
        logger.info("%s epoch %d: %s", method.name, epoch + 1, record)
        records.append(record)
    return records


def train_baseline(config: TrainConfig, method: str, *, overrides: Optional[Mapping[str, Any]] = None,
                   progress: bool = True) -> RunResult:
    """Train baseline ``method`` (a key of ``METHODS``) as ``config`` says and evaluate it.

    ``overrides`` replace the method's published hyper-parameters (``lr``, ``batch_size``,
    ``weight_decay``, ``momentum``, ``warmup_epochs``, ``warmup_lr``, ``min_lr``, ``optimizer``)
    and set its options (coop: ``n_ctx``, ``init_std``; lora: ``rank``, ``alpha``,
    ``dropout``). A bad method name or override raises ``ValueError`` before any work.
    Returns the per-epoch records and the metrics: ``accuracy`` and, with two classes or more,
    ``base`` / ``new`` / ``hm``, each ``None`` where the method cannot score those classes.
    """
    config = config.checked()
    runner, hyper = build_method(method, overrides)
    if config.precision == "fp16" and not torch.cuda.is_available():
        raise ValueError("precision fp16 needs a CUDA device (use bf16 on CPU)")
    out = Path(config.out)
    weights = out / f"{method}.safetensors"
    if weights.exists():
        raise ValueError(f"{out} already holds a {method} run: choose another out")
    benchmark = read_benchmark(config)
    if not benchmark.train:
        raise ValueError(f"{benchmark.name}: no training images")
    torch.manual_seed(config.seed)
    device = _device(config)
    train_bench = subsample_benchmark(benchmark, config.subsample)
    samples = few_shot(train_bench.train, config.shots, config.seed) if config.shots else list(train_bench.train)
    loaded = load_model(config.model, config.pretrained)
    loaded.model.to(device)
    runner.setup(loaded, train_bench, device)

    out.mkdir(parents=True, exist_ok=True)
    saved = {**json.loads(config.to_json()), "method": method, "overrides": dict(overrides or {}),
             "hyper": asdict(hyper) if hyper is not None else None}
    (out / "config.json").write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")
    metrics_path = out / "metrics.jsonl"
    metrics_path.write_text("")
    result = RunResult(out)
    if hyper is not None:
        augment = runner.augment and config.cache_views != "none"  # 'none': no augmentation, as for Skip Tuning
        transform = (train_transform if augment else eval_transform)(loaded.image_size, loaded.mean, loaded.std)
        result.epochs = _fit(runner, hyper, samples, transform, config, device, metrics_path, progress)
    tensors = {k: v.detach().cpu().contiguous() for k, v in runner.state_dict_to_save().items()}
    atomic_save_file(tensors, weights, {"format": FORMAT, "method": method, "model": config.model})
    if benchmark.test:
        result.metrics = evaluate_method(
            runner, benchmark, eval_transform(loaded.image_size, loaded.mean, loaded.std), device,
            batch_size=config.eval_batch_size, workers=config.workers, progress=progress,
            autocast_dtype=AUTOCAST[config.precision])
        _append_jsonl(metrics_path, {"eval": result.metrics})
    return result
