"""CSkip: equivalence with full fine-tuning, selection statistics, re-indexing, state."""
import copy
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

import skipwrap
import tiny_models as tm
import toy_models as toys
from skipwrap.cskip import tail_keep_probabilities


def full_ft_loss(model, pixels, ids, labels):
    image = F.normalize(model.encode_image(pixels), dim=-1)
    text = F.normalize(model.encode_text(ids), dim=-1)
    logits = model.logit_scale.exp() * image @ text.T
    if getattr(model, "logit_bias", None) is not None:
        logits = logits + model.logit_bias
    return F.cross_entropy(logits, labels)


@pytest.mark.parametrize("build", [
    lambda: tm.open_clip_clip(layers=3, text_layers=3),
    lambda: tm.open_clip_custom_text(timm_vision=True, init_logit_bias=-2.0),
    lambda: toys.ToyDualEncoder().eval(),
])
def test_no_skipping_equals_full_fine_tuning(build):
    model = build()
    reference = copy.deepcopy(model)
    pixels, ids, labels = tm.images(4, 32), tm.tokens(7, 12), torch.tensor([0, 3, 3, 6])
    wrapped, head = skipwrap.skip_wrap(model, skip_layers=0, class_ratio=1.0, example_inputs=(pixels, ids))
    head.set_classes(ids)
    loss = head(wrapped.encode_image_suffix(wrapped.encode_image_prefix(pixels)), labels)
    expected = full_ft_loss(reference, pixels, ids, labels)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)
    loss.backward()
    expected.backward()
    ref_params = dict(reference.named_parameters())
    for name, p in model.named_parameters():
        if p.requires_grad:  # all but the stem (the k = 0 cache) and the logit scale
            torch.testing.assert_close(p.grad, ref_params[name].grad, rtol=1e-4, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(num_classes=st.integers(2, 60), batch=st.integers(1, 6), ratio=st.floats(0.05, 1.0),
       max_classes=st.integers(1, 60), decay=st.floats(0.05, 2.0), resample=st.booleans(),
       seed=st.integers(0, 10_000))
def test_selection_keeps_labels_and_respects_bounds(num_classes, batch, ratio, max_classes, decay, resample, seed):
    wrapped, head = skipwrap.skip_wrap(tm.open_clip_clip(layers=2, text_layers=2, context_length=8),
                                       skip_layers=1, class_ratio=ratio, max_classes=max_classes,
                                       decay=decay, resample=resample, seed=seed)
    head.set_classes(tm.tokens(num_classes, 8, torch.Generator().manual_seed(seed)))
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, num_classes, (batch,), generator=g)
    features = torch.randn(batch, 24, generator=g)
    top = num_classes if ratio == 1.0 else min(math.ceil(ratio * num_classes), max_classes, num_classes)
    assert head.num_top == top
    selection = head.select(features, labels)
    kept = selection.classes
    assert torch.equal(kept, kept.unique())  # sorted, no repeats
    assert set(labels.tolist()) <= set(kept.tolist())
    assert torch.equal(kept[selection.labels], labels)  # re-indexing points at the same classes
    assert top <= len(kept) <= num_classes
    if top < num_classes and num_classes - top > 1:
        # the last rank has keep probability 0: it is dropped unless it is a label
        assert len(kept) <= max(num_classes - 1, top + batch)
    # the top ranks by prototype similarity are always kept
    scores = (F.normalize(features, dim=-1) @ head.prototypes.T).amax(0)
    scores[labels] = math.inf
    assert set(scores.argsort(descending=True)[:top].tolist()) <= set(kept.tolist())


def test_ratio_one_runs_every_class_whatever_the_cap():
    wrapped, head = skipwrap.skip_wrap(tm.open_clip_clip(layers=2, text_layers=2, context_length=8),
                                       skip_layers=0, class_ratio=1.0, max_classes=5)
    head.set_classes(tm.tokens(30, 8))
    assert head.num_top == 30
    assert torch.equal(head.select(torch.randn(2, 24), torch.tensor([0, 1])).classes, torch.arange(30))


def test_tail_keep_probabilities_decay_from_one_to_zero():
    p = tail_keep_probabilities(50, 0.3)
    assert p[0] == 1 and p[-1] == 0 and torch.all(p[1:] <= p[:-1])
    assert tail_keep_probabilities(1, 0.3).tolist() == [1.0]
    assert tail_keep_probabilities(0, 0.3).numel() == 0
    # a larger decay keeps more of the tail
    assert tail_keep_probabilities(50, 1.0).sum() > tail_keep_probabilities(50, 0.3).sum()


def test_keep_frequency_by_rank_follows_the_decay():
    wrapped, head = skipwrap.skip_wrap(tm.open_clip_clip(layers=2, text_layers=2, context_length=8),
                                       skip_layers=1, class_ratio=0.1, decay=0.5, resample=True, seed=1)
    num_classes = 40
    head.set_classes(tm.tokens(num_classes, 8))
    draws = torch.stack([head._rank_keep_mask(torch.device("cpu")) for _ in range(3000)]).float()
    expected = torch.cat([torch.ones(head.num_top), tail_keep_probabilities(num_classes - head.num_top, 0.5)])
    torch.testing.assert_close(draws.mean(0), expected, atol=0.04, rtol=0)


def test_fixed_mask_is_reused_and_resample_redraws():
    for resample, expect_same in ((False, True), (True, False)):
        wrapped, head = skipwrap.skip_wrap(tm.open_clip_clip(layers=2, text_layers=2, context_length=8),
                                           skip_layers=1, class_ratio=0.1, decay=2.0, resample=resample)
        head.set_classes(tm.tokens(60, 8))
        masks = [head._rank_keep_mask(torch.device("cpu")).clone() for _ in range(5)]
        assert all(torch.equal(m, masks[0]) for m in masks) is expect_same


def test_loss_runs_text_suffix_on_kept_classes_only():
    model = tm.open_clip_clip(layers=2, text_layers=2)
    wrapped, head = skipwrap.skip_wrap(model, skip_layers=1, class_ratio=0.1, decay=0.1)
    head.set_classes(tm.tokens(50, 12))
    rows = []
    handle = model.transformer.resblocks[1].register_forward_hook(lambda m, a, o: rows.append(o.shape[0]))
    head(torch.randn(2, 24), torch.tensor([3, 7]))
    handle.remove()
    assert rows == [len(head.last_selection.classes)] and rows[0] < 50


def test_head_state_round_trips_prototypes_mask_and_generator():
    wrapped, head = skipwrap.skip_wrap(tm.open_clip_clip(layers=2, text_layers=2, context_length=8),
                                       skip_layers=1, class_ratio=0.2, resample=True, seed=3)
    head.set_classes(tm.tokens(30, 8))
    head.select(torch.randn(2, 24), torch.tensor([1, 2]))
    state = copy.deepcopy(head.state_dict())
    next_mask = head._rank_keep_mask(torch.device("cpu")).clone()
    _, fresh = skipwrap.skip_wrap(tm.open_clip_clip(layers=2, text_layers=2, context_length=8, seed=9),
                                  skip_layers=1, class_ratio=0.2, resample=True, seed=0)
    fresh.set_classes(tm.tokens(30, 8))
    fresh.load_state_dict(state)
    torch.testing.assert_close(fresh.prototypes, head.prototypes)
    assert torch.equal(fresh._rank_keep_mask(torch.device("cpu")), next_mask)


@pytest.mark.parametrize("kwargs, message", [
    (dict(class_ratio=0.0), r"class_ratio must be a number in \(0.0, 1.0\]"),
    (dict(class_ratio=1.5), r"class_ratio must be a number in \(0.0, 1.0\]"),
    (dict(max_classes=0), r"max_classes must be an int in \[1, inf\]"),
    (dict(decay=0), r"decay must be a number in \(0.0, inf\]"),
])
def test_bad_head_arguments_raise_value_error_with_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        skipwrap.skip_wrap(tm.open_clip_clip(), **kwargs)


def test_bad_labels_and_missing_classes_are_reported():
    wrapped, head = skipwrap.skip_wrap(tm.open_clip_clip(), skip_layers=1)
    with pytest.raises(RuntimeError, match="set_classes"):
        head(torch.randn(2, 24), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"\(num_classes >= 1, seq_len\)"):
        head.set_classes(torch.zeros(3, dtype=torch.long))
    head.set_classes(tm.tokens(5, 12))
    with pytest.raises(ValueError, match=r"class ids in \[0, 4\]"):
        head(torch.randn(2, 24), torch.tensor([0, 5]))
    with pytest.raises(ValueError, match="1-d tensor of 2"):
        head(torch.randn(2, 24), torch.tensor([0, 1, 2]))
