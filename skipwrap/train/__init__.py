"""Training, evaluation and checkpoints for Skip Tuning runs (used by the CLI)."""
from .config import PRESETS, TrainConfig
from .evaluate import evaluate_benchmark, harmonic_mean
from .loop import RunResult, train

__all__ = ["PRESETS", "TrainConfig", "RunResult", "train", "evaluate_benchmark", "harmonic_mean"]
