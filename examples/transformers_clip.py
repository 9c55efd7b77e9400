"""Skip Tuning a Hugging Face transformers CLIPModel (or SiglipModel).

    python examples/transformers_clip.py                                   # tiny random model
    python examples/transformers_clip.py --model openai/clip-vit-base-patch16   # from the hub or a local dir

``from_pretrained`` also works offline from a local directory. The loop is the same as for
open_clip: skipwrap sees both through one interface.
"""
from __future__ import annotations

import argparse

import torch
import transformers

import skipwrap

CLASSNAMES = ["cat", "dog", "car", "plane"]


def build(name: str):
    if name == "tiny":
        config = transformers.CLIPConfig(
            text_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=2,
                             vocab_size=1000, max_position_embeddings=16, eos_token_id=999),
            vision_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=2,
                               image_size=32, patch_size=8),
            projection_dim=32)
        model = transformers.CLIPModel(config)
        ids = torch.randint(1, 999, (len(CLASSNAMES), 8))
        ids[:, -1] = 999  # the EOS token the text tower pools at
        return model, ids, None, 32
    model = transformers.AutoModel.from_pretrained(name)
    tokenizer = transformers.AutoTokenizer.from_pretrained(name)
    batch = tokenizer([f"a photo of a {c}." for c in CLASSNAMES], padding="max_length", return_tensors="pt",
                      max_length=model.config.text_config.max_position_embeddings)
    return model, batch["input_ids"], batch.get("attention_mask"), model.config.vision_config.image_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="'tiny' or a transformers name / local directory")
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()

    torch.manual_seed(0)
    model, ids, mask, size = build(args.model)
    wrapped, head = skipwrap.skip_wrap(model, skip_layers=2, class_ratio=0.5)
    wrapped.print_trainable_parameters()
    head.set_classes(ids, attention_mask=mask)

    pixels = torch.randn(16, 3, size, size)
    labels = torch.arange(16) % len(CLASSNAMES)
    cache = wrapped.encode_image_prefix(pixels)
    optimizer = torch.optim.SGD([p for p in wrapped.parameters() if p.requires_grad], lr=1e-3)
    for step in range(args.steps):
        rows = torch.randint(0, len(cache), (4,))
        loss = head(wrapped.encode_image_suffix(cache[rows]), labels[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        print(f"step {step}  loss {loss.item():.4f}")
    # the tuned model is still an ordinary transformers model
    features = model.get_image_features(pixel_values=pixels[:2])
    print(type(features).__name__)


if __name__ == "__main__":
    main()
