"""Hugging Face adapters (CLIPModel, SiglipModel, Siglip2Model): prefix + suffix == the model.

Tiny models with random weights, built from configs (no hub access). Exactness is checked for
every split depth k, with and without sequence shortening, with and without padding masks,
for the eager and sdpa attention implementations.
"""
from __future__ import annotations

from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

transformers = pytest.importorskip("transformers")
from transformers import (  # noqa: E402
    CLIPConfig,
    CLIPModel,
    Siglip2Config,
    Siglip2Model,
    SiglipConfig,
    SiglipModel,
)

from skipwrap.towers import resolve  # noqa: E402
from skipwrap.towers.base import Tower  # noqa: E402

VOCAB = 100
MAX_POS = 16
FAST = settings(max_examples=10, deadline=None)


def _encoder(draw, **extra: Any) -> dict:
    heads = draw(st.sampled_from([2, 4]))
    return dict(
        hidden_size=draw(st.sampled_from([32, 48, 64])),
        num_hidden_layers=draw(st.integers(2, 5)),
        num_attention_heads=heads,
        intermediate_size=64,
        **extra,
    )


IMPLS = ["eager", "sdpa"]


def _impl(draw, impl: str | None) -> str:
    return draw(st.sampled_from(IMPLS)) if impl is None else impl


def _build(model_cls, config_cls, seed: int, impl: str, **config: Any):
    torch.manual_seed(seed)
    return model_cls(config_cls(attn_implementation=impl, **config)).eval()


@st.composite
def clip_models(draw, legacy_eos: bool | None = None, impl: str | None = None) -> CLIPModel:
    legacy = draw(st.booleans()) if legacy_eos is None else legacy_eos
    eos = 2 if legacy else draw(st.integers(3, VOCAB - 1))
    size, patch = draw(st.sampled_from([(32, 8), (32, 16), (48, 8), (48, 16)]))
    text = _encoder(draw, vocab_size=VOCAB, max_position_embeddings=MAX_POS,
                    eos_token_id=eos, bos_token_id=1, pad_token_id=0)
    vision = _encoder(draw, image_size=size, patch_size=patch)
    return _build(CLIPModel, CLIPConfig, draw(st.integers(0, 2**16)), _impl(draw, impl),
                  text_config=text, vision_config=vision, projection_dim=draw(st.sampled_from([16, 24])))


@st.composite
def siglip_models(draw, impl: str | None = None) -> SiglipModel:
    size, patch = draw(st.sampled_from([(32, 8), (32, 16), (48, 8), (48, 16)]))
    text = _encoder(draw, vocab_size=VOCAB, max_position_embeddings=MAX_POS,
                    eos_token_id=VOCAB - 1, bos_token_id=1, pad_token_id=0)
    text["projection_size"] = draw(st.sampled_from([16, 24]))
    vision = _encoder(draw, image_size=size, patch_size=patch)
    return _build(SiglipModel, SiglipConfig, draw(st.integers(0, 2**16)), _impl(draw, impl),
                  text_config=text, vision_config=vision)


@st.composite
def siglip2_models(draw, impl: str | None = None) -> Siglip2Model:
    text = _encoder(draw, vocab_size=VOCAB, max_position_embeddings=MAX_POS,
                    eos_token_id=VOCAB - 1, bos_token_id=1, pad_token_id=0)
    text["projection_size"] = draw(st.sampled_from([16, 24]))
    vision = _encoder(draw, num_patches=draw(st.sampled_from([16, 36])),
                      patch_size=draw(st.sampled_from([4, 8])))
    return _build(Siglip2Model, Siglip2Config, draw(st.integers(0, 2**16)), _impl(draw, impl),
                  text_config=text, vision_config=vision)


@st.composite
def token_batches(draw, eos: int, content_max: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of content ids, one EOS, then padding (pad id 0 or EOS, as CLIP tokenizers pad);
    and an attention mask that hides the padding and, at random, some tokens before EOS (so
    that the mask matters to a causal tower too; the first token stays visible so no row of
    attention is empty)."""
    batch = draw(st.integers(1, 4))
    length = draw(st.integers(2, MAX_POS))
    pad = draw(st.sampled_from([0, eos]))
    content = st.integers(3, content_max).filter(lambda t: t != eos)
    ids, mask = [], []
    for _ in range(batch):
        at = draw(st.integers(0, length - 1))
        ids.append(draw(st.lists(content, min_size=at, max_size=at)) + [eos] + [pad] * (length - at - 1))
        holes = draw(st.lists(st.booleans(), min_size=max(at - 1, 0), max_size=max(at - 1, 0)))
        mask.append(([1] + [int(h) for h in holes] if at else []) + [1] + [0] * (length - at - 1))
    return torch.tensor(ids), torch.tensor(mask)


def _assert_exact(tower: Tower, reference: torch.Tensor, inputs: torch.Tensor,
                  suffix_inputs: torch.Tensor | None, **extra: Any) -> None:
    """suffix(prefix(x)) == the model's own encoder for every k, shortened or not."""
    with torch.no_grad():
        for k in range(tower.depth + 1):
            hidden = tower.run_prefix(inputs, k, **extra)
            for shorten in (True, False):
                out = tower.run_suffix(hidden, k, suffix_inputs, shorten=shorten, **extra)
                torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-5)


def _pixels(model, batch: int) -> torch.Tensor:
    size = model.config.vision_config.image_size
    return torch.randn(batch, 3, size, size)


# --------------------------------------------------------------------------- exactness
@FAST
@given(model=st.one_of(clip_models(), siglip_models()), batch=st.integers(1, 4))
def test_image_tower_is_exact(model, batch):
    enc = resolve(model)
    pixels = _pixels(model, batch)
    with torch.no_grad():
        reference = enc.encode_image(pixels)
    assert reference is not None and reference.shape[0] == batch
    _assert_exact(enc.image, reference, pixels, None)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("legacy_eos", [False, True])
@FAST
@given(data=st.data(), use_mask=st.booleans())
def test_clip_text_tower_is_exact(data, use_mask, legacy_eos, impl):
    model = data.draw(clip_models(legacy_eos, impl))
    assert (model.text_model.eos_token_id == 2) == legacy_eos
    # Legacy configs (eos_token_id == 2) pool at the highest id of the row: make EOS the top id.
    eos = VOCAB - 1 if legacy_eos else model.config.text_config.eos_token_id
    ids, mask = data.draw(token_batches(eos, VOCAB - 2 if legacy_eos else VOCAB - 1))
    extra = {"attention_mask": mask} if use_mask else {}
    enc = resolve(model)
    with torch.no_grad():
        reference = enc.encode_text(ids, **extra)
        _assert_exact(enc.text, reference, ids, ids, **extra)
        hidden, ctx = enc.text.embed(ids, **extra)
        short, short_ctx = enc.text.shorten(hidden, ctx)
    last = int((ids == eos).int().argmax(dim=-1).max())
    assert short.shape[1] == last + 1
    assert short_ctx.input_ids.shape[1] == last + 1


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("models", [siglip_models, siglip2_models])
@FAST
@given(data=st.data(), use_mask=st.booleans())
def test_siglip_text_tower_is_exact(data, use_mask, models, impl):
    model = data.draw(models(impl))
    ids, mask = data.draw(token_batches(VOCAB - 1, VOCAB - 1))
    extra = {"attention_mask": mask} if use_mask else {}
    enc = resolve(model)
    with torch.no_grad():
        reference = enc.encode_text(ids, **extra)
    _assert_exact(enc.text, reference, ids, ids, **extra)


@st.composite
def patch_batches(draw, model: Siglip2Model) -> dict:
    """NaFlex inputs: patch rows padded to a common length, their grid shapes and mask."""
    vision = model.config.vision_config
    batch = draw(st.integers(1, 3))
    shapes = [draw(st.tuples(st.integers(1, 6), st.integers(1, 6))) for _ in range(batch)]
    length = max(h * w for h, w in shapes) + draw(st.integers(0, 3))
    mask = torch.zeros(batch, length, dtype=torch.long)
    for row, (h, w) in enumerate(shapes):
        mask[row, : h * w] = 1
    pixels = torch.randn(batch, length, vision.num_channels * vision.patch_size**2)
    return dict(pixel_values=pixels, pixel_attention_mask=mask, spatial_shapes=torch.tensor(shapes))


@pytest.mark.parametrize("impl", IMPLS)
@FAST
@given(data=st.data())
def test_siglip2_image_tower_is_exact(data, impl):
    model = data.draw(siglip2_models(impl))
    inputs = data.draw(patch_batches(model))
    enc = resolve(model)
    pixels = inputs.pop("pixel_values")
    with torch.no_grad():
        reference = enc.encode_image(pixels, **inputs)
    _assert_exact(enc.image, reference, pixels, None, **inputs)


# --------------------------------------------------------------------------- fixed models
def _tiny(family: str, impl: str = "sdpa", **vision: Any):
    text = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64,
                vocab_size=VOCAB, max_position_embeddings=MAX_POS, eos_token_id=VOCAB - 1,
                bos_token_id=1, pad_token_id=0)
    image = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=2, intermediate_size=64)
    if family == "clip":
        return _build(CLIPModel, CLIPConfig, 0, impl, text_config=text, projection_dim=16,
                      vision_config=dict(image, image_size=32, patch_size=8, **vision))
    if family == "siglip":
        return _build(SiglipModel, SiglipConfig, 0, impl, text_config=dict(text, projection_size=16),
                      vision_config=dict(image, image_size=32, patch_size=8, **vision))
    return _build(Siglip2Model, Siglip2Config, 0, impl, text_config=dict(text, projection_size=16),
                  vision_config=dict(image, num_patches=16, patch_size=4, **vision))


def _inputs(model, family: str, modality: str) -> tuple[torch.Tensor, dict]:
    """(inputs, extra) for one tower: padded text rows, or images."""
    if modality == "text":
        ids = torch.tensor([[5, 6, VOCAB - 1, 0, 0, 0], [7, 8, 9, 10, VOCAB - 1, 0]])
        return ids, {"attention_mask": (torch.arange(6) <= torch.tensor([[2], [4]])).long()}
    if family == "siglip2":
        mask = torch.tensor([[1] * 12 + [0] * 4, [1] * 16])
        shapes = torch.tensor([[3, 4], [4, 4]])
        return torch.randn(2, 16, 48), {"pixel_attention_mask": mask, "spatial_shapes": shapes}
    return _pixels(model, 2), {}


def _suffix_extra(extra: dict) -> dict:
    """What the suffix is given: text keeps its padding mask, Siglip2 images their patch mask
    (``spatial_shapes`` only matters to the stem)."""
    return {k: v for k, v in extra.items() if k != "spatial_shapes"}


FAMILIES = [("clip", "transformers.CLIPModel"), ("siglip", "transformers.SiglipModel"),
            ("siglip2", "transformers.Siglip2Model")]


@pytest.mark.parametrize("family,name", FAMILIES)
def test_resolve_finds_the_hf_adapter(family, name):
    model = _tiny(family)
    enc = resolve(model)
    assert enc.family == name
    assert (enc.image.modality, enc.text.modality) == ("image", "text")
    assert enc.logit_scale is model.logit_scale
    if family == "clip":
        assert enc.logit_bias is None
    else:
        assert enc.logit_bias is model.logit_bias


def _grads(params) -> set[int]:
    return {id(p) for p in params if p.grad is not None}


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("family", ["clip", "siglip", "siglip2"])
def test_prefix_is_frozen_and_every_parameter_is_accounted_for(family, impl):
    model = _tiny(family, impl)
    enc = resolve(model)
    names = {id(p): n for n, p in model.named_parameters()}
    everything = set(names)
    accounted = {id(enc.logit_scale)} | ({id(enc.logit_bias)} if enc.logit_bias is not None else set())
    for modality, tower in (("image", enc.image), ("text", enc.text)):
        inputs, extra = _inputs(model, family, modality)
        suffix_inputs = inputs if modality == "text" else None
        for k in range(tower.depth + 1):
            prefix = {id(p) for p in tower.prefix_parameters(k)}
            # The prefix parameters are exactly those that influence the input of block k.
            model.zero_grad(set_to_none=True)
            tower.run_prefix(inputs, k, **extra).sum().backward()
            assert _grads(model.parameters()) == prefix, (modality, k)
            # The suffix, fed a cached (gradient-free) prefix, trains blocks[k:] and pooling only.
            model.zero_grad(set_to_none=True)
            with torch.no_grad():
                hidden = tower.run_prefix(inputs, k, **extra)
            hidden.requires_grad_(True)
            tower.run_suffix(hidden, k, suffix_inputs, **_suffix_extra(extra)).square().sum().backward()
            assert hidden.grad is not None and hidden.grad.abs().sum() > 0
            trained = _grads(model.parameters())
            assert not trained & prefix, sorted(names[i] for i in trained & prefix)
            assert {id(p) for block in list(tower.blocks)[k:] for p in block.parameters()} <= trained
            accounted |= prefix | trained
    assert accounted == everything, sorted(names[i] for i in everything - accounted)


def test_clip_text_suffix_does_not_run_the_stem():
    model = _tiny("clip")
    enc = resolve(model)
    ids, extra = _inputs(model, "clip", "text")
    with torch.no_grad():
        reference = enc.encode_text(ids, **extra)
        hidden = enc.text.run_prefix(ids, 1, **extra)

    def refuse(*args):
        raise AssertionError("the suffix ran the embeddings")

    handle = model.text_model.embeddings.register_forward_pre_hook(refuse)
    try:
        with torch.no_grad():
            out = enc.text.run_suffix(hidden, 1, ids, **extra)
    finally:
        handle.remove()
    torch.testing.assert_close(out, reference, rtol=1e-4, atol=1e-5)


def test_clip_text_suffix_needs_token_ids():
    enc = resolve(_tiny("clip"))
    with pytest.raises(ValueError, match="token ids"):
        enc.text.run_suffix(torch.zeros(2, 6, 32), 1, None)


@pytest.mark.parametrize("family", ["clip", "siglip"])
def test_interpolated_position_encoding_is_exact(family):
    model = _tiny(family)
    enc = resolve(model)
    pixels = torch.randn(2, 3, 48, 48)  # the configs say 32
    with torch.no_grad():
        reference = enc.encode_image(pixels, interpolate_pos_encoding=True)
    _assert_exact(enc.image, reference, pixels, None, interpolate_pos_encoding=True)


@pytest.mark.parametrize("family", ["siglip", "siglip2"])
def test_siglip_without_vision_head_is_refused(family):
    with pytest.raises(ValueError, match="vision_use_head"):
        resolve(_tiny(family, vision_use_head=False))
