"""Skip Tuning an open_clip model in your own training loop.

    python examples/open_clip_custom_loop.py                         # tiny random model, runs anywhere
    python examples/open_clip_custom_loop.py --model ViT-B-16 --pretrained openai --steps 100

Data here is synthetic (random pixels, class id = label) so the script runs offline; replace
``batches()`` and ``CLASSNAMES`` with your own. The structure is what matters: cache the
frozen prefixes once (per epoch, with augmentation, in a real run), then train on the cache.
"""
from __future__ import annotations

import argparse

import open_clip
import torch

import skipwrap

CLASSNAMES = ["cat", "dog", "car", "plane", "tulip", "fox", "owl", "violin"]


def build(model_name: str, pretrained: str | None):
    if model_name == "tiny":  # a small open_clip config with random weights
        model = open_clip.model.CLIP(
            embed_dim=64,
            vision_cfg=dict(layers=4, width=64, head_width=32, patch_size=8, image_size=32),
            text_cfg=dict(context_length=77, vocab_size=49408, width=64, heads=2, layers=4))
        return model, open_clip.get_tokenizer("ViT-B-32"), 32
    model = open_clip.create_model(model_name, pretrained=pretrained)
    size = model.visual.image_size
    return model, open_clip.get_tokenizer(model_name), size if isinstance(size, int) else size[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="'tiny' or an open_clip model name")
    parser.add_argument("--pretrained", default=None, help="open_clip pretrained tag or checkpoint file")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", default="tuned.safetensors")
    args = parser.parse_args()

    torch.manual_seed(0)
    model, tokenizer, size = build(args.model, args.pretrained)
    wrapped, head = skipwrap.skip_wrap(model, class_ratio=0.5)   # k = half of each tower
    wrapped.print_trainable_parameters()

    head.set_classes(tokenizer([f"a photo of a {c}." for c in CLASSNAMES]))
    pixels = torch.randn(32, 3, size, size)
    labels = torch.arange(32) % len(CLASSNAMES)
    cache = wrapped.encode_image_prefix(pixels)          # frozen, computed once

    optimizer = torch.optim.SGD([p for p in wrapped.parameters() if p.requires_grad], lr=1e-3, momentum=0.9)
    for step in range(args.steps):
        rows = torch.randint(0, len(cache), (4,))
        loss = head(wrapped.encode_image_suffix(cache[rows]), labels[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 5 == 0 or step == args.steps - 1:
            kept = len(head.last_selection.classes)
            print(f"step {step:3d}  loss {loss.item():.4f}  classes run {kept}/{len(CLASSNAMES)}")

    skipwrap.save_tuned(wrapped, args.out)
    model.eval()
    with torch.no_grad():  # the tuned model is an ordinary open_clip model
        logits = model.encode_image(pixels[:4]) @ model.encode_text(head.token_ids).T
    print("predictions:", logits.argmax(-1).tolist(), "saved", args.out)


if __name__ == "__main__":
    main()
