"""The image transforms of the CoOp / Skip Tuning recipe, as torchvision pipelines.

Training: random resized crop (scale 0.08-1, Dassl's default used by CoOp and the Skip
Tuning reference) and horizontal flip; evaluation: resize the short side, centre crop.
Both resize with bicubic interpolation like CLIP's own preprocessing. Mean and std default
to OpenAI CLIP's; models trained with other statistics (e.g. SigLIP's 0.5) pass their own.
"""
from __future__ import annotations

from collections.abc import Sequence

from torchvision import transforms as T
from torchvision.transforms import InterpolationMode

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CROP_SCALE = (0.08, 1.0)


def train_transform(
    size: int = 224, mean: Sequence[float] = CLIP_MEAN, std: Sequence[float] = CLIP_STD
) -> T.Compose:
    """Random resized crop to ``size`` + horizontal flip + tensor + normalisation."""
    return T.Compose([
        T.RandomResizedCrop(size, scale=CROP_SCALE, interpolation=InterpolationMode.BICUBIC),
        T.RandomHorizontalFlip(),
        T.ToTensor(),
        T.Normalize(mean, std),
    ])


def eval_transform(
    size: int = 224, mean: Sequence[float] = CLIP_MEAN, std: Sequence[float] = CLIP_STD
) -> T.Compose:
    """Bicubic resize of the short side to ``size`` + centre crop + tensor + normalisation."""
    return T.Compose([
        T.Resize(size, interpolation=InterpolationMode.BICUBIC),
        T.CenterCrop(size),
        T.ToTensor(),
        T.Normalize(mean, std),
    ])
