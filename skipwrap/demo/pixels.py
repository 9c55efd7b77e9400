"""uint8 images to normalised model input, with the statistics the model was trained with."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn


def normalise(images: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 -> ``(N, 3, H, W)`` float, scaled to [0, 1] then standardised per channel."""
    pixels = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return (pixels - mean_t) / std_t


def model_statistics(model: nn.Module) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The mean and std an open_clip model was built with (``create_model`` sets ``visual.preprocess_cfg``)."""
    cfg = getattr(model.visual, "preprocess_cfg", None)
    if not cfg or "mean" not in cfg or "std" not in cfg:
        raise ValueError("the model has no visual.preprocess_cfg with mean and std; "
                         "load it with open_clip.create_model or set one with open_clip.model.set_model_preprocess_cfg")
    return tuple(cfg["mean"]), tuple(cfg["std"])
