"""Export / import of tuned weights through safetensors."""
import json
import os

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

import skipwrap
import tiny_models as tm


def tuned_pair(tmp_path):
    model = tm.open_clip_clip(seed=1)
    wrapped, _ = skipwrap.skip_wrap(model, skip_layers=(1, 2))
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p))
    path = skipwrap.save_tuned(wrapped, tmp_path / "tuned.safetensors")
    return model, wrapped, path


def test_round_trip_into_a_fresh_model(tmp_path):
    model, wrapped, path = tuned_pair(tmp_path)
    fresh = tm.open_clip_clip(seed=1)
    skipwrap.load_tuned(fresh, path)
    pixels, ids = tm.images(2, 32), tm.tokens(3, 12)
    torch.testing.assert_close(fresh.encode_image(pixels), model.encode_image(pixels))
    torch.testing.assert_close(fresh.encode_text(ids), model.encode_text(ids))


def test_file_holds_only_trainable_tensors_and_metadata(tmp_path):
    model, wrapped, path = tuned_pair(tmp_path)
    with safe_open(str(path), framework="pt") as f:
        names, meta = set(f.keys()), f.metadata()
    assert names == {n for n, p in model.named_parameters() if p.requires_grad}
    assert meta["model_class"] == "open_clip.model.CLIP" and meta["kind"] == "tuned"
    assert json.loads(meta["skip_layers"]) == [1, 2] and meta["skipwrap_version"] == skipwrap.__version__
    assert len(meta["fingerprint"]) == 64
    assert os.listdir(tmp_path) == ["tuned.safetensors"]  # no temporary file left behind


def test_mismatched_models_are_refused_with_the_difference(tmp_path):
    _, _, path = tuned_pair(tmp_path)
    with pytest.raises(ValueError, match="does not fit this CLIP.*not in the model"):
        skipwrap.load_tuned(tm.open_clip_clip(layers=2), path)
    with pytest.raises(ValueError, match="shape mismatches"):
        skipwrap.load_tuned(tm.open_clip_clip(embed_dim=16), path)
    with pytest.raises(ValueError, match="saved from open_clip.model.CLIP, not open_clip.model.CustomTextCLIP"):
        skipwrap.load_tuned(tm.open_clip_custom_text(), path)


def test_foreign_safetensors_files_are_refused(tmp_path):
    save_file({"x": torch.zeros(2)}, tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="not a skipwrap file"):
        skipwrap.load_tuned(tm.open_clip_clip(), tmp_path / "other.safetensors")


def test_merged_export_restores_everything(tmp_path):
    model, wrapped, _ = tuned_pair(tmp_path)
    path = skipwrap.save_tuned(wrapped, tmp_path / "merged.safetensors", merged=True)
    fresh = tm.open_clip_clip(seed=7)
    skipwrap.load_tuned(fresh, path)
    for (name, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        assert torch.equal(a, b), name


def test_loading_into_a_wrapped_model(tmp_path):
    model, _, path = tuned_pair(tmp_path)
    wrapped, _ = skipwrap.skip_wrap(tm.open_clip_clip(seed=1), skip_layers=(1, 2))
    skipwrap.load_tuned(wrapped, path)
    torch.testing.assert_close(wrapped.model.visual.proj, model.visual.proj)


def test_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    model, wrapped, path = tuned_pair(tmp_path)
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(skipwrap.io, "save_file", explode)
    with pytest.raises(OSError):
        skipwrap.save_tuned(wrapped, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["tuned.safetensors"]
