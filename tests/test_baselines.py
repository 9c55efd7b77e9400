"""Baselines (zero-shot, linear probe, CoOp, CLIP-LoRA): each trains only what it should, CoOp's
prompt injection and LoRA's attention split are exact, and the shared loop runs end to end."""
import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from skipwrap.baselines import METHODS, build_method, train_baseline
from skipwrap.baselines.attention import SplitProjectionAttention
from skipwrap.baselines.optim import build_optimizer
from skipwrap.baselines.prompt import token_embedding
from skipwrap.data import Benchmark
from skipwrap.models import load_model
from skipwrap.towers import resolve
from skipwrap.towers.base import Tower
from skipwrap.train import TrainConfig
from train_fixtures import digits_splits, tiny_hf_clip_dir, tiny_open_clip_dir

CPU = torch.device("cpu")
BENCH = Benchmark("digits", classnames=["zero", "one", "two"])
TRAINED = {"linear-probe": ("weight", "bias"), "coop": ("context",), "lora": ("lora_A", "lora_B")}
# learning rates that move a tiny random model within a few steps (the defaults are for real models)
FAST_LR = {"linear-probe": 1e-2, "coop": 0.02, "lora": 1e-2}


@pytest.fixture(scope="module")
def specs(tmp_path_factory):
    root = tmp_path_factory.mktemp("baselines")
    return {"open_clip": tiny_open_clip_dir(root / "open_clip"), "hf": tiny_hf_clip_dir(root / "hf"),
            "digits": digits_splits(root / "digits")}


def built(name, spec, **options):
    torch.manual_seed(0)
    loaded = load_model(spec)
    method, hyper = build_method(name, options)
    method.setup(loaded, BENCH, CPU)
    return method, hyper, loaded


def fixed_batch():
    generator = torch.Generator().manual_seed(1)
    return torch.randn(6, 3, 32, 32, generator=generator), torch.tensor([0, 1, 2, 0, 1, 2])


CASES = [("linear-probe", "open_clip"), ("coop", "open_clip"), ("lora", "open_clip"), ("coop", "hf"), ("lora", "hf")]


@pytest.mark.parametrize("name, family", CASES)
def test_loss_goes_down_and_only_the_intended_parameters_train(specs, name, family):
    method, hyper, loaded = built(name, specs[family], **({"n_ctx": 4} if name == "coop" else {}))
    before = {n: p.detach().clone() for n, p in loaded.model.named_parameters()}
    trainable = method.trainable_parameters()
    optimizer = build_optimizer(trainable, hyper.replaced(lr=FAST_LR[name]))
    pixels, labels = fixed_batch()
    method.train_mode(True)
    losses = []
    for _ in range(6):
        loss = method.loss(pixels, labels)
        optimizer.zero_grad()
        loss.backward()
        assert all(p.grad is not None for p in trainable)
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 1e-3, losses

    ids = {id(p) for p in trainable}
    model_trainable = {n for n, p in loaded.model.named_parameters() if id(p) in ids}
    untouched = {n: p for n, p in loaded.model.named_parameters() if id(p) not in ids}
    assert all(p.grad is None and not p.requires_grad for p in untouched.values())
    assert all(torch.equal(p, before[n]) for n, p in untouched.items())
    saved = method.state_dict_to_save()
    if name == "lora":
        assert model_trainable and all("lora_A" in n or "lora_B" in n for n in model_trainable)
        assert len(saved) == len(model_trainable) and all("lora_" in k for k in saved)
        assert any(not torch.equal(p, before[n]) for n, p in loaded.model.named_parameters() if "lora_B" in n)
    else:
        assert not model_trainable
        assert set(saved) == set(TRAINED[name])


@pytest.mark.parametrize("family", ["open_clip", "hf"])
def test_coop_injection_through_the_tower_reproduces_encode_text(specs, family):
    coop, _, loaded = built("coop", specs[family], n_ctx=4)
    prompt, encoders = coop.prompt, resolve(loaded.model)
    prompts = prompt.prepare(BENCH.classnames, CPU)
    with torch.no_grad():
        # context = the placeholders' own embeddings: the model's encoding of "X X X X zero."
        own = prompt.embedding(prompts.input_ids[0, prompts.positions[0]])
        expected = encoders.encode_text(prompts.input_ids, **prompts.extra)
        torch.testing.assert_close(prompt.encode(prompts, own), expected, rtol=1e-5, atol=1e-6)
        # context = the embeddings of "a photo of a": the model's encoding of "a photo of a zero."
        words = loaded.tokenize([f"a photo of a {name}." for name in BENCH.classnames])
        context = prompt.embedding(words["input_ids"][0, 1:5])
        expected = encoders.encode_text(words["input_ids"], **{k: v for k, v in words.items() if k != "input_ids"})
        torch.testing.assert_close(prompt.encode(prompts, context), expected, rtol=1e-5, atol=1e-6)
    one, _, _ = built("coop", specs[family], n_ctx=1)
    assert one.train_prompts.positions.tolist() == [[1]] * len(BENCH.classnames)


@pytest.mark.parametrize("family", ["open_clip", "hf"])
def test_zeroshot_logits_are_the_models_own_and_the_linear_probe_starts_there(specs, family):
    zeroshot, _, loaded = built("zeroshot", specs[family])
    model = loaded.model
    pixels, _ = fixed_batch()
    prompts = [f"a photo of a {name}." for name in BENCH.classnames]
    with torch.no_grad():
        if family == "open_clip":
            image, text = model.encode_image(pixels), model.encode_text(loaded.tokenize(prompts)["input_ids"])
        else:
            image = model.get_image_features(pixel_values=pixels).pooler_output
            text = model.get_text_features(**loaded.tokenize(prompts)).pooler_output
        manual = model.logit_scale.exp() * F.normalize(image, dim=-1) @ F.normalize(text, dim=-1).T
        logits = zeroshot.logits_fn(BENCH.classnames)(pixels)
        torch.testing.assert_close(logits, manual, rtol=1e-5, atol=1e-5)

        probe, _, _ = built("linear-probe", specs[family])
        torch.testing.assert_close(probe.logits_fn(BENCH.classnames)(pixels), manual, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(probe.logits_fn(["two", "zero"])(pixels), manual[:, [2, 0]], rtol=1e-5, atol=1e-5)
        assert probe.logits_fn(["zero", "nine"]) is None


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("mask", ["none", "causal", "bool", "per-head", "padding"])
def test_split_attention_computes_what_multihead_attention_computes(batch_first, mask):
    torch.manual_seed(0)
    mha = nn.MultiheadAttention(16, 4, batch_first=batch_first).eval()
    split = SplitProjectionAttention(mha).eval()
    x = torch.randn(3, 5, 16) if batch_first else torch.randn(5, 3, 16)
    kwargs = {
        "none": {},
        "causal": {"attn_mask": torch.full((5, 5), float("-inf")).triu(1)},
        "bool": {"attn_mask": torch.ones(5, 5, dtype=torch.bool).triu(1)},
        "per-head": {"attn_mask": torch.randn(3 * 4, 5, 5)},
        "padding": {"key_padding_mask": torch.tensor([[False] * 5, [False] * 3 + [True] * 2, [False] * 4 + [True]])},
    }[mask]
    expected, _ = mha(x, x, x, need_weights=False, **kwargs)
    got, _ = split(x, x, x, need_weights=False, **kwargs)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("family", ["open_clip", "hf"])
def test_lora_starts_as_the_untouched_model(specs, family):
    untouched = resolve(load_model(specs[family]).model)
    lora, _, loaded = built("lora", specs[family])
    lora.train_mode(False)
    tuned = resolve(loaded.model)
    pixels, _ = fixed_batch()
    text = loaded.tokenize(lora.prompts(BENCH.classnames))
    ids = text.pop("input_ids")
    with torch.no_grad():
        torch.testing.assert_close(tuned.encode_image(pixels), untouched.encode_image(pixels), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(tuned.encode_text(ids, **text), untouched.encode_text(ids, **text), rtol=1e-5,
                                   atol=1e-6)
    if family == "open_clip":
        assert not any(isinstance(m, nn.MultiheadAttention) for m in loaded.model.transformer.modules())


def test_lora_names_an_attention_it_cannot_adapt_and_changes_nothing(specs):
    class FusedAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(32, 96)

    loaded = load_model(specs["open_clip"])
    loaded.model.transformer.resblocks[1].attn = FusedAttention()
    method, _ = build_method("lora")
    with pytest.raises(ValueError, match=r"transformer\.resblocks\.1 .*text tower; found FusedAttention"):
        method.setup(loaded, BENCH, CPU)
    assert isinstance(loaded.model.visual.transformer.resblocks[0].attn, nn.MultiheadAttention)


def test_coop_places_its_context_whatever_the_class_names(specs):
    coop, _ = build_method("coop", {"n_ctx": 4})
    coop.setup(load_model(specs["open_clip"]), Benchmark("x", classnames=["x-ray", "x", "X_X"]), CPU)
    assert coop.train_prompts.positions.tolist() == [[1, 2, 3, 4]] * 3


def test_coop_refuses_a_context_that_does_not_fit_and_towers_without_a_token_embedding(specs):
    too_many, _ = build_method("coop", {"n_ctx": 32})
    with pytest.raises(ValueError, match="32 context tokens do not fit the text context of 32 tokens"):
        too_many.setup(load_model(specs["open_clip"]), Benchmark("x", classnames=["zero"]), CPU)
    coop, _ = build_method("coop", {"n_ctx": 4})
    long_name = Benchmark("x", classnames=["zero", "very " * 30 + "long"])
    with pytest.raises(ValueError, match="context of 32 tokens for 'very very"):
        coop.setup(load_model(specs["open_clip"]), long_name, CPU)

    class Bare(Tower):
        root = nn.Linear(2, 2)

    with pytest.raises(ValueError, match="cannot find the token embedding of text tower Bare"):
        token_embedding(Bare())


def test_unknown_methods_and_options_are_refused():
    with pytest.raises(ValueError, match="unknown method 'prompt'; methods: zeroshot, linear-probe, coop, lora"):
        build_method("prompt")
    with pytest.raises(ValueError, match="coop does not take rank; it takes n_ctx, init_std, optimizer, lr"):
        build_method("coop", {"rank": 4})
    with pytest.raises(ValueError, match="zeroshot does not take lr; it takes nothing"):
        build_method("zeroshot", {"lr": 1.0})
    with pytest.raises(ValueError, match="lr must be > 0"):
        build_method("lora", {"lr": 0})
    assert list(METHODS) == ["zeroshot", "linear-probe", "coop", "lora"]


def run(specs, tmp_path, method, family="open_clip", **overrides):
    config = TrainConfig(model=specs[family], data=str(specs["digits"]), shots=4, epochs=2, subsample="base",
                         workers=0, seed=3, out=str(tmp_path / method))
    return train_baseline(config, method, overrides=overrides, progress=False)


@pytest.mark.parametrize("method", list(METHODS))
def test_train_baseline_end_to_end(specs, tmp_path, method):
    options = {"n_ctx": 4} if method == "coop" else {}
    result = run(specs, tmp_path, method, **options)
    out = tmp_path / method
    assert {p.name for p in out.iterdir()} == {"config.json", "metrics.jsonl", f"{method}.safetensors"}
    config = json.loads((out / "config.json").read_text())
    assert config["method"] == method and config["overrides"] == options and config["shots"] == 4
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    trains = METHODS[method].hyper is not None
    assert [r["epoch"] for r in records if "epoch" in r] == ([1, 2] if trains else [])
    assert records[-1]["eval"] == result.metrics
    metrics = result.metrics
    assert set(metrics) == {"accuracy", "base", "new", "hm"} and 0 <= metrics["base"] <= 100
    if method == "linear-probe":  # trained on the base classes only: it cannot score New (nor all classes)
        assert metrics["new"] is None and metrics["hm"] is None and metrics["accuracy"] is None
    else:
        assert all(0 <= metrics[k] <= 100 for k in ("accuracy", "new", "hm"))
    saved = load_file(out / f"{method}.safetensors")
    assert (len(saved) > 0) == trains
    with pytest.raises(ValueError, match="already holds"):
        run(specs, tmp_path, method, **options)


def test_train_baseline_is_deterministic_and_runs_transformers_models(specs, tmp_path):
    a = run(specs, tmp_path / "a", "lora", family="hf", batch_size=4)
    b = run(specs, tmp_path / "b", "lora", family="hf", batch_size=4)
    assert [r["loss"] for r in a.epochs] == [r["loss"] for r in b.epochs] and a.metrics == b.metrics
    assert all(r["steps"] == 2 for r in a.epochs)
    first, second = (load_file(tmp_path / run_dir / "lora" / "lora.safetensors") for run_dir in ("a", "b"))
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
