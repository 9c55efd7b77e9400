"""A small dual encoder that no adapter knows, for the generic fallback.

Its options cover what real model code does: block lists as ``nn.ModuleList`` or
``nn.Sequential``, sequence-first (LND) layouts, blocks returning tuples, masks passed as
keyword arguments, and code that inspects its own blocks (asks block 0 for its dtype).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ToyBlock(nn.Module):
    def __init__(self, width: int, heads: int = 2, returns_tuple: bool = False, batch_first: bool = True):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=batch_first)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))
        self.returns_tuple = returns_tuple

    def forward(self, x, attn_mask=None):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, attn_mask=attn_mask, need_weights=False)[0]
        x = x + self.mlp(self.ln_2(x))
        return (x,) if self.returns_tuple else x


class ToyDualEncoder(nn.Module):
    def __init__(self, width=32, depth=3, text_depth=3, image_size=32, patch=8, vocab=64,
                 context_length=12, embed_dim=16, sequential=False, seq_first=False,
                 returns_tuple=False, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.seq_first = seq_first
        returns_tuple = returns_tuple and not sequential  # nn.Sequential chains tensors only
        self.patch = nn.Conv2d(3, width, patch, patch)
        self.cls = nn.Parameter(torch.randn(width) * 0.02)
        self.image_pos = nn.Parameter(torch.randn((image_size // patch) ** 2 + 1, width) * 0.02)
        image_blocks = [ToyBlock(width, returns_tuple=returns_tuple, batch_first=not seq_first) for _ in range(depth)]
        self.image_blocks = nn.Sequential(*image_blocks) if sequential else nn.ModuleList(image_blocks)
        self.image_norm = nn.LayerNorm(width)
        self.image_proj = nn.Linear(width, embed_dim, bias=False)
        self.token_embedding = nn.Embedding(vocab, width)
        self.text_pos = nn.Parameter(torch.randn(context_length, width) * 0.02)
        self.text_blocks = nn.ModuleList([ToyBlock(width, returns_tuple=returns_tuple, batch_first=not seq_first)
                                          for _ in range(text_depth)])
        self.text_norm = nn.LayerNorm(width)
        self.text_proj = nn.Parameter(torch.randn(width, embed_dim) * width ** -0.5)
        self.logit_scale = nn.Parameter(torch.tensor(2.0))
        self.register_buffer("causal", torch.full((context_length, context_length), float("-inf")).triu(1))

    def _run(self, blocks, x, **kwargs):
        if self.seq_first:
            x = x.transpose(0, 1)
        if isinstance(blocks, nn.Sequential) and not kwargs:
            x = blocks(x)
        else:
            for block in blocks:
                x = block(x, **kwargs)
                x = x[0] if isinstance(x, tuple) else x
        x = x[0] if isinstance(x, tuple) else x
        return x.transpose(0, 1) if self.seq_first else x

    def encode_image(self, pixels):
        x = self.patch(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], 1, -1), x], dim=1) + self.image_pos
        x = self._run(self.image_blocks, x)
        return self.image_proj(self.image_norm(x[:, 0]))

    def encode_text(self, token_ids):
        dtype = self.text_blocks[0].mlp[0].weight.dtype  # model code inspecting its own blocks
        x = self.token_embedding(token_ids).to(dtype) + self.text_pos[: token_ids.shape[1]]
        n = token_ids.shape[1]
        x = self._run(self.text_blocks, x, attn_mask=self.causal[:n, :n])
        x = self.text_norm(x)
        return x[torch.arange(x.shape[0]), token_ids.argmax(dim=-1)] @ self.text_proj


class NoEncoders(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])

    def forward(self, x):
        return x


class NoBlocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.image = nn.Linear(4, 4)
        self.text = nn.Embedding(10, 4)

    def encode_image(self, x):
        return self.image(x)

    def encode_text(self, ids):
        return self.text(ids).mean(1)


def reference_loss(model, pixels, token_ids, labels):
    image = F.normalize(model.encode_image(pixels), dim=-1)
    text = F.normalize(model.encode_text(token_ids), dim=-1)
    return F.cross_entropy(model.logit_scale.exp() * image @ text.T, labels)
