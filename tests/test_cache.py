"""Feature store (RAM and memory-mapped disk) and batching from the cache."""
import pytest
import torch
from hypothesis import given, settings, strategies as st

from skipwrap.cache import FeatureStore, batch_indices


@pytest.mark.parametrize("mode", ["ram", "disk"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_rows_round_trip(tmp_path, mode, dtype):
    store = FeatureStore(10, (3, 4), dtype, mode=mode, path=tmp_path / "c.npy")
    values = torch.randn(10, 3, 4)
    store.write(torch.arange(10), values)
    index = torch.tensor([7, 2, 9, 2])
    got = store.read(index)
    assert got.dtype == dtype and got.shape == (4, 3, 4)
    assert torch.equal(got, values.to(dtype)[index])
    store.close()
    assert not (tmp_path / "c.npy").exists()


def test_auto_mode_follows_the_ram_budget(tmp_path):
    small = FeatureStore(4, (8,), mode="auto", ram_budget_gib=1.0, path=tmp_path / "a.npy")
    big = FeatureStore(1024, (1024,), mode="auto", ram_budget_gib=1e-3, path=tmp_path / "b.npy")
    assert small.mode == "ram" and big.mode == "disk" and (tmp_path / "b.npy").exists()
    with pytest.raises(ValueError, match="give a path"):
        FeatureStore(1024, (1024,), mode="auto", ram_budget_gib=1e-3)


def test_bad_store_arguments():
    with pytest.raises(ValueError, match="cache mode must be one of auto, ram, disk"):
        FeatureStore(1, (1,), mode="gpu")
    with pytest.raises(ValueError, match="cache dtype"):
        FeatureStore(1, (1,), dtype=torch.int8)


@settings(max_examples=30, deadline=None)
@given(counts=st.lists(st.integers(1, 9), min_size=1, max_size=6), batch=st.integers(1, 5),
       mode=st.sampled_from(["class", "random"]), seed=st.integers(0, 100))
def test_batches_cover_every_row_once(counts, batch, mode, seed):
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(counts)])
    batches = batch_indices(labels, batch, mode, torch.Generator().manual_seed(seed))
    rows = torch.cat(batches)
    assert sorted(rows.tolist()) == list(range(len(labels)))
    assert all(1 <= len(b) <= batch for b in batches)
    if mode == "class":
        assert all(len(labels[b].unique()) == 1 for b in batches)
    again = batch_indices(labels, batch, mode, torch.Generator().manual_seed(seed))
    assert all(torch.equal(a, b) for a, b in zip(batches, again))
