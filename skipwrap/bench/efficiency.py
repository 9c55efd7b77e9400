"""``skipwrap bench efficiency``: per-step and per-epoch cost of every method, side by side.

For one model (default open_clip ``ViT-B-16``, random weights are fine for cost), batch size
and class counts, each method runs in a child process of its own so that its peak memory is
its own (peak RSS on CPU, ``torch.cuda.max_memory_allocated`` on a GPU). Per method:

* step time: median of repeated optimiser steps (forward, backward, update) after a warm-up;
* epoch time with 16 shots x C images, *composed from measured medians* (and labelled so):
  (measured per-image caching time x 16C, for methods that cache) + (median step time x the
  number of steps), since a real FT epoch at 300 classes takes hours on a CPU;
* measured peak memory, trainable parameter count, and classes run per step.

A method that does not fit in memory is reported as "OOM" (on CPU, allocations beyond
``--memory-limit-gib`` fail instead of waking the kernel's OOM killer), never hidden.

    skipwrap bench efficiency --model ViT-B-16 --classes 100 300 --out docs/efficiency

Methods: ``ft`` (the model's own encoders on raw pixels and every prompt, every parameter
trainable), ``skip`` (skip_wrap(k, r) on cached prefix states), ``coop`` (16 context vectors,
both towers frozen, gradients through the whole text tower), ``lora`` (CLIP-LoRA rank 2 on
q/k/v of both towers, via peft), and two skipwrap levers: ``skip-full-text`` (no exact
shortening of the text suffix), ``skip-bf16-cache`` (prefix states cached in bfloat16) and
``k0-r1`` (skip_wrap(0, 1.0): FT through skipwrap's path).
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch
import torch.nn.functional as F

METHODS = ("ft", "skip", "coop", "lora", "skip-full-text", "skip-bf16-cache", "k0-r1")
ADJECTIVES = ("red", "small", "golden", "spotted", "wild", "giant", "striped", "northern", "common",
              "black", "white", "painted", "great", "little", "royal", "desert", "mountain", "river")
NOUNS = ("fox", "retriever", "sparrow", "tulip", "airliner", "sedan", "owl", "terrier", "lily", "beetle",
         "salmon", "cathedral", "bicycle", "pizza", "canyon", "orchid", "lizard", "kettle", "violin",
         "lighthouse", "heron", "cactus", "tram", "pelican", "maple", "turtle", "harbor", "lantern")


def class_names(n: int) -> list[str]:
    """Deterministic, realistic-length class names ("spotted owl", then "spotted owl 1", ...)."""
    names = [f"{a} {b}" for b in NOUNS for a in ADJECTIVES]
    return [names[i % len(names)] + ("" if i < len(names) else f" {i // len(names)}") for i in range(n)]


@dataclass
class Result:
    method: str
    classes: int
    step_s: Optional[float] = None
    steps: list[float] = field(default_factory=list)
    cache_per_image_s: Optional[float] = None
    epoch_s: Optional[float] = None
    peak_mib: Optional[float] = None
    kept_classes: Optional[float] = None
    trainable: Optional[int] = None
    error: Optional[str] = None


@dataclass
class Setup:
    """What a method gives the timing loop: a step on a batch, its parameters, and (for
    caching methods) the per-batch caching function that turns pixels into step inputs."""

    step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    params: list
    cache: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
    kept: Callable[[], int] = lambda: 0


def _skipwrap(loaded, ids, args, method: str) -> Setup:
    from .. import skip_wrap

    k, r = (0, 1.0) if method == "k0-r1" else (args.skip, args.ratio)
    wrapped, head = skip_wrap(loaded.model, skip_layers=k, class_ratio=r, shorten_text=method != "skip-full-text",
                              cache_dtype=torch.bfloat16 if method == "skip-bf16-cache" else None)
    head.set_classes(ids)
    return Setup(step=lambda hidden, labels: head(wrapped.encode_image_suffix(hidden), labels),
                 params=[p for p in loaded.model.parameters() if p.requires_grad],
                 cache=wrapped.encode_image_prefix, kept=lambda: len(head.last_selection.classes))


def _ft(loaded, ids, args, method: str) -> Setup:
    model = loaded.model

    def step(pixels, labels):
        image = F.normalize(model.encode_image(pixels), dim=-1)
        text = F.normalize(model.encode_text(ids), dim=-1)
        return F.cross_entropy(model.logit_scale.exp() * image @ text.T, labels)

    return Setup(step=step, params=list(model.parameters()), kept=lambda: len(ids))


def _baseline(loaded, ids, args, method: str) -> Setup:
    from ..baselines import METHODS as BASELINES
    from ..data import Benchmark

    runner = BASELINES[method]()
    runner.setup(loaded, Benchmark("bench", class_names(args.classes[0])), torch.device(args.device))
    runner.train_mode(True)
    return Setup(step=runner.loss, params=runner.trainable_parameters(), kept=lambda: args.classes[0])


BUILDERS: dict[str, Callable] = {"ft": _ft, "skip": _skipwrap, "skip-full-text": _skipwrap,
                                 "skip-bf16-cache": _skipwrap, "k0-r1": _skipwrap, "coop": _baseline,
                                 "lora": _baseline}


def _child(args: argparse.Namespace) -> Result:
    from ..models import load_model
    from .memory import limit_address_space, peak_mib

    classes = args.classes[0]
    device = torch.device(args.device)
    if device.type == "cpu" and args.memory_limit_gib:
        limit_address_space(args.memory_limit_gib)
    torch.manual_seed(0)
    result = Result(args.method, classes)
    loaded = load_model(args.model if ":" in args.model else f"open_clip:{args.model}")
    loaded.model.to(device).train()
    ids = loaded.tokenize([f"a photo of a {c}." for c in class_names(classes)])["input_ids"].to(device)
    g = torch.Generator().manual_seed(0)
    size = loaded.image_size
    batches = [(torch.randn(args.batch, 3, size, size, generator=g).to(device),
                torch.full((args.batch,), int(torch.randint(classes, (1,), generator=g)), device=device))
               for _ in range(args.repeats + 1)]
    kept: list[int] = []
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    try:
        setup = BUILDERS[args.method](loaded, ids, args, args.method)
        if setup.cache is not None:  # caching is per epoch, outside the step, and timed per image
            timed = []
            for i, (pixels, labels) in enumerate(batches):
                start = time.perf_counter()
                batches[i] = (setup.cache(pixels), labels)
                sync()
                timed.append((time.perf_counter() - start) / len(pixels))
            result.cache_per_image_s = statistics.median(timed[1:] or timed)
        result.trainable = sum(p.numel() for p in setup.params)
        optimizer = torch.optim.SGD(setup.params, lr=1e-6, momentum=0.9)
        for i, (inputs, labels) in enumerate(batches):
            start = time.perf_counter()
            loss = setup.step(inputs, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            sync()
            kept.append(setup.kept())
            if i:  # the first step warms up
                result.steps.append(time.perf_counter() - start)
        result.step_s = statistics.median(result.steps)
        result.kept_classes = statistics.mean(kept)
        images = args.shots * classes
        result.epoch_s = (result.cache_per_image_s or 0.0) * images + result.step_s * math.ceil(images / args.batch)
    except (RuntimeError, MemoryError) as exc:  # allocation failures under the memory limit
        if not isinstance(exc, MemoryError) and "memory" not in str(exc).lower():
            raise
        result.error = "OOM"
    result.peak_mib = peak_mib(device)
    return result


def run_one(method: str, classes: int, args: argparse.Namespace) -> Result:
    cmd = [sys.executable, "-m", "skipwrap.bench.efficiency", "--child", "--method", method,
           "--classes", str(classes), "--model", args.model, "--batch", str(args.batch), "--shots", str(args.shots),
           "--skip", str(args.skip), "--ratio", str(args.ratio), "--device", args.device,
           "--memory-limit-gib", str(args.memory_limit_gib),
           "--repeats", str(args.repeats if method.startswith("skip") else args.slow_repeats)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        reason = "OOM (killed)" if proc.returncode in (-9, 137) else f"failed: {proc.stderr.strip()[-300:]}"
        return Result(method, classes, error=reason)
    return Result(**json.loads(lines[-1]))


def _fmt(value, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _ratio(num: Optional[float], den: Optional[float]) -> str:
    return f"{num / den:.1f}×" if num and den else "—"


def table(results: list[Result], peers: tuple[str, ...] = ("ft", "coop", "lora")) -> str:
    by = {(r.method, r.classes): r for r in results}
    present = [p for p in peers if any(r.method == p for r in results)]
    head = ("| classes | method | step (s, median) | epoch 16×C (s) | peak memory (MiB) | classes run per step "
            "| trainable params | " + " | ".join(f"step speed-up vs {p}" for p in present)
            + " | " + " | ".join(f"memory vs {p}" for p in present) + " |")
    rows = [head, "|" + "---|" * (7 + 2 * len(present))]
    for r in results:
        step = r.error if r.error else _fmt(r.step_s, ".3f")
        epoch = _fmt(r.epoch_s, ".0f") + ("" if r.epoch_s is None else "*")
        speed = [_ratio(by[(p, r.classes)].step_s, r.step_s) if (p, r.classes) in by else "—" for p in present]
        memory = []
        for p in present:
            peer = by.get((p, r.classes))
            ok = peer and peer.peak_mib and not peer.error and r.peak_mib and not r.error
            memory.append(f"{r.peak_mib / peer.peak_mib:.2f}×" if ok else "—")
        rows.append(f"| {r.classes} | {r.method} | {step} | {epoch} | {_fmt(r.peak_mib, '.0f')} "
                    f"| {_fmt(r.kept_classes, '.1f')} | {_fmt(r.trainable, ',d')} | "
                    + " | ".join(speed) + " | " + " | ".join(memory) + " |")
    return "\n".join(rows)


def chart(results: list[Result], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = sorted({r.classes for r in results})
    methods = list(dict.fromkeys(r.method for r in results))
    by = {(r.method, r.classes): r for r in results}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / len(methods)
    for i, m in enumerate(methods):
        xs = [j + (i - (len(methods) - 1) / 2) * width for j in range(len(counts))]
        axes[0].bar(xs, [by[(m, c)].step_s or 0 if (m, c) in by else 0 for c in counts], width, label=m)
        axes[1].bar(xs, [(by[(m, c)].peak_mib or 0) / 1024 if (m, c) in by else 0 for c in counts], width, label=m)
    for ax, label in zip(axes, ("step time (s, log)", "peak memory (GiB)")):
        ax.set_xticks(range(len(counts)), [f"{c} classes" for c in counts])
        ax.set_ylabel(label)
    axes[0].set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="skipwrap bench efficiency", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="ViT-B-16",
                   help="open_clip model name (random weights) or any skipwrap model spec (LOADER:NAME)")
    p.add_argument("--classes", type=int, nargs="+", default=None,
                   help="class counts (default: 100 300 on CPU, 100 300 1000 on a GPU)")
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--method", choices=METHODS, help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--shots", type=int, default=16, help="images per class of the epoch")
    p.add_argument("--skip", type=int, default=6)
    p.add_argument("--ratio", type=float, default=0.5)
    p.add_argument("--repeats", type=int, default=10, help="measured steps for the skipwrap methods")
    p.add_argument("--slow-repeats", type=int, default=3, help="measured steps for ft, coop, lora, k0-r1")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--memory-limit-gib", type=float, default=20.0,
                   help="CPU: allocations beyond this much more memory fail and are reported as OOM")
    p.add_argument("--out", type=Path, help="write OUT.md (table + raw JSON) and OUT.png (chart)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.classes is None:
        args.classes = [100, 300, 1000] if args.device.startswith("cuda") else [100, 300]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(asdict(_child(args))))
        return 0
    results = []
    for classes in args.classes:
        for method in args.methods:
            result = run_one(method, classes, args)
            print(f"{method:>15} C={classes:<5} step={_fmt(result.step_s, '.3f')}s "
                  f"peak={_fmt(result.peak_mib, '.0f')}MiB {result.error or ''}", file=sys.stderr, flush=True)
            results.append(result)
    header = (f"model {args.model} (random weights), batch {args.batch}, skip k={args.skip}, r={args.ratio}, "
              f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads. "
              "Epoch times marked * are composed from measured medians (caching per image x 16C + step x steps).")
    text = header + "\n\n" + table(results)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.with_suffix(".md").write_text(text + "\n\nCommand: `skipwrap bench efficiency "
                                               + " ".join(sys.argv[1:] if argv is None else argv) + "`\n\n```json\n"
                                               + json.dumps([asdict(r) for r in results], indent=1) + "\n```\n")
        chart(results, args.out.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
