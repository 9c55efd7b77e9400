"""Pre-training the demo CLIP (a tiny smoke run) and the shipped model it produced."""
from __future__ import annotations

import json

import open_clip
import pytest
import torch
from safetensors.torch import load_file

import skipwrap
from skipwrap.demo import assets, world
from skipwrap.demo.local_dir import CONFIG_FILE, RECORD_FILE, WEIGHTS_FILE, read_local_dir
from skipwrap.demo.pixels import normalise
from skipwrap.demo.pretrain import PretrainConfig, main, pretrain
from skipwrap.demo.tokenizer import WordTokenizer
from skipwrap.demo.zero_shot import base_new_zero_shot

TINY = dict(steps=3, batch_size=16, warmup_steps=1, embed_dim=16, vision_width=32, vision_layers=2,
            patch_size=8, text_width=32, text_layers=2, head_width=16, statistics_images=64, eval_per_class=2)
CHANCE_BASE = 1 / world.NUM_BASE
CHANCE_NEW = 1 / (len(world.CLASSNAMES) - world.NUM_BASE)
TEST_SEED = 2024  # not the pre-training seed, nor its evaluation seed


def _run(tmp_path, name, **overrides):
    cfg = PretrainConfig(**{**TINY, **overrides})
    record = pretrain(cfg, tmp_path / name, progress=False)
    return record, load_file(str(tmp_path / name / WEIGHTS_FILE))


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("pretrain")
    return tmp_path, {name: _run(tmp_path, name, seed=seed) for name, seed in [("a", 0), ("b", 0), ("c", 1)]}


def test_pretraining_is_deterministic_per_seed(tiny_runs):
    _, runs = tiny_runs
    (record_a, weights_a), (record_b, weights_b), (_, weights_c) = runs["a"], runs["b"], runs["c"]
    assert weights_a.keys() == weights_b.keys()
    assert all(torch.equal(weights_a[k], weights_b[k]) for k in weights_a)
    assert record_a["final_loss"] == record_b["final_loss"] and record_a["zero_shot"] == record_b["zero_shot"]
    assert any(not torch.equal(weights_a[k], weights_c[k]) for k in weights_a)


def test_pretraining_writes_a_loadable_local_dir(tiny_runs):
    tmp_path, _ = tiny_runs
    folder = tmp_path / "a"
    model = open_clip.create_model(f"local-dir:{folder}")
    config = json.loads((folder / CONFIG_FILE).read_text())
    assert config["model_cfg"]["text_cfg"]["vocab_size"] == WordTokenizer.load(folder / "tokenizer.json").vocab_size
    assert model.visual.preprocess_cfg["mean"] == config["preprocess_cfg"]["mean"]
    record = json.loads((folder / RECORD_FILE).read_text())
    assert set(record["zero_shot"]) >= {"base", "new", "all", "seed"}
    assert record["command"].startswith(f"python -m skipwrap.demo.pretrain --out {folder} --seed 0")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c"]  # no staging folders left behind


def test_rerunning_replaces_the_folder(tmp_path):
    main(["--out", str(tmp_path / "m"), "--quiet", *[f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()],
          "--steps", "1"])
    first = (tmp_path / "m" / WEIGHTS_FILE).read_bytes()
    main(["--out", str(tmp_path / "m"), "--quiet", *[f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()],
          "--steps", "1", "--seed", "5"])
    assert (tmp_path / "m" / WEIGHTS_FILE).read_bytes() != first
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


@pytest.fixture(scope="module")
def shipped():
    return assets.load_demo_model()


def test_shipped_model_is_small_and_matches_the_world(shipped):
    model, tokenizer = shipped
    assert (assets.model_dir() / WEIGHTS_FILE).stat().st_size < 5 * 2 ** 20
    assert isinstance(model, open_clip.model.CLIP)
    # The vocabulary the world needs today is the one the model was trained with.
    assert tokenizer.words == WordTokenizer.from_texts(world.all_captions()).words
    assert (assets.asset_dir() / "README.md").is_file()


def test_shipped_model_is_well_above_chance_zero_shot(shipped):
    model, tokenizer = shipped
    scores = base_new_zero_shot(model, tokenizer, per_class=20, seed=TEST_SEED)
    assert scores["base"] >= 3 * CHANCE_BASE, scores
    assert scores["new"] >= 3 * CHANCE_NEW, scores


def test_shipped_model_runs_through_skip_wrap_exactly(shipped):
    model, tokenizer = shipped
    images, _ = world.sample_downstream(world.balanced_labels(1)[:4], seed=TEST_SEED)
    pixels = normalise(images, *(model.visual.preprocess_cfg[k] for k in ("mean", "std")))
    text = tokenizer(["a photo of a large red striped star."])
    wrapped, _ = skipwrap.skip_wrap(model, skip_layers=2, class_ratio=1.0)
    with torch.no_grad():
        torch.testing.assert_close(wrapped.encode_image_suffix(wrapped.encode_image_prefix(pixels)),
                                   model.encode_image(pixels))
        torch.testing.assert_close(wrapped.encode_text_suffix(wrapped.encode_text_prefix(text), text),
                                   model.encode_text(text))


def test_read_local_dir_matches_load_demo_model(shipped):
    model, tokenizer = shipped
    again, again_tokenizer = read_local_dir(assets.model_dir())
    text = tokenizer(["a small blue dotted heart."])
    assert torch.equal(again_tokenizer(["a small blue dotted heart."]), text)
    with torch.no_grad():
        assert torch.equal(again.encode_text(text), model.encode_text(text))
