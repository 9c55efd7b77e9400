"""Tiny models built from configs (random weights) for fast tests.

Every builder returns a model in eval mode with seeded weights, small enough that a
forward pass takes milliseconds on a CPU.
"""
from __future__ import annotations

import open_clip
import timm
import torch
from open_clip.model import CLIP, CustomTextCLIP
from open_clip.timm_model import TimmModel
from torch import nn

VOCAB = 64
EOT = VOCAB - 1  # the highest id, so argmax pooling finds it as CLIP's tokenizer would


def open_clip_clip(width=32, layers=3, text_layers=3, heads=2, image_size=32, patch=8,
                   context_length=12, embed_dim=24, pool_type="argmax", seed=0,
                   vision_pool="tok", attentional_pool=False, final_ln_after_pool=False,
                   init_logit_bias=None) -> CLIP:
    torch.manual_seed(seed)
    vision = dict(layers=layers, width=width, head_width=width // heads, patch_size=patch,
                  image_size=image_size, pool_type=vision_pool, attentional_pool=attentional_pool,
                  attn_pooler_heads=heads, attn_pooler_queries=4,
                  final_ln_after_pool=final_ln_after_pool)
    text = dict(context_length=context_length, vocab_size=VOCAB, width=width, heads=heads,
                layers=text_layers, pool_type=pool_type, eos_id=EOT)
    return CLIP(embed_dim, vision, text, init_logit_bias=init_logit_bias).eval()


def open_clip_custom_text(width=32, layers=3, text_layers=3, heads=2, image_size=32, patch=8,
                          context_length=12, embed_dim=24, seed=0, no_causal_mask=False,
                          use_pad_mask=False, pool_type="argmax", embed_cls=False,
                          proj_bias=False, timm_vision=False, init_logit_bias=None) -> CustomTextCLIP:
    torch.manual_seed(seed)
    vision = dict(layers=layers, width=width, head_width=width // heads, patch_size=patch,
                  image_size=image_size)
    text = dict(context_length=context_length, vocab_size=VOCAB, width=width, heads=heads,
                layers=text_layers, pool_type=pool_type, eos_id=EOT, pad_id=0,
                no_causal_mask=no_causal_mask, embed_cls=embed_cls, proj_bias=proj_bias)
    model = CustomTextCLIP(embed_dim, vision, text, init_logit_bias=init_logit_bias)
    # open_clip's config has no field for it; TextTransformer honours it only when bidirectional
    model.text.use_pad_mask = use_pad_mask and no_causal_mask
    if timm_vision:
        model.visual = tiny_timm_tower(width, layers, heads, image_size, patch, embed_dim, seed)
    return model.eval()


def tiny_timm_tower(width=32, depth=3, heads=2, image_size=32, patch=8, embed_dim=24, seed=0,
                    global_pool="map", class_token=False, reg_tokens=0) -> TimmModel:
    """An open_clip ``TimmModel`` whose trunk is a tiny timm ``VisionTransformer``.

    open_clip builds the trunk by name (``timm.create_model``) and names fix the size, so the
    tiny trunk is set on a bare ``TimmModel``: the adapter sees the same classes as with
    ``ViT-B-16-SigLIP`` (MAP attention pooling, no class token).
    """
    torch.manual_seed(seed)
    tower = TimmModel.__new__(TimmModel)
    nn.Module.__init__(tower)
    tower.image_size = (image_size, image_size)
    tower.trunk = timm.models.vision_transformer.VisionTransformer(
        img_size=image_size, patch_size=patch, embed_dim=width, depth=depth, num_heads=heads,
        num_classes=embed_dim, global_pool=global_pool, class_token=class_token,
        reg_tokens=reg_tokens, no_embed_class=not class_token)
    tower.head = nn.Sequential()
    return tower


def tokens(batch: int, context_length: int, generator: torch.Generator | None = None,
           min_len: int = 1) -> torch.Tensor:
    """Random token rows shaped like a CLIP tokenizer's: ids, one EOT, zero padding after it."""
    g = generator or torch.Generator().manual_seed(0)
    out = torch.zeros(batch, context_length, dtype=torch.long)
    for i in range(batch):
        n = int(torch.randint(min_len, context_length, (1,), generator=g))
        out[i, :n] = torch.randint(1, EOT, (n,), generator=g)
        out[i, n] = EOT
    return out


def images(batch: int, image_size: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(batch, 3, image_size, image_size, generator=torch.Generator().manual_seed(seed))


__all__ = ["open_clip", "open_clip_clip", "open_clip_custom_text", "tiny_timm_tower", "tokens", "images"]
