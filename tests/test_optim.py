"""Optimiser groups found by autograd, and the warm-up + cosine schedule."""
import math

import pytest
import torch

import skipwrap
import tiny_models as tm
from skipwrap.train.optim import build_optimizer, build_scheduler, image_parameters


def test_image_group_is_what_the_image_suffix_reaches():
    model = tm.open_clip_clip(layers=3, text_layers=3)
    wrapped, _ = skipwrap.skip_wrap(model, skip_layers=1)
    row = wrapped.encode_image_prefix(tm.images(1, 32))
    image = {id(p) for p in image_parameters(wrapped, row)}
    visual = {id(p) for p in model.visual.parameters() if p.requires_grad}
    assert image == visual
    optimizer = build_optimizer(wrapped, row, lr_text=2e-5, lr_image=5e-6, momentum=0.9, weight_decay=5e-4)
    groups = {g["name"]: g for g in optimizer.param_groups}
    assert groups["text"]["lr"] == 2e-5 and groups["image"]["lr"] == 5e-6
    assert len(groups["text"]["params"]) + len(groups["image"]["params"]) == \
        sum(1 for p in model.parameters() if p.requires_grad)


def test_image_group_includes_projections_outside_the_tower_module():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.CLIPConfig(
        text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         vocab_size=64, max_position_embeddings=12),
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=8), projection_dim=16)
    model = transformers.CLIPModel(cfg)
    wrapped, _ = skipwrap.skip_wrap(model, skip_layers=1)
    image = {id(p) for p in image_parameters(wrapped, wrapped.encode_image_prefix(tm.images(1, 32)))}
    assert id(model.visual_projection.weight) in image
    assert id(model.text_projection.weight) not in image


def test_schedule_is_constant_warmup_then_cosine():
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([{"params": [param], "lr": 2e-5}], lr=2e-5)
    scheduler = build_scheduler(optimizer, epochs=5, warmup_epochs=1, warmup_lr=1e-6)
    lrs = []
    for _ in range(5):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    expected = [1e-6] + [2e-5 * 0.5 * (1 + math.cos(math.pi * i / 4)) for i in range(4)]
    assert lrs == pytest.approx(expected)
