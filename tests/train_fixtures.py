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
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
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


def tiny_hf_clip_dir(root: Path, seed: int = 0) -> str:
    """A tiny transformers CLIPModel saved with a word-level tokenizer and an image processor,
    loaded back by ``from_pretrained`` from the folder (offline)."""
    import transformers
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    words = ["<pad>", "<s>", "<unk>", "a", "photo", "of", "the", ".", "zero", "one", "two", "three",
             "four", "five", "six", "seven", "eight", "nine", "</s>"]  # EOS last, as in CLIP's vocabulary
    vocab = {w: i for i, w in enumerate(words)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", len(words) - 1)])
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", bos_token="<s>",
                                                    eos_token="</s>", unk_token="<unk>")
    torch.manual_seed(seed)
    config = transformers.CLIPConfig(
        text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         vocab_size=len(words), max_position_embeddings=12, eos_token_id=len(words) - 1,
                         bos_token_id=1, pad_token_id=0),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=16)
    transformers.CLIPModel(config).save_pretrained(root)
    tokenizer.save_pretrained(root)
    transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(root)
    return f"hf:{root}"
