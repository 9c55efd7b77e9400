"""The resolved configuration of a training run, its presets, and its checks.

Defaults are the paper's base-to-new setting for ViT-B/16 (DESIGN.md section 1); the
``fewshot`` preset switches to its few-shot schedule. Every field is checked before any
work starts, and a bad value raises ``ValueError`` naming the valid range.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Optional

PRESETS: dict[str, dict[str, Any]] = {
    # base-to-new, 16 shots: SGD, 20 epochs, text 2e-5 / image 5e-6, 1 warm-up epoch at 1e-6
    "base2new": dict(shots=16, epochs=20, lr_text=2e-5, lr_image=5e-6, warmup_epochs=1, warmup_lr=1e-6),
    # few-shot: one learning rate of 1e-5, 40 epochs, no warm-up
    "fewshot": dict(epochs=40, lr_text=1e-5, lr_image=1e-5, warmup_epochs=0, warmup_lr=1e-6),
}
# ImageNet, SUN397 and Food101 train for a quarter of the epochs in the reference
SHORT_SCHEDULE = {"ImageNet", "SUN397", "Food101"}
PRECISIONS = ("fp32", "bf16", "fp16")
CACHE_MODES = ("auto", "ram", "disk")
CACHE_DTYPES = ("float32", "float16", "bfloat16")
BATCHING = ("auto", "class", "random")
SUBSAMPLES = ("all", "base")


@dataclass
class TrainConfig:
    """Everything a run depends on; written to ``OUT/config.json``."""

    model: str = "open_clip:ViT-B-16"
    pretrained: Optional[str] = None
    data: Optional[str] = None            # an image folder or a CSV file
    dataset: Optional[str] = None         # a standard benchmark name (with root)
    root: Optional[str] = None
    shots: int = 16                       # 0: every training image
    subsample: str = "all"                # train on all classes or the base half
    skip_layers: Optional[int] = None     # None: half of each tower
    class_ratio: float = 0.5
    max_classes: int = 50
    decay: float = 0.3
    resample: bool = False
    epochs: int = 20
    batch_size: int = 4
    lr_text: float = 2e-5
    lr_image: float = 5e-6
    warmup_epochs: int = 1
    warmup_lr: float = 1e-6
    momentum: float = 0.9
    weight_decay: float = 5e-4
    precision: str = "fp32"
    grad_clip: Optional[float] = None
    cache_views: str = "epoch"            # "epoch": fresh augmentation each epoch; "V": V views; "none"
    cache: str = "auto"
    cache_dtype: str = "float32"
    ram_budget_gib: float = 2.0
    batching: str = "auto"                # auto: one class per batch with >= 4 shots, else random
    seed: int = 1
    workers: int = 2
    eval_batch_size: int = 64
    device: Optional[str] = None
    out: str = "out"
    preset: Optional[str] = None

    @classmethod
    def with_preset(cls, preset: Optional[str], **overrides: Any) -> "TrainConfig":
        """A config from a named preset, then explicit overrides (``None`` values ignored)."""
        if preset is not None and preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        values = dict(PRESETS.get(preset, {}))
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(preset=preset, **values).checked()

    def checked(self) -> "TrainConfig":
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ValueError(message)

        need((self.data is None) != (self.dataset is None),
             "give exactly one of data (an image folder or CSV) and dataset (a benchmark name)")
        need(self.dataset is None or self.root is not None, "dataset needs root (the folder holding it)")
        need(self.shots >= 0, f"shots must be >= 0 (0: every image), got {self.shots}")
        need(self.subsample in SUBSAMPLES, f"subsample must be one of {', '.join(SUBSAMPLES)}, got {self.subsample!r}")
        need(self.skip_layers is None or self.skip_layers >= 0, f"skip_layers must be >= 0, got {self.skip_layers}")
        need(0 < self.class_ratio <= 1, f"class_ratio must be in (0, 1], got {self.class_ratio}")
        need(self.max_classes >= 1, f"max_classes must be >= 1, got {self.max_classes}")
        need(self.decay > 0, f"decay must be > 0, got {self.decay}")
        need(self.epochs >= 1, f"epochs must be >= 1, got {self.epochs}")
        need(self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}")
        for name in ("lr_text", "lr_image", "warmup_lr"):
            need(getattr(self, name) > 0, f"{name} must be > 0, got {getattr(self, name)}")
        need(0 <= self.warmup_epochs <= self.epochs,
             f"warmup_epochs must be in [0, {self.epochs}], got {self.warmup_epochs}")
        need(0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}")
        need(self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay}")
        need(self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        need(self.grad_clip is None or self.grad_clip > 0, f"grad_clip must be > 0, got {self.grad_clip}")
        need(self.cache_views in ("epoch", "none") or (self.cache_views.isdigit() and int(self.cache_views) >= 1),
             f"cache_views must be 'epoch', 'none' or a number of views >= 1, got {self.cache_views!r}")
        need(self.cache in CACHE_MODES, f"cache must be one of {', '.join(CACHE_MODES)}, got {self.cache!r}")
        need(self.cache_dtype in CACHE_DTYPES,
             f"cache_dtype must be one of {', '.join(CACHE_DTYPES)}, got {self.cache_dtype!r}")
        need(self.ram_budget_gib > 0, f"ram_budget_gib must be > 0, got {self.ram_budget_gib}")
        need(self.batching in BATCHING, f"batching must be one of {', '.join(BATCHING)}, got {self.batching!r}")
        need(self.workers >= 0, f"workers must be >= 0, got {self.workers}")
        need(self.eval_batch_size >= 1, f"eval_batch_size must be >= 1, got {self.eval_batch_size}")
        return self

    @property
    def resolved_batching(self) -> str:
        if self.batching != "auto":
            return self.batching
        return "class" if self.shots >= 4 else "random"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, path: Path) -> "TrainConfig":
        data = json.loads(Path(path).read_text())
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def differences(self, other: "TrainConfig", ignore: tuple[str, ...] = ("workers", "device")) -> list[str]:
        """Fields (other than ``ignore``) whose values differ: resuming needs none."""
        mine, theirs = asdict(self), asdict(other)
        return [k for k in mine if k not in ignore and mine[k] != theirs[k]]

    def replace(self, **changes: Any) -> "TrainConfig":
        return replace(self, **changes).checked()
