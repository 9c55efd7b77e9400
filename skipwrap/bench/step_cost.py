"""Per-step cost of full fine-tuning vs Skip Tuning, measured side by side.

Each (method, class count) runs in a child process of its own so that its peak memory is
its own: peak RSS on CPU, ``torch.cuda.max_memory_allocated`` on a GPU. Step time is the
median of repeated optimiser steps (forward, backward, SGD update) after one warm-up step.
A run that does not fit in memory is reported as such ("OOM"), not hidden.

    python -m skipwrap.bench.step_cost --model ViT-B-16 --classes 100 300 1000 --out docs/step_cost.md

Methods:
  ft           the model's own encode_image / encode_text on raw pixels and every class
               prompt, every parameter trainable: what full fine-tuning costs;
  skip         skip_wrap(k, r): image suffix on cached prefix states + CSkip head;
  skip-full-text  the same with shorten_text=False (every one of the 77 positions), to
               measure that lever alone;
  k0-r1        skip_wrap(0, 1.0): full fine-tuning through skipwrap's own code path.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F

METHODS = ("ft", "skip", "skip-full-text", "k0-r1")
ADJECTIVES = ("red", "small", "golden", "spotted", "wild", "giant", "striped", "northern", "common",
              "black", "white", "painted", "great", "little", "royal", "desert", "mountain", "river")
NOUNS = ("fox", "retriever", "sparrow", "tulip", "airliner", "sedan", "owl", "terrier", "lily", "beetle",
         "salmon", "cathedral", "bicycle", "pizza", "canyon", "orchid", "lizard", "kettle", "violin",
         "lighthouse", "heron", "cactus", "tram", "pelican", "maple", "turtle", "harbor", "lantern")


def class_names(n: int) -> list[str]:
    """Deterministic, realistic-length class names ("spotted owl 3")."""
    names = [f"{a} {b}" for b in NOUNS for a in ADJECTIVES]
    return [names[i % len(names)] + ("" if i < len(names) else f" {i // len(names)}") for i in range(n)]


@dataclass
class Result:
    method: str
    classes: int
    step_s: Optional[float] = None
    steps: list[float] = field(default_factory=list)
    peak_mib: Optional[float] = None
    kept_classes: Optional[float] = None
    trainable: Optional[int] = None
    error: Optional[str] = None


def _child(args: argparse.Namespace) -> Result:
    import open_clip

    from .. import skip_wrap
    from .memory import limit_address_space, peak_mib

    classes = args.classes[0]
    device = torch.device(args.device)
    if device.type == "cpu" and args.memory_limit_gib:
        limit_address_space(args.memory_limit_gib)
    torch.manual_seed(0)
    result = Result(args.method, classes)
    model = open_clip.create_model(args.model, pretrained=None).to(device).train()
    tokenizer = open_clip.get_tokenizer(args.model)
    ids = tokenizer([f"a photo of a {c}." for c in class_names(classes)]).to(device)
    size = model.visual.image_size
    size = size if isinstance(size, (tuple, list)) else (size, size)
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(args.batch, 3, *size, generator=g).to(device),
                torch.full((args.batch,), int(torch.randint(classes, (1,), generator=g)), device=device))
               for _ in range(args.repeats + 1)]
    kept: list[int] = []
    try:
        if args.method == "ft":
            def step(pixels, labels):
                image = F.normalize(model.encode_image(pixels), dim=-1)
                text = F.normalize(model.encode_text(ids), dim=-1)
                return F.cross_entropy(model.logit_scale.exp() * image @ text.T, labels)
        else:
            k, r = (0, 1.0) if args.method == "k0-r1" else (args.skip, args.ratio)
            wrapped, head = skip_wrap(model, skip_layers=k, class_ratio=r,
                                      shorten_text=args.method != "skip-full-text")
            head.set_classes(ids)
            # the image prefix is cached once per epoch: outside the step, as in training
            batches = [(wrapped.encode_image_prefix(p), y) for p, y in batches]

            def step(hidden, labels):
                loss = head(wrapped.encode_image_suffix(hidden), labels)
                kept.append(len(head.last_selection.classes))
                return loss

        params = [p for p in model.parameters() if p.requires_grad]
        result.trainable = sum(p.numel() for p in params)
        optimizer = torch.optim.SGD(params, lr=1e-6, momentum=0.9)
        for i, (inputs, labels) in enumerate(batches):
            start = time.perf_counter()
            loss = step(inputs, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if i:  # the first step warms up
                result.steps.append(time.perf_counter() - start)
        result.step_s = statistics.median(result.steps)
        result.kept_classes = statistics.mean(kept) if kept else classes
    except (RuntimeError, MemoryError) as exc:  # allocation failures under the memory limit
        if "memory" not in str(exc).lower() and not isinstance(exc, MemoryError):
            raise
        result.error = "OOM"
    result.peak_mib = peak_mib(device)
    return result


def run_one(method: str, classes: int, args: argparse.Namespace) -> Result:
    cmd = [sys.executable, "-m", "skipwrap.bench.step_cost", "--child", "--method", method,
           "--classes", str(classes), "--model", args.model, "--batch", str(args.batch),
           "--skip", str(args.skip), "--ratio", str(args.ratio), "--device", args.device,
           "--memory-limit-gib", str(args.memory_limit_gib),
           "--repeats", str(args.repeats if method.startswith("skip") else args.ft_repeats)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode != 0 or not lines:
        reason = "OOM (killed)" if proc.returncode in (-9, 137) else f"failed: {proc.stderr.strip()[-300:]}"
        return Result(method, classes, error=reason)
    return Result(**json.loads(lines[-1]))


def _fmt(value: Optional[float], spec: str) -> str:
    return "—" if value is None else format(value, spec)


def table(results: list[Result]) -> str:
    by = {(r.method, r.classes): r for r in results}
    rows = ["| classes | method | step (s, median) | peak memory (MiB) | classes run per step | trainable params "
            "| speed-up vs ft | memory vs ft |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        ft = by.get(("ft", r.classes))
        speed = (ft.step_s / r.step_s) if ft and ft.step_s and r.step_s else None
        memory = (r.peak_mib / ft.peak_mib) if ft and ft.peak_mib and r.peak_mib and not ft.error else None
        rows.append(f"| {r.classes} | {r.method} | {_fmt(r.step_s, '.3f') if not r.error else r.error} "
                    f"| {_fmt(r.peak_mib, '.0f')} | {_fmt(r.kept_classes, '.1f')} "
                    f"| {_fmt(r.trainable, ',d')} | {_fmt(speed, '.1f') + '×' if speed else '—'} "
                    f"| {_fmt(memory, '.2f') + '×' if memory else '—'} |")
    return "\n".join(rows)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="ViT-B-16", help="open_clip model name (random weights)")
    p.add_argument("--classes", type=int, nargs="+", default=[100, 300])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--method", choices=METHODS, help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--skip", type=int, default=6)
    p.add_argument("--ratio", type=float, default=0.5)
    p.add_argument("--repeats", type=int, default=10, help="measured steps for skipwrap methods")
    p.add_argument("--ft-repeats", type=int, default=3, help="measured steps for ft and k0-r1")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--memory-limit-gib", type=float, default=20.0,
                   help="CPU: allocations beyond this much more memory fail and are reported as OOM")
    p.add_argument("--out", type=Path, help="also write the markdown table here")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(asdict(_child(args))))
        return
    torch.set_num_threads(torch.get_num_threads())
    results = []
    for classes in args.classes:
        for method in args.methods:
            result = run_one(method, classes, args)
            print(f"{method:>15} C={classes:<5} step={_fmt(result.step_s, '.3f')}s "
                  f"peak={_fmt(result.peak_mib, '.0f')}MiB {result.error or ''}", flush=True)
            results.append(result)
    text = table(results)
    header = (f"model {args.model} (random weights), batch {args.batch}, k={args.skip}, r={args.ratio}, "
              f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("\n" + header + "\n\n" + text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(header + "\n\n" + text + "\n\n```json\n"
                            + json.dumps([asdict(r) for r in results], indent=1) + "\n```\n")


if __name__ == "__main__":
    main()
