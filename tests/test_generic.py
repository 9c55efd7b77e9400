"""The generic hook-based fallback on models no adapter knows."""
import pytest
import torch
from hypothesis import given, settings, strategies as st

import skipwrap
import tiny_models as tm
import toy_models as toys
from skipwrap.towers.generic import GenericTower, generic_dual_encoder


def assert_generic_exact(model, pixels, ids, k_img, k_txt):
    expected_img, expected_txt = model.encode_image(pixels), model.encode_text(ids)
    wrapped, _ = skipwrap.skip_wrap(model, skip_layers=(k_img, k_txt))
    assert isinstance(wrapped.encoders.image, GenericTower)
    got_img = wrapped.encode_image_suffix(wrapped.encode_image_prefix(pixels))
    got_txt = wrapped.encode_text_suffix(wrapped.encode_text_prefix(ids), ids)
    torch.testing.assert_close(got_img, expected_img, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(got_txt, expected_txt, rtol=1e-4, atol=1e-5)
    # nothing foreign is left in a block's place outside a call
    for tower in (wrapped.encoders.image, wrapped.encoders.text):
        assert all("forward" not in vars(block) for block in tower.blocks)
        assert not any(block._forward_pre_hooks for block in tower.blocks)
    torch.testing.assert_close(model.encode_image(pixels), expected_img)
    return wrapped


@settings(max_examples=15, deadline=None)
@given(depth=st.integers(2, 5), text_depth=st.integers(2, 5), sequential=st.booleans(),
       seq_first=st.booleans(), returns_tuple=st.booleans(), batch=st.integers(1, 4),
       seed=st.integers(0, 1000), data=st.data())
def test_generic_towers_are_exact(depth, text_depth, sequential, seq_first, returns_tuple, batch, seed, data):
    model = toys.ToyDualEncoder(depth=depth, text_depth=text_depth, sequential=sequential,
                                seq_first=seq_first, returns_tuple=returns_tuple, seed=seed).eval()
    k_img = data.draw(st.integers(0, depth - 1))
    k_txt = data.draw(st.integers(0, text_depth - 1))
    ids = tm.tokens(batch, 12, torch.Generator().manual_seed(seed))
    wrapped = assert_generic_exact(model, tm.images(batch, 32, seed), ids, k_img, k_txt)
    assert wrapped.skip_layers == (k_img, k_txt)


@settings(max_examples=8, deadline=None)
@given(k=st.integers(0, 2), timm_vision=st.booleans(), seed=st.integers(0, 100))
def test_generic_matches_open_clip_models(k, timm_vision, seed):
    """open_clip asks resblocks[0] for its dtype mid-call: the fallback must leave blocks alone."""
    model = tm.open_clip_custom_text(timm_vision=timm_vision, seed=seed)
    enc = generic_dual_encoder(model)
    pixels, ids = tm.images(2, 32, seed), tm.tokens(3, 12)
    from skipwrap.lskip import SkippedTower

    for tower, inputs, encode in ((enc.image, pixels, enc.encode_image), (enc.text, ids, enc.encode_text)):
        split = SkippedTower(tower, k)
        got = split.suffix(split.prefix(inputs), inputs if tower.modality == "text" else None)
        torch.testing.assert_close(got, encode(inputs), rtol=1e-4, atol=1e-5)
        split.unfreeze()


def test_generic_finds_stem_parameters_by_connectivity():
    model = toys.ToyDualEncoder().eval()
    wrapped, _ = skipwrap.skip_wrap(model, skip_layers=1, example_inputs=(tm.images(2, 32), tm.tokens(2, 12)))
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    expected = {"patch.weight", "patch.bias", "cls", "image_pos", "token_embedding.weight", "text_pos",
                "logit_scale"}
    expected |= {n for n, _ in model.named_parameters() if n.startswith(("image_blocks.0.", "text_blocks.0."))}
    assert frozen == expected


def test_generic_binds_lazily_on_first_input():
    model = toys.ToyDualEncoder(depth=4).eval()
    wrapped, _ = skipwrap.skip_wrap(model)
    assert wrapped.skip_layers == (None, None)
    with pytest.raises(RuntimeError, match="not seen an input"):
        wrapped.encode_image_suffix(torch.zeros(1, 17, 32))
    wrapped.encode_image_prefix(tm.images(1, 32))
    assert wrapped.skip_layers[0] == 2


def test_generic_rejects_splitting_after_the_last_block():
    model = toys.ToyDualEncoder(depth=3).eval()
    wrapped, _ = skipwrap.skip_wrap(model, skip_layers=3)
    with pytest.raises(ValueError, match=r"\[0, 2\]"):
        wrapped.encode_image_prefix(tm.images(1, 32))


def test_unsupported_models_get_errors_naming_what_was_found():
    with pytest.raises(skipwrap.UnsupportedModelError, match="NoEncoders.*no registered adapter.*found: none"):
        skipwrap.skip_wrap(toys.NoEncoders())
    with pytest.raises(skipwrap.UnsupportedModelError, match="no list of two or more same-typed blocks"):
        skipwrap.skip_wrap(toys.NoBlocks())
    with pytest.raises(TypeError, match="nn.Module"):
        skipwrap.skip_wrap("not a model")


def test_generic_fallback_handles_hugging_face_output_objects():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.CLIPConfig(
        text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
                         vocab_size=64, max_position_embeddings=12, eos_token_id=tm.EOT),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
                           image_size=32, patch_size=8),
        projection_dim=16)
    torch.manual_seed(0)
    model = transformers.CLIPModel(cfg).eval()
    enc = generic_dual_encoder(model)
    from skipwrap.lskip import SkippedTower

    pixels, ids = tm.images(2, 32), tm.tokens(2, 12)
    for tower, inputs, encode in ((enc.image, pixels, enc.encode_image), (enc.text, ids, enc.encode_text)):
        split = SkippedTower(tower, 1)
        got = split.suffix(split.prefix(inputs), inputs if tower.modality == "text" else None)
        torch.testing.assert_close(got, encode(inputs), rtol=1e-4, atol=1e-5)
