"""What caching costs: epoch time with caching included for each ``cache_views`` setting,
and the RAM a disk (memory-mapped) cache needs compared with a RAM cache.

    python -m skipwrap.bench.cache_cost epochs --model ViT-B-32 --classes 10 --shots 8 --epochs 8
    python -m skipwrap.bench.cache_cost memory --rows 4000 --tokens 197 --width 768

``epochs`` trains with the real loop (``skipwrap.train.train``, random weights, an image folder
of random pictures written to a temporary directory) once per setting, each in its own
process. ``memory`` fills a feature store of the given size in RAM and on disk, each in its
own process, reads random batches from it as training does, and reports peak RSS and the
anonymous (non file-backed) part of RSS: memory-mapped pages are file-backed and
reclaimable, so the disk cache's RAM is bounded by the kernel, not by the table size.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

SETTINGS = ("epoch", "1", "4")


def _write_folder(root: Path, classes: int, shots: int, size: int) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in range(classes):
        folder = root / "train" / f"class {c:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(shots):
            Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    return root


def _rss_anon_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_epochs(args: argparse.Namespace) -> dict:
    from ..train import TrainConfig, train

    with tempfile.TemporaryDirectory() as tmp:
        data = _write_folder(Path(tmp) / "data", args.classes, args.shots, args.image_size)
        config = TrainConfig(model=args.model if ":" in args.model else f"open_clip:{args.model}", data=str(data), shots=args.shots, epochs=args.epochs,
                             cache_views=args.setting, workers=0, out=str(Path(tmp) / "out"), seed=1)
        start = time.perf_counter()
        result = train(config, progress=False)
        total = time.perf_counter() - start
    epochs = result.epochs
    return {"setting": args.setting, "epochs": len(epochs), "total_s": total,
            "epoch_s": [e["cache_s"] + e["train_s"] for e in epochs],
            "cache_s": sum(e["cache_s"] for e in epochs), "train_s": sum(e["train_s"] for e in epochs),
            "cache_passes": sum(1 for e in epochs if e["cache_s"] > 0)}


def child_memory(args: argparse.Namespace) -> dict:
    from ..cache import FeatureStore
    from .memory import peak_rss_mib

    with tempfile.TemporaryDirectory() as tmp:
        store = FeatureStore(args.rows, (args.tokens, args.width), torch.float16, mode=args.setting,
                             path=Path(tmp) / "cache.npy")
        chunk = 64
        for start in range(0, args.rows, chunk):
            rows = torch.arange(start, min(start + chunk, args.rows))
            store.write(rows, torch.randn(len(rows), args.tokens, args.width))
        store.flush()
        g = torch.Generator().manual_seed(0)
        began = time.perf_counter()
        for _ in range(args.reads):
            store.read(torch.randint(0, args.rows, (4,), generator=g))
        read_ms = (time.perf_counter() - began) / args.reads * 1000
        result = {"setting": args.setting, "table_mib": store.nbytes / 2 ** 20, "peak_rss_mib": peak_rss_mib(),
                  "rss_anon_mib": _rss_anon_mib(), "read_batch_ms": read_ms}
        store.close()
    return result


def _spawn(kind: str, setting: str, argv: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-m", "skipwrap.bench.cache_cost", kind, "--child", "--setting", setting,
                           *argv], capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode or not lines:
        return {"setting": setting, "error": proc.stderr.strip()[-400:]}
    return json.loads(lines[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="kind", required=True)
    epochs = sub.add_parser("epochs", help="epoch time with caching per cache_views setting")
    epochs.add_argument("--model", default="ViT-B-32")
    epochs.add_argument("--classes", type=int, default=10)
    epochs.add_argument("--shots", type=int, default=8)
    epochs.add_argument("--epochs", type=int, default=8)
    epochs.add_argument("--image-size", type=int, default=256)
    memory = sub.add_parser("memory", help="RAM of a disk cache vs a RAM cache")
    memory.add_argument("--rows", type=int, default=4000)
    memory.add_argument("--tokens", type=int, default=197)
    memory.add_argument("--width", type=int, default=768)
    memory.add_argument("--reads", type=int, default=200)
    for p in (epochs, memory):
        p.add_argument("--setting", help=argparse.SUPPRESS)
        p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
        p.add_argument("--out", type=Path, help="also append the markdown table to this file")
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps((child_epochs if args.kind == "epochs" else child_memory)(args)))
        return 0
    passthrough = [a for a in (argv if argv is not None else sys.argv[1:])[1:] if a != "--out"]
    if args.out:
        passthrough = [a for a in passthrough if a != str(args.out)]
    if args.kind == "epochs":
        rows = [_spawn("epochs", s, passthrough) for s in SETTINGS]
        lines = [f"epochs: model {args.model} (random weights), {args.classes} classes x {args.shots} shots, "
                 f"{args.epochs} epochs, {torch.get_num_threads()} threads", "",
                 "| cache_views | cache passes | caching (s) | training (s) | total (s) | mean epoch incl. caching (s) |",
                 "|---|---|---|---|---|---|"]
        for r in rows:
            if "error" in r:
                lines.append(f"| {r['setting']} | failed: {r['error']} |")
                continue
            lines.append(f"| {r['setting']} | {r['cache_passes']} | {r['cache_s']:.1f} | {r['train_s']:.1f} "
                         f"| {r['total_s']:.1f} | {np.mean(r['epoch_s']):.2f} |")
    else:
        rows = [_spawn("memory", s, passthrough) for s in ("ram", "disk")]
        lines = [f"memory: {args.rows} rows x {args.tokens} tokens x {args.width} (fp16)", "",
                 "| cache | table (MiB) | peak RSS (MiB) | anonymous RSS at end (MiB) | read of a batch of 4 (ms) |",
                 "|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['setting']} | {r['table_mib']:.0f} | {r['peak_rss_mib']:.0f} | "
                         f"{r['rss_anon_mib']:.0f} | {r['read_batch_ms']:.2f} |" if "error" not in r
                         else f"| {r['setting']} | failed: {r['error']} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        with args.out.open("a") as f:
            f.write(text + "\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
