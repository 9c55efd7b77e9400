"""The Skip Tuning training loop: one user of the public API, like any custom loop.

Per epoch: refresh the image-prefix cache (fresh augmentations, or one of ``V`` views
computed once, or one un-augmented pass), then train the suffixes on batches read from the
cache with the CSkip head; checkpoint atomically; at the end write the tuned weights and
evaluate the full model. Under ``torchrun`` each rank caches and trains on the rows of every
global batch that it owns (index mod world size), CSkip selects classes from the whole
global batch, and DistributedDataParallel averages gradients.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from .. import io, skip_wrap
from ..cache import FeatureStore, batch_indices
from ..cskip import CSkipHead
from ..data import (Benchmark, ImageDataset, canonical_name, collate_skip_broken, csv_source, eval_transform,
                    few_shot, image_folder, load_benchmark, subsample_benchmark, train_transform)
from ..models import load_model
from ..wrap import SkipWrapped
from .checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from .config import SHORT_SCHEDULE, TrainConfig
from .distributed import World, barrier, close_world, gather_rows, init_world
from .evaluate import evaluate_benchmark
from .optim import build_optimizer, build_scheduler

logger = logging.getLogger(__name__)
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
AUTOCAST = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def read_benchmark(config: TrainConfig) -> Benchmark:
    """The data the config names, checked before any work starts."""
    if config.dataset is not None:
        return load_benchmark(config.dataset, config.root)
    path = Path(config.data)
    if path.is_file() and path.suffix.lower() == ".csv":
        return csv_source(path, root=config.root)
    return image_folder(path)


class SeededViews(Dataset):
    """Item ``i`` transformed with a seed fixed by ``(seed, view, ids[i])`` where ``ids`` are the
    rows' global indices: the same augmentation whichever rank or worker computes it, and
    again after a resume."""

    def __init__(self, dataset: ImageDataset, ids: Sequence[int], seed: int, view: int):
        self.dataset, self.ids, self.seed, self.view = dataset, list(ids), seed, view

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed((self.seed * 1_000_003 + self.view) * 10_000_019 + self.ids[index])
            return self.dataset[index]


class SkipTuningStep(nn.Module):
    """What DistributedDataParallel wraps: cached image states -> weighted CSkip loss.

    ``weights`` zero out padding rows; the loss is the sum over this rank's rows divided by
    the global batch size, times the world size (DDP averages over ranks), so every rank
    count gives the gradient of the global batch mean.
    """

    def __init__(self, wrapped: SkipWrapped, head: CSkipHead, world: World):
        super().__init__()
        self.wrapped, self.world = wrapped, world
        self.__dict__["head"] = head  # holds no parameters

    def forward(self, hidden: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor,
                batch_size: int) -> tuple[torch.Tensor, int]:
        features = self.wrapped.encode_image_suffix(hidden)
        real = weights > 0
        all_features = gather_rows(features.detach()[real], self.world)
        all_labels = gather_rows(labels[real], self.world)
        selection = self.head.select(all_features, all_labels)
        logits, targets = self.head.logits(features, labels, classes=selection.classes)
        losses = F.cross_entropy(logits.float(), targets, reduction="none")
        return (losses * weights).sum() / batch_size * self.world.size, len(selection.classes)


@dataclass
class RunResult:
    out: Path
    metrics: dict = field(default_factory=dict)
    epochs: list = field(default_factory=list)


class _Run:
    """State of one run: built once, then driven epoch by epoch by :func:`train`."""

    def __init__(self, config: TrainConfig, world: World, device: torch.device, progress: bool):
        self.config, self.world, self.device = config, world, device
        self.progress = progress and world.is_main
        self.out = Path(config.out)
        self.benchmark = read_benchmark(config)
        if not self.benchmark.train:
            raise ValueError(f"{self.benchmark.name}: no training images")
        self.train_bench = subsample_benchmark(self.benchmark, config.subsample)
        self.samples = (few_shot(self.train_bench.train, config.shots, config.seed)
                        if config.shots else list(self.train_bench.train))
        self.labels = torch.tensor([s.label for s in self.samples])
        self.owned = torch.arange(len(self.samples))[world.rank :: world.size]
        self.position = torch.full((len(self.samples),), -1, dtype=torch.long)
        self.position[self.owned] = torch.arange(len(self.owned))

        loaded = load_model(config.model, config.pretrained)
        self.loaded = loaded
        self.model = loaded.model.to(device)
        self.wrapped, self.head = skip_wrap(
            self.model, skip_layers=config.skip_layers, class_ratio=config.class_ratio,
            max_classes=config.max_classes, decay=config.decay, resample=config.resample, seed=config.seed)
        text = loaded.tokenize(self.train_bench.prompts())
        self.head.set_classes(text["input_ids"].to(device),
                              text["attention_mask"].to(device) if "attention_mask" in text else None)
        self.train_tf = train_transform(loaded.image_size, loaded.mean, loaded.std)
        self.eval_tf = eval_transform(loaded.image_size, loaded.mean, loaded.std)
        # None: a fresh view every epoch; else the number of views cached once and cycled
        self.views = {"epoch": None, "none": 1}[config.cache_views] if not config.cache_views.isdigit() \
            else int(config.cache_views)
        self.store: Optional[FeatureStore] = None
        self.cached_views: set[int] = set()
        self.step_module = SkipTuningStep(self.wrapped, self.head, world)
        self.ddp: Optional[nn.Module] = None

    # -- cache ----------------------------------------------------------------------------
    def _view_of(self, epoch: int) -> int:
        return epoch if self.views is None else epoch % self.views

    def _slot(self, view: int) -> int:
        return 0 if self.views is None else view

    def refresh_cache(self, epoch: int) -> float:
        """Compute the prefix states of this rank's rows for the epoch's view (if not cached)."""
        view = self._view_of(epoch)
        if self.views is not None and view in self.cached_views:
            return 0.0
        start = time.perf_counter()
        augment = self.config.cache_views != "none"
        dataset = ImageDataset([self.samples[i] for i in self.owned.tolist()],
                               self.train_tf if augment else self.eval_tf)
        loader = DataLoader(SeededViews(dataset, self.owned.tolist(), self.config.seed, view),
                            batch_size=self.config.eval_batch_size,
                            num_workers=self.config.workers, collate_fn=collate_skip_broken)
        offset = self._slot(view) * len(self.owned)
        for batch in tqdm(loader, desc=f"cache view {view}", disable=not self.progress, leave=False):
            if batch is None:
                continue
            pixels, _, local = batch
            hidden = self.wrapped.encode_image_prefix(pixels.to(self.device))
            if self.store is None:
                self._allocate(hidden.shape[1:])
            self.store.write(local + offset, hidden)
        self.cached_views.add(view)
        return time.perf_counter() - start

    def _allocate(self, row_shape: Sequence[int]) -> None:
        slots = 1 if self.views is None else self.views
        self.store = FeatureStore(len(self.owned) * slots, row_shape, DTYPES[self.config.cache_dtype],
                                  mode=self.config.cache, ram_budget_gib=self.config.ram_budget_gib,
                                  path=self.out / "cache" / f"image_prefix.rank{self.world.rank}.npy")

    # -- training -------------------------------------------------------------------------
    def build_optimizer(self) -> None:
        row = self.store.read(torch.tensor([0])).to(self.device)
        self.optimizer = build_optimizer(self.wrapped, row, self.config.lr_text, self.config.lr_image,
                                         self.config.momentum, self.config.weight_decay)
        self.scheduler = build_scheduler(self.optimizer, self.config.epochs, self.config.warmup_epochs,
                                         self.config.warmup_lr)
        if self.world.distributed:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.ddp = DistributedDataParallel(self.step_module, device_ids=ids, broadcast_buffers=False)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.config.precision == "fp16")

    def train_epoch(self, epoch: int) -> dict:
        config = self.config
        generator = torch.Generator().manual_seed(config.seed * 7919 + epoch)
        batches = batch_indices(self.labels, config.batch_size, config.resolved_batching, generator)
        offset = self._slot(self._view_of(epoch)) * len(self.owned)
        step = self.ddp or self.step_module
        self.model.train()
        total, count, kept_sum = 0.0, 0, 0
        for batch in tqdm(batches, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not self.progress,
                          leave=False):
            mine = batch[batch % self.world.size == self.world.rank]
            weights = torch.ones(len(mine))
            if len(mine) == 0:  # keep in step with the other ranks: one row of weight 0
                mine, weights = self.owned[:1], torch.zeros(1)
            hidden = self.store.read(self.position[mine] + offset).to(self.device)
            labels, weights = self.labels[mine].to(self.device), weights.to(self.device)
            dtype = AUTOCAST[config.precision]
            with torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
                loss, kept = step(hidden, labels, weights, len(batch))
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            if config.grad_clip is not None:
                self.scaler.unscale_(self.optimizer)
                torch.nn.utils.clip_grad_norm_(
                    [p for g in self.optimizer.param_groups for p in g["params"]], config.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            total += loss.item() * len(batch) / self.world.size  # this rank's share of the batch sum
            count += len(batch) / self.world.size
            kept_sum += kept
        lrs = {f"lr_{g.get('name', i)}": g["lr"] for i, g in enumerate(self.optimizer.param_groups)}
        self.scheduler.step()
        stats = torch.tensor([total, count], dtype=torch.float64)
        if self.world.distributed:
            torch.distributed.all_reduce(stats)
        return {"loss": float(stats[0] / max(stats[1], 1)), "steps": len(batches),
                "kept_classes": kept_sum / max(len(batches), 1), **lrs}


def _append_jsonl(path: Path, record: dict) -> None:
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")


def _device(config: TrainConfig, world: World) -> torch.device:
    if config.device:
        return torch.device(config.device)
    if torch.cuda.is_available():
        return torch.device("cuda", world.local_rank)
    return torch.device("cpu")


def train(config: TrainConfig, *, resume: bool = False, progress: bool = True,
          callbacks: Sequence[Callable[[int, dict], None]] = ()) -> RunResult:
    """Run (or resume) Skip Tuning as ``config`` says; returns the final metrics.

    ``callbacks`` are called as ``fn(epoch, record)`` after each epoch's checkpoint.
    """
    config = config.checked()
    if config.precision == "fp16" and not torch.cuda.is_available():
        raise ValueError("precision fp16 needs a CUDA device (use bf16 on CPU)")
    if config.dataset and canonical_name(config.dataset) in SHORT_SCHEDULE and config.preset is not None:
        # ImageNet, SUN397 and Food101 train for a quarter of the epochs, as the reference does
        epochs = max(1, config.epochs // 4)
        config = config.replace(epochs=epochs, warmup_epochs=min(config.warmup_epochs, epochs))
    out = Path(config.out)
    checkpoint = out / CHECKPOINT
    saved_config = out / "config.json"
    if resume:
        if not checkpoint.exists():
            raise ValueError(f"nothing to resume: {checkpoint} does not exist")
        changed = TrainConfig.from_json(saved_config).differences(config)
        if changed:
            raise ValueError(f"cannot resume {out} with a different configuration ({', '.join(changed)})")
    elif checkpoint.exists():
        raise ValueError(f"{out} already holds a run: pass resume (--resume) or choose another out")
    device_type = torch.device(config.device).type if config.device else (
        "cuda" if torch.cuda.is_available() else "cpu")
    world = init_world(device_type)
    try:
        torch.manual_seed(config.seed)
        device = _device(config, world)
        run = _Run(config, world, device, progress)
        if world.is_main:
            out.mkdir(parents=True, exist_ok=True)
            saved_config.write_text(config.to_json() + "\n")
        first_cache = run.refresh_cache(0)
        run.build_optimizer()
        start_epoch = 0
        if resume:
            start_epoch = load_checkpoint(checkpoint, model=run.model, optimizer=run.optimizer,
                                          scheduler=run.scheduler, head=run.head)
        result = RunResult(out)
        metrics_path = out / "metrics.jsonl"
        for epoch in range(start_epoch, config.epochs):
            cache_s = first_cache if epoch == 0 else run.refresh_cache(epoch)
            began = time.perf_counter()
            record = {"epoch": epoch + 1, **run.train_epoch(epoch), "cache_s": cache_s,
                      "train_s": time.perf_counter() - began}
            if world.is_main:
                save_checkpoint(checkpoint, epoch=epoch + 1, model=run.model, optimizer=run.optimizer,
                                scheduler=run.scheduler, head=run.head)
                _append_jsonl(metrics_path, record)
                logger.info("epoch %d: %s", epoch + 1, record)
            barrier(world)
            result.epochs.append(record)
            for callback in callbacks:
                callback(epoch + 1, record)
        if world.is_main:
            io.save_tuned(run.wrapped, out / "tuned.safetensors")
            if run.benchmark.test:
                result.metrics = evaluate_benchmark(
                    run.wrapped.encoders, run.benchmark, run.loaded.tokenize, run.eval_tf, device,
                    batch_size=config.eval_batch_size, workers=config.workers, progress=run.progress)
                _append_jsonl(metrics_path, {"eval": result.metrics})
        if run.store is not None:
            run.store.close()
        barrier(world)
        return result
    finally:
        close_world(world)
