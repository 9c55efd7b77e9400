"""skipwrap.data: the data layer of the training loop, independent of any model.

Sources build a ``Benchmark`` (train / val / test lists of ``Sample`` plus class names and a
prompt template): ``image_folder``, ``csv_source``, ``load_benchmark`` (the standard
CoOp-format datasets) and ``digits_folder`` (real images offline). ``few_shot`` and
``split_classes`` / ``subsample_benchmark`` select the samples of the evaluation protocols;
``ImageDataset``, ``collate_skip_broken`` and the transforms turn them into batches.
"""
from .benchmarks import (ALIASES, BENCHMARKS, CANONICAL, COOP_TEMPLATES, SKIPT_TEMPLATES, canonical_name,
                         load_benchmark)
from .csv_source import csv_source
from .digits import digits_folder
from .errors import MissingPathError
from .files import IMAGE_SUFFIXES
from .image_folder import image_folder
from .images import ImageDataset, collate_skip_broken
from .records import DEFAULT_TEMPLATE, SPLITS, Benchmark, Sample
from .sampling import few_shot, split_classes, subsample_benchmark
from .transforms import CLIP_MEAN, CLIP_STD, eval_transform, train_transform

__all__ = [
    "ALIASES",
    "BENCHMARKS",
    "CANONICAL",
    "CLIP_MEAN",
    "CLIP_STD",
    "COOP_TEMPLATES",
    "DEFAULT_TEMPLATE",
    "IMAGE_SUFFIXES",
    "SKIPT_TEMPLATES",
    "SPLITS",
    "Benchmark",
    "ImageDataset",
    "MissingPathError",
    "Sample",
    "collate_skip_broken",
    "canonical_name",
    "csv_source",
    "digits_folder",
    "eval_transform",
    "few_shot",
    "image_folder",
    "load_benchmark",
    "split_classes",
    "subsample_benchmark",
    "train_transform",
]
