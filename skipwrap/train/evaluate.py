"""Evaluation with the full model (nothing skipped): top-1 accuracy, and the base-to-new
protocol's Base / New / harmonic mean.

Base is measured on test images of the base classes (first half of the sorted ids) among the
base classes only, New likewise among the new classes, as in CoOp and the paper.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..data import Benchmark, ImageDataset, Sample, collate_skip_broken, subsample_benchmark
from ..towers.base import DualEncoder


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


@torch.no_grad()
def accuracy(encoders: DualEncoder, samples: Sequence[Sample], text: dict, transform: Callable,
             device: torch.device, batch_size: int = 64, workers: int = 0, desc: str = "eval",
             progress: bool = True, autocast_dtype: Optional[torch.dtype] = None) -> float:
    """Top-1 accuracy (%) of zero-shot-style classification over the classes of ``text``."""
    if not samples:
        raise ValueError(f"{desc}: no test images to evaluate on")
    classes = class_embeddings(encoders, text, device)
    loader = DataLoader(ImageDataset(samples, transform), batch_size=batch_size, num_workers=workers,
                        collate_fn=collate_skip_broken)
    correct = total = 0
    for batch in tqdm(loader, desc=desc, disable=not progress, leave=False):
        if batch is None:
            continue
        pixels, labels, _ = batch
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            features = encoders.encode_image(pixels.to(device))
        predictions = (F.normalize(features.float(), dim=-1) @ classes.T).argmax(-1).cpu()
        correct += int((predictions == labels).sum())
        total += len(labels)
    return 100.0 * correct / max(total, 1)


def evaluate_benchmark(encoders: DualEncoder, benchmark: Benchmark, tokenize: Callable, transform: Callable,
                       device: torch.device, subsample: str = "all", **kwargs) -> dict[str, float]:
    """``{"accuracy"}`` over the chosen classes; for ``"all"`` also ``base``, ``new``, ``hm``."""
    def acc(part: Benchmark, name: str) -> float:
        return accuracy(encoders, part.test, tokenize(part.prompts()), transform, device, desc=f"eval {name}",
                        **kwargs)

    if subsample in ("base", "new"):
        return {subsample: acc(subsample_benchmark(benchmark, subsample), subsample)}
    results = {"accuracy": acc(benchmark, "all")}
    if benchmark.num_classes >= 2:
        base = acc(subsample_benchmark(benchmark, "base"), "base")
        new = acc(subsample_benchmark(benchmark, "new"), "new")
        results.update(base=base, new=new, hm=harmonic_mean(base, new))
    return results
