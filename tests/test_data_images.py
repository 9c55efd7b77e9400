"""ImageDataset with broken files, collate_skip_broken, the transforms, and digits_folder."""
from __future__ import annotations

import logging
import sys

import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from data_fakes import class_tree, write_corrupt, write_png
from skipwrap.data import (
    CLIP_MEAN,
    ImageDataset,
    Sample,
    collate_skip_broken,
    digits_folder,
    eval_transform,
    image_folder,
    train_transform,
)

SIZE = 16


def test_items_are_tensor_label_index(tmp_path):
    samples = [Sample(str(write_png(tmp_path / f"{i}.png", size=(40, 24))), i % 2, f"c{i % 2}") for i in range(3)]
    dataset = ImageDataset(samples, eval_transform(SIZE))
    image, label, index = dataset[2]
    assert image.shape == (3, SIZE, SIZE) and image.dtype == torch.float32
    assert (label, index) == (0, 2)
    assert len(dataset) == 3 and dataset.failures == {}


def test_dataloader_skips_and_reports_a_corrupt_file(tmp_path, caplog):
    root = class_tree(tmp_path / "data", {"a": 3, "b": 3})
    bad = write_corrupt(root / "b" / "broken.jpg")
    bench = image_folder(root)
    dataset = ImageDataset(bench.train, train_transform(SIZE))
    loader = DataLoader(dataset, batch_size=3, shuffle=False, collate_fn=collate_skip_broken)
    with caplog.at_level(logging.WARNING, logger="skipwrap.data.images"):
        seen = [index for _ in range(2) for batch in loader if batch is not None for index in batch[2].tolist()]
    assert sorted(seen) == sorted(2 * [i for i, s in enumerate(bench.train) if s.path != str(bad)])
    assert set(dataset.failures) == {str(bad)}
    assert "UnidentifiedImageError" in dataset.failures[str(bad)]
    warnings = [r for r in caplog.records if str(bad) in r.getMessage()]
    assert len(warnings) == 1  # reported once although read in two epochs


def test_missing_file_is_a_failure_too(tmp_path):
    dataset = ImageDataset([Sample(str(tmp_path / "gone.png"), 0, "a")], eval_transform(SIZE))
    assert dataset[0] is None
    assert "FileNotFoundError" in dataset.failures[str(tmp_path / "gone.png")]


def test_collate_skip_broken():
    item = (torch.zeros(3, 2, 2), 1, 0)
    images, labels, indices = collate_skip_broken([None, item, item])
    assert images.shape == (2, 3, 2, 2) and labels.tolist() == [1, 1]
    assert collate_skip_broken([None, None]) is None


def test_transforms_shapes_and_normalisation():
    image = Image.new("RGB", (50, 30), (255, 255, 255))
    torch.manual_seed(0)
    train = train_transform(SIZE)(image)
    evaluated = eval_transform(SIZE, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))(image)
    assert train.shape == evaluated.shape == (3, SIZE, SIZE)
    assert torch.allclose(evaluated, torch.ones_like(evaluated))
    expected = (1 - torch.tensor(CLIP_MEAN)) / torch.tensor((0.26862954, 0.26130258, 0.27577711))
    assert torch.allclose(train[:, SIZE // 2, SIZE // 2], expected, atol=1e-5)


def test_digits_folder_is_a_real_image_folder(tmp_path):
    pytest.importorskip("sklearn")
    bench = image_folder(digits_folder(tmp_path / "digits", per_class=4))
    assert len(bench.classnames) == 10 and "seven" in bench.classnames
    assert len(bench.train) == 40
    with Image.open(bench.train[0].path) as image:
        assert image.size == (8, 8)
    with pytest.raises(FileExistsError, match="not empty"):
        digits_folder(tmp_path / "digits")


def test_digits_folder_without_sklearn(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        digits_folder(tmp_path / "digits")
