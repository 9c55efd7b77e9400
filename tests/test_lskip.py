"""LSkip: what is frozen, what gets gradients, argument checking, cache precision."""
import pytest
import torch

import skipwrap
import tiny_models as tm


def test_prefix_parameters_are_frozen_and_get_no_gradient():
    model = tm.open_clip_clip(layers=4, text_layers=4)
    wrapped, head = skipwrap.skip_wrap(model, skip_layers=(1, 3), class_ratio=1.0)
    head.set_classes(tm.tokens(5, 12))
    features = wrapped.encode_image_suffix(wrapped.encode_image_prefix(tm.images(3, 32)))
    head(features, torch.tensor([0, 2, 4])).backward()
    for name, p in model.named_parameters():
        prefix = name.startswith(("visual.conv1", "visual.class_embedding", "visual.positional_embedding",
                                  "visual.ln_pre", "visual.transformer.resblocks.0.",
                                  "token_embedding", "positional_embedding",
                                  "transformer.resblocks.0.", "transformer.resblocks.1.",
                                  "transformer.resblocks.2.", "logit_scale"))
        assert p.requires_grad is not prefix, name
        assert (p.grad is None) is prefix, name


def test_prefix_runs_without_grad_in_eval_mode_and_restores_mode():
    model = tm.open_clip_clip().train()
    wrapped, _ = skipwrap.skip_wrap(model, skip_layers=2)
    seen = []
    handle = model.visual.transformer.resblocks[0].register_forward_hook(
        lambda m, a, o: seen.append((m.training, torch.is_grad_enabled())))
    hidden = wrapped.encode_image_prefix(tm.images(2, 32))
    handle.remove()
    assert seen == [(False, False)] and not hidden.requires_grad
    assert all(m.training for m in model.modules())


def test_default_skip_is_half_of_each_tower():
    wrapped, _ = skipwrap.skip_wrap(tm.open_clip_clip(layers=5, text_layers=4))
    assert wrapped.skip_layers == (2, 2)


@pytest.mark.parametrize("skip, message", [
    (-1, r"\[0, 3\]"), (4, r"\[0, 3\]"), (1.5, "an int"), ((1, 2, 3), "pair"), (True, "must be an int")])
def test_bad_skip_layers_raise_value_error_with_range(skip, message):
    with pytest.raises(ValueError, match=message):
        skipwrap.skip_wrap(tm.open_clip_clip(layers=3, text_layers=3), skip_layers=skip)


def test_skipping_every_block_trains_only_the_pooling():
    model = tm.open_clip_clip(layers=3, text_layers=3)
    wrapped, _ = skipwrap.skip_wrap(model, skip_layers=3)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"visual.proj", "visual.ln_post.weight", "visual.ln_post.bias",
                         "ln_final.weight", "ln_final.bias", "text_projection"}


def test_low_precision_cache_is_opt_in_and_close():
    model = tm.open_clip_clip()
    pixels = tm.images(2, 32)
    exact, _ = skipwrap.skip_wrap(model, skip_layers=1)
    assert exact.encode_image_prefix(pixels).dtype == torch.float32
    exact.unwrap()
    wrapped, _ = skipwrap.skip_wrap(model, skip_layers=1, cache_dtype=torch.bfloat16)
    hidden = wrapped.encode_image_prefix(pixels)
    assert hidden.dtype == torch.bfloat16
    got = wrapped.encode_image_suffix(hidden)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, model.encode_image(pixels), rtol=0.05, atol=0.05)
    with pytest.raises(ValueError, match="cache_dtype"):
        skipwrap.skip_wrap(model, cache_dtype=torch.int8)


def test_unwrap_gives_back_every_frozen_parameter():
    model = tm.open_clip_clip()
    before = {n: p.requires_grad for n, p in model.named_parameters()}
    wrapped, _ = skipwrap.skip_wrap(model, skip_layers=2)
    assert wrapped.num_parameters(trainable_only=True) < wrapped.num_parameters()
    assert wrapped.unwrap() is model
    assert {n: p.requires_grad for n, p in model.named_parameters()} == before


def test_user_frozen_parameters_stay_frozen_after_unwrap():
    model = tm.open_clip_clip()
    model.visual.proj.requires_grad_(False)
    wrapped, _ = skipwrap.skip_wrap(model, skip_layers=2)
    wrapped.unwrap()
    assert not model.visual.proj.requires_grad and model.visual.conv1.weight.requires_grad
