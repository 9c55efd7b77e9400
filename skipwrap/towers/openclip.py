"""open_clip adapters: ``CLIP`` (built-in text tower), ``CustomTextCLIP`` (``TextTransformer``),
the ``VisionTransformer`` image tower and ``TimmModel`` towers whose trunk is a timm
``VisionTransformer`` (SigLIP / SigLIP 2 in open_clip).

Every piece calls open_clip's (and timm's) own sub-modules in the order their ``forward``
does, so prefix + suffix reproduce ``encode_image`` / ``encode_text`` exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import torch
from torch import nn

from . import find_tower_adapter, register_model, register_tower
from .base import DualEncoder, Tower

_VISION_TRANSFORMER = "open_clip.transformer.VisionTransformer"
_TEXT_TRANSFORMER = "open_clip.transformer.TextTransformer"
_TIMM_MODEL = "open_clip.timm_model.TimmModel"


def _project(pooled: torch.Tensor, projection: Optional[nn.Module | torch.Tensor]) -> torch.Tensor:
    if projection is None:
        return pooled
    if isinstance(projection, nn.Module):
        return projection(pooled)
    return pooled @ projection


def _run_resblock(transformer: nn.Module, block: nn.Module, hidden: torch.Tensor, attn_mask) -> torch.Tensor:
    """One open_clip residual block on batch-first states, honouring ``batch_first=False``."""
    if getattr(transformer, "batch_first", True):
        return block(hidden, attn_mask=attn_mask)
    return block(hidden.transpose(0, 1), attn_mask=attn_mask).transpose(0, 1)


# ----------------------------------------------------------------------------- image towers
class OpenClipVisionTower(Tower):
    """open_clip ``VisionTransformer``: ``_embeds`` -> ``transformer.resblocks`` -> ``_pool`` -> ``proj``."""

    modality = "image"

    def __init__(self, visual: nn.Module):
        if getattr(visual, "output_tokens", False):
            raise ValueError("open_clip VisionTransformer with output_tokens=True is not supported: "
                             "skipwrap needs the pooled embedding only")
        self.root = visual

    @property
    def blocks(self) -> Sequence[nn.Module]:
        return self.root.transformer.resblocks

    def embed(self, inputs: torch.Tensor, **extra: Any):
        return self.root._embeds(inputs), None

    def context(self, inputs, **extra: Any):
        return None

    def run_block(self, block, hidden, ctx):
        return _run_resblock(self.root.transformer, block, hidden, None)

    def pool(self, hidden, ctx):
        pooled, _ = self.root._pool(hidden)
        return _project(pooled, self.root.proj)

    def stem_modules(self):
        v = self.root
        return [v.conv1, v.patch_dropout, v.ln_pre]

    def stem_parameters(self):
        return [self.root.class_embedding, self.root.positional_embedding]


class TimmVisionTower(Tower):
    """open_clip ``TimmModel`` around a timm ``VisionTransformer`` trunk.

    Stem: ``patch_embed``, ``_pos_embed`` (class/register tokens, position embedding),
    ``patch_drop``, ``norm_pre``. Suffix: ``blocks[k:]``, ``norm``, ``forward_head`` (attention
    pool ``attn_pool`` (MAP) or token / average pooling, ``fc_norm``, head) and open_clip's
    ``head`` (projection).
    """

    modality = "image"

    def __init__(self, timm_model: nn.Module):
        trunk = timm_model.trunk
        needed = ("patch_embed", "_pos_embed", "blocks", "norm", "forward_head")
        missing = [name for name in needed if not hasattr(trunk, name)]
        if missing:
            raise ValueError(
                f"open_clip TimmModel trunk {type(trunk).__name__} is not a timm VisionTransformer "
                f"(missing {', '.join(missing)}); only ViT trunks can be split by layer")
        self.root = timm_model
        self.trunk = trunk

    @property
    def blocks(self) -> Sequence[nn.Module]:
        return self.trunk.blocks

    def embed(self, inputs, **extra):
        t = self.trunk
        x = t.patch_embed(inputs)
        x = t._pos_embed(x)
        x = t.patch_drop(x)
        return t.norm_pre(x), None

    def context(self, inputs, **extra):
        return None

    def run_block(self, block, hidden, ctx):
        return block(hidden)

    def pool(self, hidden, ctx):
        x = self.trunk.norm(hidden)
        x = self.trunk.forward_head(x)
        return self.root.head(x)

    def stem_modules(self):
        t = self.trunk
        return [t.patch_embed, t.pos_drop, t.patch_drop, t.norm_pre] + (
            [t.rope] if getattr(t, "rope", None) is not None and isinstance(t.rope, nn.Module) else [])

    def stem_parameters(self):
        t = self.trunk
        return [p for p in (t.cls_token, t.reg_token, t.pos_embed) if isinstance(p, nn.Parameter)]


register_tower(_VISION_TRANSFORMER)(OpenClipVisionTower)
register_tower(_TIMM_MODEL)(TimmVisionTower)


# ------------------------------------------------------------------------------ text towers
@dataclass
class TextContext:
    """Token ids (pooling needs them) and the additive attention mask the blocks take."""

    tokens: torch.Tensor
    attn_mask: Optional[torch.Tensor]


class _OpenClipTextTower(Tower):
    """Shared logic of open_clip's two text towers (built into ``CLIP`` or a ``TextTransformer``).

    Subclasses bind the parts: token/positional embedding, transformer, final norm,
    projection, pool type and EOS id, causal mask, and the optional CoCa class token.
    """

    modality = "text"
    token_embedding: nn.Embedding
    positional_embedding: nn.Parameter
    transformer: nn.Module
    ln_final: nn.Module
    projection: Optional[nn.Module | torch.Tensor]
    pool_type: str
    eos_id: Optional[int]
    causal_mask: Optional[torch.Tensor]
    cls_emb: Optional[nn.Parameter] = None

    @property
    def blocks(self):
        return self.transformer.resblocks

    def _mask(self, tokens: torch.Tensor, seq_len: int, dtype: torch.dtype) -> Optional[torch.Tensor]:
        return self.causal_mask

    def embed(self, inputs, **extra):
        cast_dtype = self.transformer.get_cast_dtype()
        x = self.token_embedding(inputs).to(cast_dtype)
        seq_len = x.shape[1]
        if self.cls_emb is not None:
            x = torch.cat([x, self.cls_emb.view(1, 1, -1).expand(x.shape[0], -1, -1)], dim=1)
            seq_len += 1
        x = x + self.positional_embedding[:seq_len].to(cast_dtype)
        return x, TextContext(inputs, self._mask(inputs, seq_len, x.dtype))

    def context(self, inputs, **extra):
        if inputs is None:
            raise ValueError("the text suffix needs the token ids of its rows (pooling reads them)")
        seq_len = inputs.shape[1] + (1 if self.cls_emb is not None else 0)
        return TextContext(inputs, self._mask(inputs, seq_len, self.transformer.get_cast_dtype()))

    def run_block(self, block, hidden, ctx: TextContext):
        return _run_resblock(self.transformer, block, hidden, ctx.attn_mask)

    def _eot_index(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.pool_type == "argmax":
            return tokens.argmax(dim=-1)
        return (tokens == self.eos_id).int().argmax(dim=-1)

    def pool(self, hidden, ctx: TextContext):
        if self.cls_emb is not None:
            pooled = self.ln_final(hidden[:, -1])
        else:
            x = self.ln_final(hidden)
            if self.pool_type == "first":
                pooled = x[:, 0]
            elif self.pool_type == "last":
                pooled = x[:, -1]
            elif self.pool_type in ("argmax", "eos"):
                pooled = x[torch.arange(x.shape[0], device=x.device), self._eot_index(ctx.tokens)]
            else:
                raise ValueError(f"open_clip text pool type {self.pool_type!r} gives per-token output; "
                                 "skipwrap needs a pooled embedding")
        return _project(pooled, self.projection)

    def shorten(self, hidden, ctx: TextContext):
        """Causal attention + EOT pooling: positions after the last EOT never reach the output."""
        causal_2d = self.causal_mask is not None and self.causal_mask.dim() == 2
        if not causal_2d or self.cls_emb is not None or self.pool_type not in ("argmax", "eos"):
            return hidden, ctx
        if ctx.attn_mask is not self.causal_mask:  # a padding mask was merged in
            return hidden, ctx
        length = int(self._eot_index(ctx.tokens).max()) + 1
        if length >= hidden.shape[1]:
            return hidden, ctx
        return hidden[:, :length], TextContext(ctx.tokens[:, :length], self.causal_mask[:length, :length])

    def stem_modules(self):
        return [self.token_embedding]

    def stem_parameters(self):
        return [p for p in (self.positional_embedding, self.cls_emb) if p is not None]


class OpenClipBuiltinTextTower(_OpenClipTextTower):
    """The text tower built into open_clip ``CLIP`` (attributes on the model itself)."""

    def __init__(self, model: nn.Module):
        self.root = model.transformer
        self.token_embedding = model.token_embedding
        self.positional_embedding = model.positional_embedding
        self.transformer = model.transformer
        self.ln_final = model.ln_final
        self.projection = model.text_projection
        self.pool_type = model.text_pool_type
        self.eos_id = getattr(model, "text_eos_id", None)
        self._model = model

    @property
    def causal_mask(self):
        return self._model.attn_mask

    def stem_modules(self):
        return [self.token_embedding]


class OpenClipTextTransformerTower(_OpenClipTextTower):
    """open_clip ``TextTransformer`` (``CustomTextCLIP.text``): causal or bidirectional,
    optional padding mask and CoCa class token."""

    def __init__(self, text: nn.Module):
        if getattr(text, "output_tokens", False):
            raise ValueError("open_clip TextTransformer with output_tokens=True is not supported")
        self.root = text
        self.token_embedding = text.token_embedding
        self.positional_embedding = text.positional_embedding
        self.transformer = text.transformer
        self.ln_final = text.ln_final
        self.projection = text.text_projection
        self.pool_type = text.pool_type
        self.eos_id = getattr(text, "eos_id", None)
        self.cls_emb = text.cls_emb

    @property
    def causal_mask(self):
        return self.root.attn_mask

    def _mask(self, tokens, seq_len, dtype):
        text = self.root
        mask = text.attn_mask
        if text.use_pad_mask or text.cls_emb is not None:
            pad = text._build_additive_mask(tokens, seq_len, dtype)
            mask = pad if mask is None else mask[:seq_len, :seq_len].unsqueeze(0) + pad
        return mask


register_tower(_TEXT_TRANSFORMER)(OpenClipTextTransformerTower)


# ------------------------------------------------------------------------------ models
def _image_tower(visual: nn.Module, encode) -> Tower:
    adapter = find_tower_adapter(visual)
    if adapter is not None:
        return adapter(visual)
    from .generic import GenericTower

    return GenericTower(visual, encode, modality="image")


def _text_tower(text: nn.Module, encode) -> Tower:
    adapter = find_tower_adapter(text)
    if adapter is not None:
        return adapter(text)
    from .generic import GenericTower

    return GenericTower(text, encode, modality="text")


def _features(encode):
    return lambda x, **kw: encode(x)


@register_model("open_clip.model.CLIP")
def open_clip_clip(model: nn.Module) -> DualEncoder:
    return DualEncoder(
        image=_image_tower(model.visual, _features(model.encode_image)),
        text=OpenClipBuiltinTextTower(model),
        logit_scale=model.logit_scale,
        logit_bias=getattr(model, "logit_bias", None),
        encode_image=_features(model.encode_image),
        encode_text=_features(model.encode_text),
        family="open_clip.CLIP",
    )


@register_model("open_clip.model.CustomTextCLIP")
def open_clip_custom_text_clip(model: nn.Module) -> DualEncoder:
    return DualEncoder(
        image=_image_tower(model.visual, _features(model.encode_image)),
        text=_text_tower(model.text, _features(model.encode_text)),
        logit_scale=model.logit_scale,
        logit_bias=getattr(model, "logit_bias", None),
        encode_image=_features(model.encode_image),
        encode_text=_features(model.encode_text),
        family="open_clip.CustomTextCLIP",
    )
