"""The q / k / v projections of every block of a tower, as ``nn.Linear`` layers peft can wrap.

CLIP-LoRA puts a separate rank-r adapter, with dropout on its input, on each of q, k and v.
transformers' CLIP / SigLIP attentions already hold ``q_proj`` / ``k_proj`` / ``v_proj``
linears. ``nn.MultiheadAttention`` (open_clip's blocks) packs them into one ``in_proj_weight``
that its forward uses directly; peft 0.21 does wrap it (``lora.MultiheadAttention``), but as
one adapter with a shared ``A`` on the packed q/k/v *plus* one on ``out_proj`` (not
separable), merged into the weights around every forward, so ``lora_dropout`` has no effect.
To give open_clip exactly CLIP-LoRA's adapters, each such attention is replaced by
:class:`SplitProjectionAttention`: the same computation with the packed weight split into
three linears (an exact, tested replacement; ``out_proj`` is reused as is).

Kinds of attention are recognised by the registry ``ATTENTION_KINDS``; a block with none of
them raises a ``ValueError`` naming what it holds, before any module is changed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..towers.base import Tower

PROJECTIONS = ("q_proj", "k_proj", "v_proj")


def _additive(mask: Optional[torch.Tensor], dtype: torch.dtype) -> Optional[torch.Tensor]:
    """``nn.MultiheadAttention`` masks (bool: ``True`` = may not attend, or float: added) as float."""
    if mask is None or mask.is_floating_point():
        return None if mask is None else mask.to(dtype)
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))


class SplitProjectionAttention(nn.Module):
    """``nn.MultiheadAttention`` with separate ``q_proj`` / ``k_proj`` / ``v_proj`` linears.

    Built from an existing module (weights copied, ``out_proj`` shared); computes what its
    forward computes for the arguments open_clip passes (masks 2D or ``(batch*heads, L, S)``,
    bool or additive, key padding mask, ``batch_first`` either way), without attention weights.
    """

    def __init__(self, mha: nn.MultiheadAttention):
        super().__init__()
        unsupported = {
            "separate key/value sizes (kdim/vdim)": not mha._qkv_same_embed_dim,
            "bias_k/bias_v": mha.bias_k is not None,
            "add_zero_attn": mha.add_zero_attn,
        }
        found = [name for name, present in unsupported.items() if present]
        if found:
            raise ValueError(f"nn.MultiheadAttention with {', '.join(found)} is not supported for LoRA")
        self.num_heads, self.batch_first, self.dropout = mha.num_heads, mha.batch_first, mha.dropout
        width = mha.embed_dim
        weights = mha.in_proj_weight.detach().split(width)
        biases = mha.in_proj_bias.detach().split(width) if mha.in_proj_bias is not None else (None,) * 3
        for name, weight, bias in zip(PROJECTIONS, weights, biases):
            linear = nn.Linear(width, width, bias=bias is not None, device=weight.device, dtype=weight.dtype)
            with torch.no_grad():
                linear.weight.copy_(weight)
                if bias is not None:
                    linear.bias.copy_(bias)
            linear.requires_grad_(mha.in_proj_weight.requires_grad)
            setattr(self, name, linear)
        self.out_proj = mha.out_proj

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        return x.view(batch, length, self.num_heads, width // self.num_heads).transpose(1, 2)

    def forward(self, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                key_padding_mask: Optional[torch.Tensor] = None, need_weights: bool = True,
                attn_mask: Optional[torch.Tensor] = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[torch.Tensor, None]:
        if need_weights:
            raise ValueError("SplitProjectionAttention does not return attention weights (pass need_weights=False)")
        if not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        batch, length, width = query.shape
        q, k, v = self._heads(self.q_proj(query)), self._heads(self.k_proj(key)), self._heads(self.v_proj(value))
        mask = _additive(attn_mask, q.dtype)
        if mask is not None and mask.dim() == 3:
            mask = mask.view(batch, self.num_heads, *mask.shape[1:])
        padding = _additive(key_padding_mask, q.dtype)
        if padding is not None:
            padding = padding.view(batch, 1, 1, -1)
            mask = padding if mask is None else mask + padding
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                             dropout_p=self.dropout if self.training else 0.0,
                                             is_causal=is_causal and mask is None)
        out = self.out_proj(out.transpose(1, 2).reshape(batch, length, width))
        return (out if self.batch_first else out.transpose(0, 1)), None


# -- recognising attention in a block ---------------------------------------------------------
@dataclass(frozen=True)
class AttentionKind:
    """A kind of attention module: how to recognise it and how to give it q/k/v linears."""

    matches: Callable[[nn.Module], bool]
    prepare: Callable[[nn.Module, str, nn.Module], None]   # (parent, child name, module)


def _split(parent: nn.Module, child: str, module: nn.Module) -> None:
    setattr(parent, child, SplitProjectionAttention(module))


ATTENTION_KINDS: tuple[AttentionKind, ...] = (
    AttentionKind(lambda m: isinstance(m, nn.MultiheadAttention), _split),
    AttentionKind(lambda m: all(isinstance(getattr(m, p, None), nn.Linear) for p in PROJECTIONS),
                  lambda parent, child, module: None),
)
SUPPORTED = "nn.MultiheadAttention (packed q/k/v of one size) or a module with q_proj/k_proj/v_proj nn.Linear"


@dataclass(frozen=True)
class _Found:
    kind: AttentionKind
    name: str
    parent: nn.Module
    child: str
    module: nn.Module


def _find_in_block(block: nn.Module, block_name: str, modality: str) -> list[_Found]:
    found = []
    for child_name, module in block.named_modules():
        kind = next((k for k in ATTENTION_KINDS if k.matches(module)), None)
        if kind is None or not child_name:  # the block itself is not an attention to replace
            continue
        parent_name, _, child = child_name.rpartition(".")
        found.append(_Found(kind, f"{block_name}.{child_name}", block.get_submodule(parent_name), child, module))
    if not found:
        kinds = sorted({type(m).__name__ for _, m in block.named_modules() if "att" in type(m).__name__.lower()})
        raise ValueError(f"LoRA: no supported attention in block {block_name} ({type(block).__name__}) of the "
                         f"{modality} tower; found {', '.join(kinds) or 'no attention module'}; supported: {SUPPORTED}")
    return found


def attention_projections(model: nn.Module, towers: Sequence[Tower]) -> list[str]:
    """Full names of the q/k/v linears of every block of ``towers`` in ``model``.

    Every block is checked before anything changes; then packed ``nn.MultiheadAttention``
    layers are split in place (the model computes the same)."""
    names = {id(module): name for name, module in model.named_modules()}
    found: list[_Found] = []
    for tower in towers:
        for block in tower.blocks:
            if id(block) not in names:
                raise ValueError(f"a block of the {tower.modality} tower is not a sub-module of the model")
            found.extend(_find_in_block(block, names[id(block)], tower.modality))
    for item in found:
        item.kind.prepare(item.parent, item.child, item.module)
    return [f"{item.name}.{p}" for item in found for p in PROJECTIONS]
