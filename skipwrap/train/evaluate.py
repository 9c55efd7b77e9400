"""Evaluation with the full model (nothing skipped): top-1 accuracy, and the base-to-new
protocol's Base / New / harmonic mean.

Base is measured on test images of the base classes (first half of the sorted ids) among the
base classes only, New likewise among the new classes, as in CoOp and the paper. Every method
(Skip Tuning, FT, the baselines) is scored by the same :func:`evaluate_parts` through a
function that gives, for a set of classes, a logits function over images (or ``None`` where a
method cannot score those classes, e.g. a linear probe on unseen classes).
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..data import Benchmark, ImageDataset, Sample, collate_skip_broken, subsample_benchmark
from ..towers.base import DualEncoder

Logits = Callable[[torch.Tensor], torch.Tensor]


def harmonic_mean(a: float, b: float) -> float:
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


@torch.no_grad()
def class_embeddings(encoders: DualEncoder, text: dict, device: torch.device, chunk: int = 256) -> torch.Tensor:
    ids = text["input_ids"]
    rows = []
    for start in range(0, len(ids), chunk):
        part = {k: v[start:start + chunk].to(device) for k, v in text.items() if k != "input_ids"}
        rows.append(F.normalize(encoders.encode_text(ids[start:start + chunk].to(device), **part).float(), dim=-1))
    return torch.cat(rows)


def zero_shot_logits(encoders: DualEncoder, text: dict, device: torch.device) -> Logits:
    """Cosine similarity of image embeddings to the class prompts' embeddings."""
    classes = class_embeddings(encoders, text, device)
    return lambda pixels: F.normalize(encoders.encode_image(pixels).float(), dim=-1) @ classes.T


@torch.no_grad()
def logits_accuracy(logits_fn: Logits, samples: Sequence[Sample], transform: Callable, device: torch.device,
                    batch_size: int = 64, workers: int = 0, desc: str = "eval", progress: bool = True,
                    autocast_dtype: Optional[torch.dtype] = None) -> float:
    """Top-1 accuracy (%) of ``logits_fn`` over ``samples`` (labels index its columns)."""
    if not samples:
        raise ValueError(f"{desc}: no test images to evaluate on")
    loader = DataLoader(ImageDataset(samples, transform), batch_size=batch_size, num_workers=workers,
                        collate_fn=collate_skip_broken)
    correct = total = 0
    for batch in tqdm(loader, desc=desc, disable=not progress, leave=False):
        if batch is None:
            continue
        pixels, labels, _ = batch
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            predictions = logits_fn(pixels.to(device)).argmax(-1).cpu()
        correct += int((predictions == labels).sum())
        total += len(labels)
    return 100.0 * correct / max(total, 1)


def evaluate_parts(scorer: Callable[[Benchmark], Optional[Logits]], benchmark: Benchmark, transform: Callable,
                   device: torch.device, subsample: str = "all", **kwargs) -> dict[str, Optional[float]]:
    """``{subsample: acc}`` for base / new; for ``"all"``: ``accuracy`` and ``base``, ``new``, ``hm``."""
    def acc(part: Benchmark, name: str) -> Optional[float]:
        logits_fn = scorer(part)
        return None if logits_fn is None else logits_accuracy(logits_fn, part.test, transform, device,
                                                              desc=f"eval {name}", **kwargs)

    if subsample in ("base", "new"):
        return {subsample: acc(subsample_benchmark(benchmark, subsample), subsample)}
    results = {"accuracy": acc(benchmark, "all")}
    if benchmark.num_classes >= 2:
        base = acc(subsample_benchmark(benchmark, "base"), "base")
        new = acc(subsample_benchmark(benchmark, "new"), "new")
        results.update(base=base, new=new, hm=None if base is None or new is None else harmonic_mean(base, new))
    return results


def evaluate_benchmark(encoders: DualEncoder, benchmark: Benchmark, tokenize: Callable, transform: Callable,
                       device: torch.device, subsample: str = "all", **kwargs) -> dict[str, Optional[float]]:
    """The model's own encoders scored with the benchmark's prompts (see :func:`evaluate_parts`)."""
    return evaluate_parts(lambda part: zero_shot_logits(encoders, tokenize(part.prompts()), device),
                          benchmark, transform, device, subsample, **kwargs)
