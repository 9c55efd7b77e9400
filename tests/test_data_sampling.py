"""few_shot and split_classes / subsample_benchmark: properties over generated sample lists."""
from __future__ import annotations

import math
import random
import warnings
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skipwrap.data import Benchmark, Sample, few_shot, split_classes, subsample_benchmark

# class sizes per label (0 allowed: a class with no samples)
class_sizes = st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=9)


def _samples(sizes: list[int]) -> list[Sample]:
    return [Sample(f"/d/{label}/{i}.png", label, f"class{label}") for label, n in enumerate(sizes) for i in range(n)]


def _quiet_few_shot(samples, shots, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return few_shot(samples, shots, seed)


@settings(max_examples=60, deadline=None)
@given(sizes=class_sizes, shots=st.integers(1, 10), seed=st.integers(0, 2**31), order_seed=st.integers(0, 1000))
def test_few_shot_deterministic_and_order_independent(sizes, shots, seed, order_seed):
    samples = _samples(sizes)
    shuffled = samples[:]
    random.Random(order_seed).shuffle(shuffled)
    assert _quiet_few_shot(samples, shots, seed) == _quiet_few_shot(shuffled, shots, seed)


@settings(max_examples=60, deadline=None)
@given(sizes=class_sizes, shots=st.integers(1, 10), seed=st.integers(0, 2**31))
def test_few_shot_takes_min_k_n_per_class(sizes, shots, seed):
    samples = _samples(sizes)
    picked = _quiet_few_shot(samples, shots, seed)
    counts = Counter(s.label for s in picked)
    assert counts == Counter({label: min(shots, n) for label, n in enumerate(sizes) if n})
    assert len(set(picked)) == len(picked) and set(picked) <= set(samples)


def test_few_shot_depends_on_seed_and_warns_for_small_classes():
    samples = _samples([30, 30, 2])
    with pytest.warns(UserWarning, match=r"1 class\(es\) have fewer than 4.*class2 \(2\): 2"):
        picked = few_shot(samples, 4, seed=1)
    assert len(picked) == 10
    draws = {tuple(few_shot(samples[:60], 4, seed)) for seed in range(5)}
    assert len(draws) > 1


def test_few_shot_rejects_zero_shots():
    with pytest.raises(ValueError, match="shots"):
        few_shot(_samples([3]), 0, seed=0)


@settings(max_examples=80, deadline=None)
@given(sizes=class_sizes)
def test_base_and_new_partition_the_classes(sizes):
    samples = _samples(sizes)
    names = [f"class{label}" for label in range(len(sizes))]
    base, base_names = split_classes(samples, names, "base")
    new, new_names = split_classes(samples, names, "new")
    everything, all_names = split_classes(samples, names, "all")
    assert len(base_names) == math.ceil(len(names) / 2)
    assert base_names + new_names == names == all_names
    assert everything == samples
    assert sorted(s.path for s in base + new) == sorted(s.path for s in samples)
    for subset, subset_names in ((base, base_names), (new, new_names)):
        assert all(0 <= s.label < len(subset_names) for s in subset)
        assert all(subset_names[s.label] == s.classname for s in subset)


def test_relabelled_ids_are_contiguous():
    samples = _samples([1, 1, 1, 1, 1])
    new, new_names = split_classes(samples, [f"class{i}" for i in range(5)], "new")
    assert new_names == ["class3", "class4"]
    assert [s.label for s in new] == [0, 1]


def test_unknown_subsample():
    with pytest.raises(ValueError, match="all, base, new"):
        split_classes([], ["a"], "half")


def test_subsample_benchmark_applies_to_every_split():
    samples = _samples([2, 2, 2])
    bench = Benchmark("b", ["class0", "class1", "class2"], train=samples, val=samples[:2], test=samples)
    new = subsample_benchmark(bench, "new")
    assert new.classnames == ["class2"]
    assert [s.path for s in new.train] == [s.path for s in new.test] == ["/d/2/0.png", "/d/2/1.png"]
    assert new.val == [] and {s.label for s in new.train} == {0}
