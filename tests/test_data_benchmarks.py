"""The CoOp-format benchmark readers on tiny fake data roots, and the registry."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from data_fakes import (
    IMAGENET_CLASSES,
    aircraft_root,
    imagenet_root,
    imagenet_subset_root,
    imagenet_v2_root,
    split_json_root,
    write_png,
)
from skipwrap.data import (
    ALIASES,
    BENCHMARKS,
    CANONICAL,
    COOP_TEMPLATES,
    SKIPT_TEMPLATES,
    MissingPathError,
    load_benchmark,
)

STANDARD = {
    "Caltech101", "OxfordPets", "StanfordCars", "OxfordFlowers", "Food101", "FGVCAircraft", "SUN397",
    "DescribableTextures", "EuroSAT", "UCF101", "ImageNet", "ImageNetV2", "ImageNetSketch", "ImageNetA", "ImageNetR",
}


def _files_exist(bench):
    return all(Path(s.path).is_file() for split in (bench.train, bench.val, bench.test) for s in split)


def test_registry_covers_the_standard_set_with_templates():
    assert set(CANONICAL) == STANDARD
    assert set(SKIPT_TEMPLATES) == STANDARD == set(COOP_TEMPLATES)
    assert all(alias == alias.lower() and ALIASES[alias] in CANONICAL for alias in ALIASES)
    assert all(BENCHMARKS[alias] is CANONICAL[ALIASES[alias]] for alias in ALIASES)
    assert all("{}" in t for t in [*SKIPT_TEMPLATES.values(), *COOP_TEMPLATES.values()])


@pytest.mark.parametrize(
    "name, folder, images",
    [
        ("OxfordPets", "oxford_pets", "images"),
        ("EuroSAT", "eurosat", "2750"),
        ("StanfordCars", "stanford_cars", ""),
        ("UCF101", "ucf101", "UCF-101-midframes"),
    ],
)
def test_split_json_benchmarks(tmp_path, name, folder, images):
    split_json_root(tmp_path, name, folder, images, ["Abyssinian", "basset_hound", "Bengal"])
    bench = load_benchmark(name, tmp_path)
    assert bench.name == name
    assert bench.classnames == ["Abyssinian", "basset_hound", "Bengal"]
    assert (len(bench.train), len(bench.val), len(bench.test)) == (6, 6, 6)
    assert bench.template == SKIPT_TEMPLATES[name]
    assert _files_exist(bench)
    assert {s.label for s in bench.test} == {0, 1, 2}


def test_aliases_and_template_override(tmp_path):
    split_json_root(tmp_path, "OxfordPets", "oxford_pets", "images", ["a", "b"])
    for alias in ("pets", "oxford_pets", "OXFORD-PETS", "oxfordpets"):
        assert load_benchmark(alias, tmp_path).name == "OxfordPets"
    coop = load_benchmark("OxfordPets", tmp_path, template=COOP_TEMPLATES["OxfordPets"])
    assert coop.prompts() == ["a photo of a a, a type of pet.", "a photo of a b, a type of pet."]


def test_split_json_inconsistent_labels(tmp_path):
    split_json_root(tmp_path, "DescribableTextures", "dtd", "images", ["banded", "blotchy"])
    split_file = tmp_path / "dtd" / "split_zhou_DescribableTextures.json"
    content = json.loads(split_file.read_text())
    content["test"][0][2] = "striped"
    split_file.write_text(json.dumps(content))
    with pytest.raises(ValueError, match="label 0 is named both"):
        load_benchmark("dtd", tmp_path)


def test_fgvc_aircraft_txt_format(tmp_path):
    aircraft_root(tmp_path, ["707-320", "A300B4", "Cessna 172"])
    bench = load_benchmark("aircraft", tmp_path)
    assert bench.name == "FGVCAircraft"
    assert bench.classnames == ["707-320", "A300B4", "Cessna 172"]
    assert [(s.label, s.classname) for s in bench.test] == [(0, "707-320"), (1, "A300B4"), (2, "Cessna 172")]
    assert (len(bench.train), len(bench.val)) == (3, 3)
    assert _files_exist(bench)


def test_imagenet_folder_format(tmp_path):
    imagenet_root(tmp_path)
    bench = load_benchmark("imagenet", tmp_path)
    assert bench.classnames == list(IMAGENET_CLASSES.values())
    assert (len(bench.train), len(bench.val), len(bench.test)) == (9, 0, 3)
    assert {(s.label, s.classname) for s in bench.test} == {(0, "tench"), (1, "goldfish"), (2, "great white shark")}
    assert bench.prompts()[2] == "a photo of a great white shark."
    assert _files_exist(bench)


def test_imagenet_a_and_r_use_their_class_subset(tmp_path):
    imagenet_subset_root(tmp_path, "imagenet-adversarial", "imagenet-a", ["n01484850", "n01443537"])
    imagenet_subset_root(tmp_path, "imagenet-rendition", "imagenet-r", ["n01440764"])
    a = load_benchmark("imagenet-a", tmp_path)
    assert a.classnames == ["goldfish", "great white shark"]  # sorted by wnid, relabelled 0..
    assert (a.train, a.val) == ([], [])
    assert {(s.label, s.classname) for s in a.test} == {(0, "goldfish"), (1, "great white shark")}
    assert a.template == "a bad photo of a {}."
    r = load_benchmark("ImageNetR", tmp_path)
    assert r.classnames == ["tench"] and len(r.test) == 2


def test_imagenet_v2_and_sketch(tmp_path):
    imagenet_v2_root(tmp_path)
    v2 = load_benchmark("imagenetv2", tmp_path)
    assert v2.classnames == list(IMAGENET_CLASSES.values()) and v2.train == []
    assert {s.label for s in v2.test} == {0, 1, 2}
    assert all(v2.classnames[s.label] == s.classname for s in v2.test)
    (tmp_path / "imagenet-sketch").mkdir()
    (tmp_path / "imagenet-sketch" / "classnames.txt").write_text("n01440764 tench\nn01443537 goldfish\n")
    write_png(tmp_path / "imagenet-sketch" / "images" / "n01443537" / "s.jpg")
    sketch = load_benchmark("imagenet_sketch", tmp_path)
    assert [(s.label, s.classname) for s in sketch.test] == [(1, "goldfish")]
    assert sketch.prompts() == ["a sketch of a tench.", "a sketch of a goldfish."]


def test_unknown_name_lists_known_ones(tmp_path):
    with pytest.raises(ValueError, match="unknown benchmark 'cifar10'.*Caltech101.*ImageNetR"):
        load_benchmark("cifar10", tmp_path)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("OxfordPets", "oxford_pets/images"),
        ("FGVCAircraft", "fgvc_aircraft/images"),
        ("ImageNet", "imagenet/classnames.txt"),
        ("ImageNetA", "imagenet-adversarial/classnames.txt"),
    ],
)
def test_missing_dataset_names_the_expected_path(tmp_path, name, expected):
    with pytest.raises(MissingPathError, match=re.escape(str(tmp_path / expected))):
        load_benchmark(name, tmp_path)


def test_missing_split_file_names_it(tmp_path):
    (tmp_path / "eurosat" / "2750").mkdir(parents=True)
    with pytest.raises(ValueError, match="split file not found.*split_zhou_EuroSAT.json"):
        load_benchmark("eurosat", tmp_path)


def test_split_file_pointing_at_absent_images(tmp_path):
    split_json_root(tmp_path, "Food101", "food-101", "images", ["pizza"])
    (tmp_path / "food-101" / "images" / "pizza" / "train_0.jpg").unlink()
    with pytest.raises(MissingPathError, match="train_0.jpg, which does not exist"):
        load_benchmark("food101", tmp_path)


def test_missing_aircraft_split_file(tmp_path):
    aircraft_root(tmp_path, ["A300B4"])
    (tmp_path / "fgvc_aircraft" / "images_variant_val.txt").unlink()
    with pytest.raises(MissingPathError, match="images_variant_val.txt"):
        load_benchmark("FGVCAircraft", tmp_path)
