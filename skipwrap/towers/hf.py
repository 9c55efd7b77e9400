"""Hugging Face transformers adapters: ``CLIPModel``, ``SiglipModel`` and ``Siglip2Model``.

Every piece calls the model's own sub-modules (embeddings, encoder layers, norms, heads) with
the arguments its ``forward`` passes, and builds attention masks with the same
``transformers.masking_utils`` function the model uses, so the mask matches the configured
attention implementation (eager, sdpa, flash, flex). Prefix + suffix therefore reproduce
``get_image_features`` / ``get_text_features`` exactly.

transformers is never imported at module level: models are looked up by class-path string and
the mask builders are imported only when a text (or Siglip2 image) tower builds a mask, by
which time the model's own import has loaded them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Sequence

import torch
from torch import nn

from . import register_model
from .base import DualEncoder, Tower

_CLIP = "transformers.models.clip.modeling_clip.CLIPModel"
_SIGLIP = "transformers.models.siglip.modeling_siglip.SiglipModel"
_SIGLIP2 = "transformers.models.siglip2.modeling_siglip2.Siglip2Model"


def _stand_in(embedding: nn.Embedding, shape: torch.Size) -> torch.Tensor:
    """A zero-width ``(batch, length, 0)`` tensor standing in for the embeddings output.

    transformers' mask builders read only the batch size, length, dtype and device of their
    ``inputs_embeds``; this lets the suffix rebuild the mask without running the stem. The
    dtype and device are those of the embedding weights, i.e. those of the real output.
    """
    return embedding.weight.new_empty((*shape[:2], 0))


def _bidirectional_mask(config: Any, embedding: nn.Embedding, padding_mask: Optional[torch.Tensor],
                        inputs: Optional[torch.Tensor]) -> Any:
    """What ``create_bidirectional_mask`` gives the model's encoder for this padding mask.

    Without a padding mask and without inputs to size it, no mask is the same attention
    (transformers itself returns ``None`` then for eager and sdpa).
    """
    sized_by = padding_mask if padding_mask is not None else inputs
    if sized_by is None:
        return None
    from transformers.masking_utils import create_bidirectional_mask

    return create_bidirectional_mask(
        config=config, inputs_embeds=_stand_in(embedding, sized_by.shape), attention_mask=padding_mask)


class _EncoderTower(Tower):
    """Every transformers tower here runs its blocks as ``root.encoder.layers``."""

    @property
    def blocks(self) -> Sequence[nn.Module]:
        return self.root.encoder.layers


# ----------------------------------------------------------------------------- image towers
class CLIPVisionTower(_EncoderTower):
    """``CLIPModel.vision_model``: ``embeddings`` -> ``pre_layrnorm`` -> ``encoder.layers`` ->
    class token -> ``post_layernorm`` -> the model's ``visual_projection``."""

    modality = "image"

    def __init__(self, model: nn.Module):
        self.root = model.vision_model
        self.projection = model.visual_projection

    def embed(self, inputs: torch.Tensor, interpolate_pos_encoding: bool = False,
              **extra: Any) -> tuple[torch.Tensor, None]:
        v = self.root
        return v.pre_layrnorm(v.embeddings(inputs, interpolate_pos_encoding=interpolate_pos_encoding)), None

    def context(self, inputs: Optional[torch.Tensor], **extra: Any) -> None:
        return None

    def run_block(self, block: nn.Module, hidden: torch.Tensor, ctx: None) -> torch.Tensor:
        return block(hidden, None)

    def pool(self, hidden: torch.Tensor, ctx: None) -> torch.Tensor:
        return self.projection(self.root.post_layernorm(hidden[:, 0, :]))

    def stem_modules(self) -> list[nn.Module]:
        return [self.root.embeddings, self.root.pre_layrnorm]


def _vision_with_head(model: nn.Module) -> nn.Module:
    vision = model.vision_model
    if not vision.use_head:
        raise ValueError(f"{type(model).__name__} with vision_use_head=False is not supported: its image "
                         "features (pooler_output) are None, there is no image embedding to tune")
    return vision


class SiglipVisionTower(_EncoderTower):
    """``SiglipModel.vision_model``: ``embeddings`` -> ``encoder.layers`` (no mask) ->
    ``post_layernorm`` -> ``head`` (multihead attention pooling; it is the projection too)."""

    modality = "image"

    def __init__(self, model: nn.Module):
        self.root = _vision_with_head(model)

    def embed(self, inputs: torch.Tensor, interpolate_pos_encoding: bool = False,
              **extra: Any) -> tuple[torch.Tensor, None]:
        return self.root.embeddings(inputs, interpolate_pos_encoding=interpolate_pos_encoding), None

    def context(self, inputs: Optional[torch.Tensor], **extra: Any) -> None:
        return None

    def run_block(self, block: nn.Module, hidden: torch.Tensor, ctx: None) -> torch.Tensor:
        return block(hidden, None)

    def pool(self, hidden: torch.Tensor, ctx: None) -> torch.Tensor:
        return self.root.head(self.root.post_layernorm(hidden))

    def stem_modules(self) -> list[nn.Module]:
        return [self.root.embeddings]


@dataclass
class PatchContext:
    """Siglip2 (NaFlex) images are padded patch sequences: the padding mask (the pooling head
    reads it) and the encoder mask built from it."""

    pixel_attention_mask: Optional[torch.Tensor]
    mask: Any


class Siglip2VisionTower(_EncoderTower):
    """``Siglip2Model.vision_model``: pre-patchified pixels ``(batch, patches, C*p*p)``.

    The stem needs ``spatial_shapes`` (to resize the position embeddings); the blocks and the
    pooling head need ``pixel_attention_mask``, so it must be passed to the suffix as well
    (``run_suffix(hidden, k, pixel_attention_mask=...)``) whenever images are padded.
    """

    modality = "image"

    def __init__(self, model: nn.Module):
        self.root = _vision_with_head(model)

    def embed(self, inputs: torch.Tensor, pixel_attention_mask: Optional[torch.Tensor] = None,
              spatial_shapes: Optional[torch.Tensor] = None,
              **extra: Any) -> tuple[torch.Tensor, PatchContext]:
        if spatial_shapes is None:
            raise ValueError("Siglip2 image inputs need spatial_shapes (from the Siglip2 image processor)")
        hidden = self.root.embeddings(inputs, spatial_shapes)
        return hidden, self.context(inputs, pixel_attention_mask=pixel_attention_mask)

    def context(self, inputs: Optional[torch.Tensor], pixel_attention_mask: Optional[torch.Tensor] = None,
                **extra: Any) -> PatchContext:
        v = self.root
        mask = _bidirectional_mask(v.config, v.embeddings.position_embedding, pixel_attention_mask, inputs)
        return PatchContext(pixel_attention_mask, mask)

    def run_block(self, block: nn.Module, hidden: torch.Tensor, ctx: PatchContext) -> torch.Tensor:
        return block(hidden, ctx.mask)

    def pool(self, hidden: torch.Tensor, ctx: PatchContext) -> torch.Tensor:
        return self.root.head(self.root.post_layernorm(hidden), ctx.pixel_attention_mask)

    def stem_modules(self) -> list[nn.Module]:
        return [self.root.embeddings]


# ------------------------------------------------------------------------------ text towers
@dataclass
class TextContext:
    """Token ids (CLIP pools at EOS), the caller's 2D padding mask (1 = token, 0 = padding;
    kept so the mask can be rebuilt for a shortened sequence) and the mask the blocks take."""

    input_ids: Optional[torch.Tensor]
    attention_mask: Optional[torch.Tensor]
    mask: Any


class CLIPTextTower(_EncoderTower):
    """``CLIPModel.text_model``: ``embeddings`` -> ``encoder.layers`` under the causal (+ padding)
    mask of ``create_causal_mask`` and ``is_causal=True`` -> ``final_layer_norm`` -> EOS token ->
    the model's ``text_projection``."""

    modality = "text"

    def __init__(self, model: nn.Module):
        self.root = model.text_model
        self.projection = model.text_projection

    def _context(self, input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor]) -> TextContext:
        from transformers.masking_utils import create_causal_mask

        mask = create_causal_mask(
            config=self.root.config,
            inputs_embeds=_stand_in(self.root.embeddings.position_embedding, input_ids.shape),
            attention_mask=attention_mask,
            cache=None,
        )
        return TextContext(input_ids, attention_mask, mask)

    def embed(self, inputs: torch.Tensor,
              attention_mask: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, TextContext]:
        return self.root.embeddings(input_ids=inputs), self._context(inputs, attention_mask)

    def context(self, inputs: Optional[torch.Tensor],
                attention_mask: Optional[torch.Tensor] = None) -> TextContext:
        if inputs is None:
            raise ValueError("the CLIP text suffix needs the token ids of its rows (EOS pooling reads them)")
        return self._context(inputs, attention_mask)

    def run_block(self, block: nn.Module, hidden: torch.Tensor, ctx: TextContext) -> torch.Tensor:
        return block(hidden, ctx.mask, is_causal=True)

    def _eos_index(self, input_ids: torch.Tensor) -> torch.Tensor:
        """The pooled position of each row, as ``CLIPTextModel.forward`` picks it."""
        ids = input_ids.to(dtype=torch.int)
        if self.root.eos_token_id == 2:  # legacy configs (before transformers PR #24773): highest id
            return ids.argmax(dim=-1)
        return (ids == self.root.eos_token_id).int().argmax(dim=-1)

    def pool(self, hidden: torch.Tensor, ctx: TextContext) -> torch.Tensor:
        x = self.root.final_layer_norm(hidden)
        rows = torch.arange(x.shape[0], device=x.device)
        return self.projection(x[rows, self._eos_index(ctx.input_ids.to(x.device))])

    def shorten(self, hidden: torch.Tensor, ctx: TextContext) -> tuple[torch.Tensor, TextContext]:
        """Causal attention + EOS pooling: positions after the batch's last pooled position never
        reach the output. Ids and padding mask are cut alike and the mask rebuilt from them."""
        if not getattr(self.root.config, "is_causal", True):
            return hidden, ctx
        if ctx.attention_mask is not None and ctx.attention_mask.dim() != 2:  # a caller-built 4D mask
            return hidden, ctx
        length = int(self._eos_index(ctx.input_ids).max()) + 1
        if length >= hidden.shape[1]:
            return hidden, ctx
        padding = None if ctx.attention_mask is None else ctx.attention_mask[:, :length]
        return hidden[:, :length], self._context(ctx.input_ids[:, :length], padding)

    def stem_modules(self) -> list[nn.Module]:
        return [self.root.embeddings]


class SiglipTextTower(_EncoderTower):
    """``SiglipModel.text_model`` (and Siglip2's, built the same): ``embeddings`` ->
    ``encoder.layers`` under ``create_bidirectional_mask`` -> ``final_layer_norm`` -> last token
    -> ``head``. Bidirectional, so nothing can be shortened."""

    modality = "text"

    def __init__(self, model: nn.Module):
        self.root = model.text_model

    def embed(self, inputs: torch.Tensor,
              attention_mask: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, TextContext]:
        return self.root.embeddings(input_ids=inputs), self.context(inputs, attention_mask)

    def context(self, inputs: Optional[torch.Tensor],
                attention_mask: Optional[torch.Tensor] = None) -> TextContext:
        t = self.root
        mask = _bidirectional_mask(t.config, t.embeddings.position_embedding, attention_mask, inputs)
        return TextContext(inputs, attention_mask, mask)

    def run_block(self, block: nn.Module, hidden: torch.Tensor, ctx: TextContext) -> torch.Tensor:
        return block(hidden, ctx.mask)

    def pool(self, hidden: torch.Tensor, ctx: TextContext) -> torch.Tensor:
        return self.root.head(self.root.final_layer_norm(hidden)[:, -1, :])

    def stem_modules(self) -> list[nn.Module]:
        return [self.root.embeddings]


# ------------------------------------------------------------------------------ models
def _pooler_output(output: Any) -> torch.Tensor:
    """``get_*_features`` return an output object in transformers 5 and a tensor before."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


def _encode_text(model: nn.Module):
    def encode_text(input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        return _pooler_output(model.get_text_features(
            input_ids=input_ids, attention_mask=attention_mask, return_dict=True))

    return encode_text


def _encode_image(model: nn.Module):
    """Extras meant for another tower are ignored here, as the image towers ignore them."""

    def encode_image(pixel_values: torch.Tensor, interpolate_pos_encoding: bool = False,
                     **extra: Any) -> torch.Tensor:
        return _pooler_output(model.get_image_features(
            pixel_values=pixel_values, interpolate_pos_encoding=interpolate_pos_encoding, return_dict=True))

    return encode_image


def _encode_patches(model: nn.Module):
    """Siglip2 takes patchified pixels with their padding mask and grid shapes."""

    def encode_image(pixel_values: torch.Tensor, pixel_attention_mask: Optional[torch.Tensor] = None,
                     spatial_shapes: Optional[torch.Tensor] = None, **extra: Any) -> torch.Tensor:
        return _pooler_output(model.get_image_features(
            pixel_values=pixel_values, pixel_attention_mask=pixel_attention_mask,
            spatial_shapes=spatial_shapes, return_dict=True))

    return encode_image


def _dual_encoder(model: nn.Module, image: Tower, text: Tower, encode_image, family: str) -> DualEncoder:
    return DualEncoder(image=image, text=text, logit_scale=model.logit_scale,
                       logit_bias=getattr(model, "logit_bias", None), encode_image=encode_image,
                       encode_text=_encode_text(model), family=family)


@register_model(_CLIP)
def hf_clip(model: nn.Module) -> DualEncoder:
    return _dual_encoder(model, CLIPVisionTower(model), CLIPTextTower(model), _encode_image(model),
                         "transformers.CLIPModel")


@register_model(_SIGLIP)
def hf_siglip(model: nn.Module) -> DualEncoder:
    return _dual_encoder(model, SiglipVisionTower(model), SiglipTextTower(model), _encode_image(model),
                         "transformers.SiglipModel")


@register_model(_SIGLIP2)
def hf_siglip2(model: nn.Module) -> DualEncoder:
    return _dual_encoder(model, Siglip2VisionTower(model), SiglipTextTower(model), _encode_patches(model),
                         "transformers.Siglip2Model")
