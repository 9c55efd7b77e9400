"""Exactness of the open_clip / timm adapters: suffix(prefix(x)) == the model's own encoder."""
import torch
from hypothesis import given, settings, strategies as st

import tiny_models as tm
from skipwrap.towers import resolve
from skipwrap.towers.openclip import (OpenClipBuiltinTextTower, OpenClipTextTransformerTower,
                                      OpenClipVisionTower, TimmVisionTower)

SETTINGS = settings(max_examples=12, deadline=None)


def assert_split_exact(tower, encode, inputs, k, **extra):
    expected = encode(inputs, **extra)
    for shorten in (True, False):
        with torch.no_grad():
            hidden = tower.run_prefix(inputs, k, **extra)
        got = tower.run_suffix(hidden, k, inputs if tower.modality == "text" else None,
                               shorten=shorten, **extra)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@st.composite
def clip_configs(draw):
    heads = draw(st.sampled_from([1, 2, 4]))
    return dict(
        width=heads * draw(st.sampled_from([8, 16])),
        heads=heads,
        layers=draw(st.integers(2, 5)),
        text_layers=draw(st.integers(2, 5)),
        image_size=draw(st.sampled_from([32, 48])),
        patch=draw(st.sampled_from([8, 16])),
        context_length=draw(st.integers(4, 16)),
        embed_dim=draw(st.sampled_from([16, 24])),
        seed=draw(st.integers(0, 1000)),
    )


@SETTINGS
@given(cfg=clip_configs(), data=st.data())
def test_open_clip_clip_towers_are_exact(cfg, data):
    pool = data.draw(st.sampled_from(["argmax", "eos", "first", "last"]))
    vision = data.draw(st.sampled_from([
        dict(), dict(vision_pool="avg"), dict(final_ln_after_pool=True), dict(attentional_pool=True)]))
    model = tm.open_clip_clip(pool_type=pool, **vision, **cfg)
    enc = resolve(model)
    assert isinstance(enc.image, OpenClipVisionTower) and isinstance(enc.text, OpenClipBuiltinTextTower)
    batch = data.draw(st.integers(1, 4))
    k_img = data.draw(st.integers(0, cfg["layers"]))
    k_txt = data.draw(st.integers(0, cfg["text_layers"]))
    assert_split_exact(enc.image, enc.encode_image, tm.images(batch, cfg["image_size"], cfg["seed"]), k_img)
    ids = tm.tokens(batch, cfg["context_length"], torch.Generator().manual_seed(cfg["seed"]))
    assert_split_exact(enc.text, enc.encode_text, ids, k_txt)


@SETTINGS
@given(cfg=clip_configs(), data=st.data())
def test_open_clip_custom_text_towers_are_exact(cfg, data):
    text = data.draw(st.sampled_from([
        dict(), dict(pool_type="eos"), dict(proj_bias=True), dict(embed_cls=True),
        dict(no_causal_mask=True, pool_type="last"),
        dict(no_causal_mask=True, use_pad_mask=True, pool_type="first"),
    ]))
    timm_vision = data.draw(st.booleans())
    model = tm.open_clip_custom_text(timm_vision=timm_vision, **text, **cfg)
    enc = resolve(model)
    assert isinstance(enc.text, OpenClipTextTransformerTower)
    assert isinstance(enc.image, TimmVisionTower if timm_vision else OpenClipVisionTower)
    batch = data.draw(st.integers(1, 4))
    assert_split_exact(enc.image, enc.encode_image, tm.images(batch, cfg["image_size"], cfg["seed"]),
                       data.draw(st.integers(0, cfg["layers"])))
    ids = tm.tokens(batch, cfg["context_length"], torch.Generator().manual_seed(cfg["seed"]))
    assert_split_exact(enc.text, enc.encode_text, ids, data.draw(st.integers(0, cfg["text_layers"])))


@SETTINGS
@given(depth=st.integers(2, 5), k=st.integers(0, 5), pool=st.sampled_from(["map", "avg", "token"]),
       reg_tokens=st.integers(0, 2), seed=st.integers(0, 100))
def test_timm_vit_trunk_pools_are_exact(depth, k, pool, reg_tokens, seed):
    model = tm.open_clip_custom_text(timm_vision=True, seed=seed)
    model.visual = tm.tiny_timm_tower(depth=depth, global_pool=pool, class_token=pool == "token",
                                      reg_tokens=reg_tokens, seed=seed).eval()
    enc = resolve(model)
    assert_split_exact(enc.image, enc.encode_image, tm.images(2, 32, seed), min(k, depth))


def test_real_siglip_config_is_exact():
    """open_clip's own ViT-B-16-SigLIP architecture (random weights): timm trunk + MAP head."""
    import open_clip

    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-16-SigLIP", pretrained=None).eval()
    enc = resolve(model)
    assert isinstance(enc.image, TimmVisionTower) and enc.logit_bias is model.logit_bias
    assert_split_exact(enc.image, enc.encode_image, torch.randn(1, 3, 224, 224), 6)
    ids = torch.randint(1, 1000, (2, model.context_length))
    assert_split_exact(enc.text, enc.encode_text, ids, 6)


def test_shorten_cuts_after_last_eot_only_for_causal_eot_pooling():
    model = tm.open_clip_clip(context_length=16)
    enc = resolve(model)
    ids = torch.zeros(2, 16, dtype=torch.long)
    ids[0, :3] = torch.tensor([5, 6, tm.EOT])
    ids[1, :6] = torch.tensor([5, 6, 7, 8, 9, tm.EOT])
    hidden, ctx = enc.text.embed(ids)
    short, short_ctx = enc.text.shorten(hidden, ctx)
    assert short.shape[1] == 6 and short_ctx.attn_mask.shape == (6, 6)
    bidirectional = resolve(tm.open_clip_custom_text(no_causal_mask=True, pool_type="last", context_length=16))
    hidden, ctx = bidirectional.text.embed(ids)
    assert bidirectional.text.shorten(hidden, ctx)[0].shape[1] == 16


def test_prefix_and_suffix_parameters_cover_each_tower():
    """Every parameter is either frozen with the prefix or reached by the suffix's gradient."""
    for model in (tm.open_clip_clip(), tm.open_clip_custom_text(timm_vision=True)):
        enc = resolve(model)
        for tower, inputs in ((enc.image, tm.images(2, 32)), (enc.text, tm.tokens(2, 12))):
            k = 1
            prefix = {id(p) for p in tower.prefix_parameters(k)}
            with torch.no_grad():
                hidden = tower.run_prefix(inputs, k)
            model.zero_grad()
            tower.run_suffix(hidden, k, inputs if tower.modality == "text" else None).sum().backward()
            reached = {id(p) for p in model.parameters() if p.grad is not None}
            assert not prefix & reached
            root_params = {id(p) for p in tower.root.parameters()}
            assert root_params <= prefix | reached


def test_suffix_never_runs_the_stem():
    for model in (tm.open_clip_clip(), tm.open_clip_custom_text(timm_vision=True)):
        enc = resolve(model)
        for tower, inputs in ((enc.image, tm.images(2, 32)), (enc.text, tm.tokens(2, 12))):
            with torch.no_grad():
                hidden = tower.run_prefix(inputs, 1)
            calls = []
            handles = [m.register_forward_hook(lambda *a: calls.append(1)) for m in tower.stem_modules()]
            tower.run_suffix(hidden, 1, inputs if tower.modality == "text" else None)
            for h in handles:
                h.remove()
            assert calls == [], type(tower).__name__
