"""The public API contract of DESIGN.md section 4."""
import re

import torch

import skipwrap
import tiny_models as tm


def test_contract_names_and_shared_parameters():
    model = tm.open_clip_clip()
    wrapped, head = skipwrap.skip_wrap(model, skip_layers=1, class_ratio=0.5)
    assert wrapped.model is model and isinstance(wrapped, torch.nn.Module)
    assert {id(p) for p in wrapped.parameters()} == {id(p) for p in model.parameters()}
    assert not list(head.parameters())
    ids, pixels = tm.tokens(6, 12), tm.images(2, 32)
    head.set_classes(ids)
    h = wrapped.encode_image_prefix(pixels)
    f = wrapped.encode_image_suffix(h)
    t = wrapped.encode_text_prefix(ids)
    g = wrapped.encode_text_suffix(t, ids)
    torch.testing.assert_close(f, model.encode_image(pixels))
    torch.testing.assert_close(g, model.encode_text(ids))
    torch.testing.assert_close(wrapped(pixels, ids)[0], model(pixels, ids)[0])


def test_training_tunes_the_model_in_place():
    model = tm.open_clip_clip()
    wrapped, head = skipwrap.skip_wrap(model, skip_layers=1, class_ratio=0.5)
    ids, pixels, labels = tm.tokens(8, 12), tm.images(4, 32), torch.tensor([0, 1, 2, 3])
    head.set_classes(ids)
    optimizer = torch.optim.SGD([p for p in wrapped.parameters() if p.requires_grad], lr=0.5)
    cached = wrapped.encode_image_prefix(pixels)
    before = model.encode_image(pixels).detach()
    losses = []
    for _ in range(5):
        loss = head(wrapped.encode_image_suffix(cached), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    after = model.encode_image(pixels)
    assert not torch.allclose(after, before)
    torch.testing.assert_close(after, wrapped.encode_image_suffix(cached))


def test_print_trainable_parameters(capsys):
    wrapped, _ = skipwrap.skip_wrap(tm.open_clip_clip(), skip_layers=1)
    wrapped.print_trainable_parameters()
    out = capsys.readouterr().out
    numbers = [int(n.replace(",", "")) for n in re.findall(r"params: ([\d,]+)", out)]
    assert numbers == [wrapped.num_parameters(True), wrapped.num_parameters()] and "trainable%" in out


def test_logit_scale_is_frozen_unless_asked():
    model = tm.open_clip_clip()
    skipwrap.skip_wrap(model)
    assert not model.logit_scale.requires_grad
    model = tm.open_clip_clip(init_logit_bias=-10.0)
    skipwrap.skip_wrap(model, train_logit_scale=True)
    assert model.logit_scale.requires_grad and model.logit_bias.requires_grad
