"""Tiny, real inputs for end-to-end training tests: an open_clip model saved as a
``local-dir:`` folder (config + safetensors, loaded by open_clip's own code) and an image
folder of scikit-learn's digits with train/test splits."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import open_clip
import torch
from PIL import Image
from safetensors.torch import save_file

TINY_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}


def tiny_open_clip_dir(root: Path, seed: int = 0) -> str:
    """Write a tiny open_clip model folder; returns its model spec for skipwrap."""
    root.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = open_clip.model.CLIP(**TINY_CFG)
    (root / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CFG, "preprocess_cfg": {}}))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, root / "open_clip_model.safetensors")
    return f"open_clip:local-dir:{root}"


def digits_splits(root: Path, classes: int = 4, train_per_class: int = 6, test_per_class: int = 3) -> Path:
    """``root/{train,test}/<digit name>/*.png`` from scikit-learn's digits (real images)."""
    from sklearn.datasets import load_digits

    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    digits = load_digits()
    for label in range(classes):
        images = digits.images[digits.target == label]
        for split, rows in (("train", images[:train_per_class]),
                            ("test", images[train_per_class:train_per_class + test_per_class])):
            folder = root / split / names[label]
            folder.mkdir(parents=True, exist_ok=True)
            for i, image in enumerate(rows):
                pixels = (image * (255 / 16)).astype(np.uint8)
                Image.fromarray(pixels).resize((32, 32)).convert("RGB").save(folder / f"{i}.png")
    return root
