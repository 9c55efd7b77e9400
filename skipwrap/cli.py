"""The ``skipwrap`` command: ``demo``, ``train``, ``eval`` and ``export``.

``train`` options mirror :class:`skipwrap.train.TrainConfig` one to one (``--lr-text`` is
``lr_text``); unset options take the preset's value, then the paper's default.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Optional, Sequence

HELP = {
    "model": "LOADER:NAME, e.g. open_clip:ViT-B-16 or hf:openai/clip-vit-base-patch16 (hub name or local dir)",
    "pretrained": "open_clip pretrained tag (openai, laion2b_s34b_b88k, ...) or checkpoint file; "
                  "without it open_clip starts from random weights",
    "data": "an image folder (root/<class>/*.jpg, optionally with train/val/test sub-folders) or a CSV path,label",
    "dataset": "a standard benchmark (Caltech101, OxfordPets, ..., ImageNet) read from --root with its split file",
    "root": "folder holding the --dataset (CoOp layout), or the base of relative CSV paths",
    "shots": "images per class for training (few-shot sampling, seeded); 0: every image",
    "subsample": "train on all classes or the base half (base-to-new protocol)",
    "skip_layers": "LSkip depth k for both towers (default: half of each tower)",
    "class_ratio": "CSkip ratio r in (0, 1]",
    "max_classes": "cap on the always-run top classes",
    "decay": "exponential decay scale of the tail keep probability",
    "resample": "redraw the CSkip tail mask every step",
    "epochs": "training epochs",
    "batch_size": "images per step",
    "lr_text": "learning rate of the text side",
    "lr_image": "learning rate of the image tower",
    "warmup_epochs": "epochs at the constant warm-up learning rate",
    "warmup_lr": "warm-up learning rate",
    "momentum": "SGD momentum",
    "weight_decay": "SGD weight decay",
    "precision": "fp32, bf16 (autocast) or fp16 (autocast + grad scaler, CUDA only)",
    "grad_clip": "clip the gradient norm to this value",
    "cache_views": "'epoch': fresh augmentation each epoch (reference); V: V augmented views cached once; "
                   "'none': one un-augmented pass (baselines: no augmentation)",
    "cache": "where cached prefix states live: ram, disk (memory-mapped) or auto (by --ram-budget-gib)",
    "cache_dtype": "precision of cached prefix states",
    "ram_budget_gib": "largest cache kept in RAM with --cache auto",
    "batching": "class: one class per batch; random; auto: class with >= 4 shots",
    "seed": "seed of sampling, augmentation and CSkip",
    "workers": "data loader worker processes",
    "eval_batch_size": "batch size of caching and evaluation",
    "device": "cpu, cuda, cuda:1 ... (default: the GPU of this rank if any)",
    "out": "output folder: tuned.safetensors, metrics.jsonl, config.json, checkpoint.pt",
    "preset": "base2new or fewshot: the paper's schedules",
}


def _add_train(sub: argparse._SubParsersAction) -> None:
    from .train.config import (BATCHING, CACHE_DTYPES, CACHE_MODES, PRECISIONS, PRESETS, SUBSAMPLES,
                               TrainConfig)

    choices = {"subsample": SUBSAMPLES, "precision": PRECISIONS, "cache": CACHE_MODES,
               "cache_dtype": CACHE_DTYPES, "batching": BATCHING, "preset": tuple(PRESETS)}
    p = sub.add_parser("train", help="Skip Tuning on a dataset", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        if isinstance(default, bool):
            p.add_argument(flag, action="store_true", default=None, help=HELP[f.name])
            continue
        kind = {int: int, float: float}.get(type(default), str)
        if f.name == "skip_layers":
            kind = int
        if f.name == "grad_clip":
            kind = float
        p.add_argument(flag, type=kind, choices=choices.get(f.name), default=None,
                       help=f"{HELP[f.name]} (default: {default})")
    p.add_argument("--method", default="skip", choices=TRAIN_METHODS,
                   help="skip: Skip Tuning; ft: full fine-tuning (skip_layers=0, class_ratio=1.0, same code path); "
                        "coop, lora, linear-probe, zeroshot: baselines with their published hyper-parameters "
                        "(--batch-size, --lr, --weight-decay, --momentum, --warmup-epochs, --warmup-lr override "
                        "them) (default: skip)")
    p.add_argument("--lr", type=float, default=None, help="learning rate of a baseline method")
    p.add_argument("--n-ctx", type=int, default=None, help="coop: number of learned context vectors (default 16)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="accuracy of a (tuned) model; Base/New/HM with --subsample all",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _model_args(p)
    p.add_argument("--data", help=HELP["data"])
    p.add_argument("--dataset", help=HELP["dataset"])
    p.add_argument("--root", help=HELP["root"])
    p.add_argument("--subsample", choices=("all", "base", "new"), default="all",
                   help="classes to evaluate on; 'all' also reports Base, New and their harmonic mean")
    p.add_argument("--batch-size", type=int, default=64, help="evaluation batch size")
    p.add_argument("--workers", type=int, default=2, help="data loader worker processes")
    p.add_argument("--device", default=None, help=HELP["device"])
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a merged full model (safetensors) for deployment",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    _model_args(p)
    p.add_argument("--out", required=True, help="path of the merged .safetensors file")


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="open_clip:ViT-B-16", help=HELP["model"])
    p.add_argument("--pretrained", default=None, help=HELP["pretrained"])
    p.add_argument("--tuned", default=None, help="tuned.safetensors written by skipwrap train")


def _load(args: argparse.Namespace):
    from . import io
    from .models import load_model

    loaded = load_model(args.model, args.pretrained)
    if args.tuned:
        io.load_tuned(loaded.model, args.tuned)
    return loaded


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo.run import main as demo

    return demo(args.demo_args)


TRAIN_METHODS = ("skip", "ft", "coop", "lora", "linear-probe", "zeroshot")
# options a baseline takes from the command line, as overrides of its published defaults
BASELINE_OVERRIDES = ("batch_size", "lr", "weight_decay", "momentum", "warmup_epochs", "warmup_lr", "n_ctx")
NOT_CONFIG = ("command", "resume", "quiet", "preset", "method", "lr", "n_ctx")


def cmd_train(args: argparse.Namespace) -> int:
    from .train import TrainConfig, train

    if args.model is None and args.data is None and args.dataset is None:
        print("skipwrap train: no --model or --data given: running the offline demo (skipwrap demo)",
              file=sys.stderr)
        return cmd_demo(argparse.Namespace(demo_args=[]))

    given = {k: v for k, v in vars(args).items() if k not in NOT_CONFIG}
    if args.method == "ft":
        given.update(skip_layers=0, class_ratio=1.0)
    config = TrainConfig.with_preset(args.preset, **given)
    if args.method in ("skip", "ft"):
        result = train(config, resume=args.resume, progress=not args.quiet)
    else:
        from .baselines import train_baseline

        if args.resume:
            raise ValueError(f"--resume is not supported for the {args.method} baseline")
        overrides = {k: vars(args)[k] for k in BASELINE_OVERRIDES if vars(args)[k] is not None}
        result = train_baseline(config, args.method, overrides=overrides, progress=not args.quiet)
    print(json.dumps({"out": str(result.out), **result.metrics}))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    import torch

    from .data import eval_transform
    from .towers import resolve
    from .train.config import TrainConfig
    from .train.evaluate import evaluate_benchmark
    from .train.loop import read_benchmark

    source = TrainConfig(data=args.data, dataset=args.dataset, root=args.root)
    if (args.data is None) == (args.dataset is None):
        raise ValueError("give exactly one of --data and --dataset")
    benchmark = read_benchmark(source)
    loaded = _load(args)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    loaded.model.to(device).eval()
    metrics = evaluate_benchmark(resolve(loaded.model), benchmark, loaded.tokenize,
                                 eval_transform(loaded.image_size, loaded.mean, loaded.std), device,
                                 subsample=args.subsample, batch_size=args.batch_size, workers=args.workers)
    if args.json:
        print(json.dumps(metrics))
    else:
        print("  ".join(f"{k}: {v:.2f}" for k, v in metrics.items()))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from . import io

    loaded = _load(args)
    path = io.save_tuned(loaded.model, args.out, merged=True)
    print(f"wrote {path}")
    return 0


COMMANDS = {"demo": cmd_demo, "train": cmd_train, "eval": cmd_eval, "export": cmd_export}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="skipwrap", description="Skip Tuning for CLIP-like dual encoders.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", add_help=False, help="the offline main job: zero-shot vs FT vs Skip Tuning "
                                                       "on the shipped small CLIP (skipwrap demo --help)")
    demo.add_argument("demo_args", nargs=argparse.REMAINDER)
    bench = sub.add_parser("bench", add_help=False, help="benchmarks: efficiency (step / epoch time, peak memory "
                                                         "of every method), base2new (Base/New/HM), cache")
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    _add_train(sub)
    _add_eval(sub)
    _add_export(sub)
    return parser


BENCHMARKS = {"efficiency": "skipwrap.bench.efficiency", "base2new": "skipwrap.bench.base2new",
              "cache": "skipwrap.bench.cache_cost"}


def cmd_bench(argv: list[str]) -> int:
    """``skipwrap bench NAME ...``: each benchmark module parses its own options."""
    import importlib

    if not argv or argv[0] not in BENCHMARKS:
        print(f"usage: skipwrap bench {{{','.join(BENCHMARKS)}}} [options]  (--help after a name for its options)",
              file=sys.stderr)
        return 2
    return importlib.import_module(BENCHMARKS[argv[0]]).main(argv[1:]) or 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["demo"]:  # the demo and the benchmarks parse their own options (and --help)
        return cmd_demo(argparse.Namespace(demo_args=argv[1:]))
    if argv[:1] == ["bench"]:
        return cmd_bench(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError, ImportError) as error:
        print(f"skipwrap {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
