"""The standard CoOp-format benchmarks (11 datasets + 4 ImageNet shifts), read from a data root."""
from .registry import ALIASES, BENCHMARKS, CANONICAL, canonical_name, load_benchmark
from .templates import COOP_TEMPLATES, SKIPT_TEMPLATES

__all__ = ["ALIASES", "BENCHMARKS", "CANONICAL", "COOP_TEMPLATES", "canonical_name", "SKIPT_TEMPLATES", "load_benchmark"]
