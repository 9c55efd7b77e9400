"""The demo world: determinism per seed, class and caption coverage, the domain shift, the image folder."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image

from skipwrap.data import image_folder, split_classes
from skipwrap.demo import world
from skipwrap.demo.attributes import COLOURS, PATTERNS, SHAPES, SIZES, Combo
from skipwrap.demo.shapes import SHAPE_TESTS
from skipwrap.demo.tokenizer import split_words

ATTRIBUTES = {"size": SIZES, "colour": tuple(COLOURS), "pattern": PATTERNS, "shape": SHAPES}


def _values(combos: list[Combo], attribute: str) -> set[str]:
    return {getattr(combo, attribute) for combo in combos}


def test_pretrain_samples_are_deterministic_per_seed():
    images, captions = world.sample_pretrain(40, seed=3)
    again, again_captions = world.sample_pretrain(40, seed=3)
    other, other_captions = world.sample_pretrain(40, seed=4)
    assert images.shape == (40, 32, 32, 3) and images.dtype == np.uint8
    assert np.array_equal(images, again) and captions == again_captions
    assert not np.array_equal(images, other) and captions != other_captions
    assert not np.array_equal(world.sample_pretrain(40, seed=(3, 0))[0], images)  # tuple seeds are other streams


def test_downstream_samples_are_deterministic_per_seed():
    labels = world.balanced_labels(2)
    images, out_labels = world.sample_downstream(labels, seed=5)
    assert images.shape == (96, 32, 32, 3) and images.dtype == np.uint8
    assert np.array_equal(out_labels, labels)
    assert np.array_equal(images, world.sample_downstream(labels, seed=5)[0])
    assert not np.array_equal(images, world.sample_downstream(labels, seed=6)[0])
    with pytest.raises(ValueError, match="class ids"):
        world.sample_downstream([len(world.CLASSNAMES)], seed=0)


def test_classes_are_sorted_and_split_into_large_base_and_small_new():
    names = world.CLASSNAMES
    assert len(names) >= 40 and len(set(names)) == len(names)
    assert names == sorted(names)  # the label order image_folder gives the written folders
    assert world.NUM_BASE == len(names) // 2
    _, base = split_classes([], names, "base")
    _, new = split_classes([], names, "new")
    assert base == names[:world.NUM_BASE] and all(name.startswith("large ") for name in base)
    assert new == names[world.NUM_BASE:] and all(name.startswith("small ") for name in new)


@pytest.mark.parametrize("attribute", ["colour", "pattern", "shape"])
def test_base_and_new_each_cover_every_attribute_value(attribute):
    base, new = world.DOWNSTREAM[:world.NUM_BASE], world.DOWNSTREAM[world.NUM_BASE:]
    assert _values(base, attribute) == _values(new, attribute) == set(ATTRIBUTES[attribute])


def test_new_classes_pair_colours_and_shapes_unlike_base():
    pairs = lambda combos: {(c.colour, c.shape) for c in combos}
    assert not pairs(world.DOWNSTREAM[:world.NUM_BASE]) & pairs(world.DOWNSTREAM[world.NUM_BASE:])


def test_pretraining_sees_every_value_but_not_every_combination():
    assert world.HELD_OUT and world.HELD_OUT <= set(world.DOWNSTREAM)
    assert not world.HELD_OUT & set(world.PRETRAIN_COMBOS)
    assert {c.size for c in world.HELD_OUT} == set(SIZES)  # base and new both have held-out classes
    for attribute, values in ATTRIBUTES.items():
        assert _values(world.PRETRAIN_COMBOS, attribute) == set(values)


def test_every_attribute_value_occurs_in_pretraining_captions():
    _, captions = world.sample_pretrain(400, seed=0)
    words = {word for text in captions for word in split_words(text)}
    for values in ATTRIBUTES.values():
        assert set(values) <= words


def test_every_class_name_is_said_by_the_captions():
    texts = " | ".join(world.all_captions())
    missing = [name for name in world.CLASSNAMES if f"a photo of a {name}." not in texts]
    assert not missing


def test_a_batch_holds_each_combination_once():
    """Captions of one batch name distinct combinations (no false negatives for the contrastive loss)."""
    _, captions = world.sample_pretrain(len(world.PRETRAIN_COMBOS), seed=1)
    attribute_words = {value: name for name, values in ATTRIBUTES.items() for value in values}
    described = [frozenset(word for word in split_words(text) if word in attribute_words) for text in captions]
    assert all(len(words) <= 4 for words in described)
    plain = [words for words in described if len(words) == 4]  # "with no pattern" omits the word "solid"
    assert len(set(plain)) == len(plain)


def test_shapes_are_distinct_silhouettes():
    u, v = np.meshgrid(np.linspace(-1.4, 1.4, 141), np.linspace(-1.4, 1.4, 141))
    masks = {name: test(u, v) for name, test in SHAPE_TESTS.items()}
    for name, mask in masks.items():
        assert 0.1 < mask.mean() < 0.6, name
    for (a, mask_a), (b, mask_b) in itertools.combinations(masks.items(), 2):
        iou = (mask_a & mask_b).sum() / (mask_a | mask_b).sum()
        assert iou < 0.85, (a, b, iou)


def _corners(images: np.ndarray) -> np.ndarray:
    """The 4x4 corner patches: mostly background, wherever the object is."""
    x = images.astype(float) / 255
    return np.concatenate([x[:, :4, :4], x[:, :4, -4:], x[:, -4:, :4], x[:, -4:, -4:]], axis=1)


def test_downstream_is_shifted_from_pretraining():
    pretrain, _ = world.sample_pretrain(200, seed=0)
    downstream, _ = world.sample_downstream(world.balanced_labels(4), seed=0)
    plain, cluttered = _corners(pretrain), _corners(downstream)
    assert cluttered.std(axis=(1, 2)).mean() > 2 * plain.std(axis=(1, 2)).mean()  # blobs and noise
    colourfulness = lambda x: (x.max(-1) - x.min(-1)).mean()
    assert colourfulness(cluttered) > 2 * colourfulness(plain)  # tinted backgrounds


def test_image_folder_round_trip(tmp_path):
    root = world.write_image_folder(tmp_path / "shapes", {"train": 2, "test": 1}, seed=0)
    benchmark = image_folder(root)
    assert benchmark.classnames == world.CLASSNAMES
    assert len(benchmark.train) == 2 * len(world.CLASSNAMES) and len(benchmark.test) == len(world.CLASSNAMES)
    assert all(s.classname == world.CLASSNAMES[s.label] for s in benchmark.train + benchmark.test)
    with Image.open(benchmark.test[0].path) as image:
        assert image.size == (32, 32) and image.mode == "RGB"
    train = {np.asarray(Image.open(s.path)).tobytes() for s in benchmark.train}
    assert not any(np.asarray(Image.open(s.path)).tobytes() in train for s in benchmark.test)
    assert [p.name for p in tmp_path.iterdir()] == ["shapes"]  # no staging folder left behind
    with pytest.raises(FileExistsError):
        world.write_image_folder(root, {"test": 1}, seed=0)
