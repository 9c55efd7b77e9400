"""``skipwrap demo``: the main job, offline, in a few minutes on a laptop CPU.

On the shipped small CLIP and a downstream task of the offline world (its classes split into
base and new halves), it measures zero-shot, full fine-tuning and Skip Tuning side by side:
each method trains on 16 shots of the base classes through ``skipwrap train`` in a process of
its own (so its peak memory is its own), then the full model is evaluated on held-out test
images of the base and of the new classes. The table reports Base, New, their harmonic mean
HM, training time (caching included) and measured peak memory.

Both methods use the same optimiser settings (SGD, lr 2e-4, 10 epochs, batch 4); the lr is the
one that maximises the mean HM of the two over a sweep (docs/demo.md). Images are cached
without augmentation (``--cache-views none``): the paper's random resized crop changes the
apparent size of the 32-pixel shapes, and size is a class attribute in this world.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import torch

from ..data import eval_transform, image_folder
from ..models import load_model
from ..towers import resolve
from ..train.evaluate import evaluate_benchmark
from .world import write_image_folder

MODEL = "demo:tiny_clip"
# Per method: how it trains. FT is skip_layers=0, class_ratio=1.0 through the same loop.
METHODS: dict[str, list[str]] = {
    "full fine-tuning": ["--skip-layers", "0", "--class-ratio", "1.0"],
    "skip tuning": [],  # skip_layers = half of each tower, class_ratio = 0.5
}


@dataclass
class Row:
    method: str
    base: float
    new: float
    hm: float
    train_s: Optional[float] = None
    peak_mib: Optional[float] = None


def _train_options(args: argparse.Namespace) -> list[str]:
    return ["--model", MODEL, "--shots", str(args.shots), "--subsample", "base", "--epochs", str(args.epochs),
            "--batch-size", str(args.batch_size), "--lr-text", str(args.lr), "--lr-image", str(args.lr),
            "--warmup-epochs", "0", "--cache-views", "none", "--seed", str(args.seed), "--workers", "0",
            "--device", "cpu"]


def _run_method(name: str, extra: list[str], data: Path, out: Path, args: argparse.Namespace) -> Row:
    """Train in a child process; its own peak RSS comes from ``wait4``."""
    cmd = [sys.executable, "-m", "skipwrap.cli", "train", *_train_options(args), *extra,
           "--data", str(data), "--out", str(out)]
    print(f"\n== {name}: training on the base classes ({args.shots} shots) ==", file=sys.stderr, flush=True)
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{name} failed (exit {os.waitstatus_to_exitcode(status)}); command: {' '.join(cmd)}")
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    metrics = next(r["eval"] for r in records if "eval" in r)
    train_s = sum(r["cache_s"] + r["train_s"] for r in records if "epoch" in r)
    return Row(name, metrics["base"], metrics["new"], metrics["hm"], train_s, usage.ru_maxrss / 1024)


def _zero_shot(data: Path, args: argparse.Namespace) -> Row:
    loaded = load_model(MODEL)
    metrics = evaluate_benchmark(resolve(loaded.model), image_folder(data), loaded.tokenize,
                                 eval_transform(loaded.image_size, loaded.mean, loaded.std), torch.device("cpu"),
                                 batch_size=256)
    return Row("zero-shot", metrics["base"], metrics["new"], metrics["hm"])


def table(rows: list[Row]) -> str:
    lines = ["| method | Base | New | HM | training time (s) | peak memory (MiB) |", "|---|---|---|---|---|---|"]
    for r in rows:
        time_s = "—" if r.train_s is None else f"{r.train_s:.1f}"
        peak = "—" if r.peak_mib is None else f"{r.peak_mib:.0f}"
        lines.append(f"| {r.method} | {r.base:.2f} | {r.new:.2f} | {r.hm:.2f} | {time_s} | {peak} |")
    return "\n".join(lines)


def plot(rows: list[Row], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("--plot needs matplotlib: pip install matplotlib") from exc
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    names = [r.method for r in rows]
    width = 0.25
    for i, key in enumerate(("base", "new", "hm")):
        axes[0].bar([x + (i - 1) * width for x in range(len(rows))], [getattr(r, key) for r in rows], width,
                    label={"hm": "HM"}.get(key, key.capitalize()))
    axes[0].set_xticks(range(len(rows)), names)
    axes[0].set_ylabel("accuracy (%)")
    axes[0].legend()
    trained = [r for r in rows if r.train_s is not None]
    axes[1].bar([r.method for r in trained], [r.train_s for r in trained], color="tab:gray")
    axes[1].set_ylabel("training time (s)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="skipwrap demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("skipwrap-demo"), help="where results and runs are written")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--shots", type=int, default=16)
    p.add_argument("--test-per-class", type=int, default=25)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--lr", type=float, default=2e-4, help="SGD learning rate of both towers, both methods")
    p.add_argument("--quick", action="store_true", help="a shortened run (CI): 2 epochs, 8 shots, 5 test images")
    p.add_argument("--plot", action="store_true", help="also write OUT/results.png")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.shots, args.test_per_class = 2, 8, 5
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    runs = Path(tempfile.mkdtemp(prefix="runs-", dir=args.out))
    data = write_image_folder(runs / "data", {"train": args.shots, "test": args.test_per_class}, args.seed)
    print(f"downstream task written to {data}", file=sys.stderr)
    rows = [_zero_shot(data, args)]
    for name, extra in METHODS.items():
        rows.append(_run_method(name, extra, data, runs / name.replace(" ", "-"), args))
    tuned = args.out / "tuned.safetensors"
    os.replace(runs / "skip-tuning" / "tuned.safetensors", tuned)
    text = table(rows)
    (args.out / "results.md").write_text(text + "\n")
    (args.out / "results.json").write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    if args.plot:
        plot(rows, args.out / "results.png")
    print("\n" + text)
    print(f"\nBase / New: top-1 accuracy (%) on held-out test images of the base classes (trained on) and "
          f"of the new classes (never seen in fine-tuning); HM: their harmonic mean. Seed {args.seed}. "
          f"Skip Tuning weights: {tuned}. Total {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
