"""image_folder and csv_source: layouts, labels, and the errors raised before any work."""
from __future__ import annotations

import pytest

from data_fakes import class_tree, write_png
from skipwrap.data import Benchmark, MissingPathError, Sample, csv_source, image_folder


# ---- image_folder -------------------------------------------------------------------


def test_flat_folder_is_all_train_with_sorted_classes(tmp_path):
    root = class_tree(tmp_path / "pets", {"dog": 2, "cat": 3, "bird": 1})
    write_png(root / "cat" / "upper.JPG")
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "cat" / ".hidden.png").write_bytes(b"")
    bench = image_folder(root)
    assert bench.name == "pets"
    assert bench.classnames == ["bird", "cat", "dog"]
    assert bench.val == [] and bench.test == []
    labels = {s.classname: s.label for s in bench.train}
    assert labels == {"bird": 0, "cat": 1, "dog": 2}
    assert sum(s.classname == "cat" for s in bench.train) == 4  # .JPG counted, txt and dot-file not


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".PNG", ".bmp", ".gif", ".webp", ".tif", ".TIFF"])
def test_all_image_suffixes_any_case(tmp_path, suffix):
    bench = image_folder(class_tree(tmp_path / "d", {"a": 1}, suffix=suffix))
    assert len(bench.train) == 1


def test_split_folders_become_splits(tmp_path):
    class_tree(tmp_path / "train", {"a": 2, "b": 2})
    class_tree(tmp_path / "test", {"a": 1, "b": 1})
    bench = image_folder(tmp_path, name="ab", template="a {} thing.")
    assert (bench.name, bench.template) == ("ab", "a {} thing.")
    assert (len(bench.train), len(bench.val), len(bench.test)) == (4, 0, 2)
    assert [s.label for s in bench.test] == [0, 1]


def test_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="not found.*nowhere"):
        image_folder(tmp_path / "nowhere")


def test_no_class_folders(tmp_path):
    write_png(tmp_path / "loose.png")
    with pytest.raises(ValueError, match="no class sub-folders"):
        image_folder(tmp_path)


def test_every_empty_class_is_named(tmp_path):
    class_tree(tmp_path, {"full": 1})
    (tmp_path / "empty1").mkdir()
    (tmp_path / "empty2").mkdir()
    (tmp_path / "empty2" / "readme.txt").write_text("x")
    with pytest.raises(ValueError, match="without images") as info:
        image_folder(tmp_path)
    assert "empty1" in str(info.value) and "empty2" in str(info.value)


def test_splits_disagreeing_on_classes(tmp_path):
    class_tree(tmp_path / "train", {"a": 1, "b": 1})
    class_tree(tmp_path / "val", {"a": 1, "c": 1})
    with pytest.raises(ValueError, match="disagree.*train lacks c.*val lacks b"):
        image_folder(tmp_path)


def test_mixed_layouts_are_refused(tmp_path):
    class_tree(tmp_path / "train", {"a": 1})
    class_tree(tmp_path, {"stray": 1})
    with pytest.raises(ValueError, match="mixes split folders"):
        image_folder(tmp_path)


def test_prompts_replace_underscores():
    bench = Benchmark(name="x", classnames=["great_white_shark"], template="a photo of a {}.")
    assert bench.prompts() == ["a photo of a great white shark."]
    assert bench.num_classes == 1


# ---- csv_source ---------------------------------------------------------------------


def _csv(path, text):
    path.write_text(text)
    return path


def test_csv_with_names_and_splits(tmp_path):
    for name in ("x1.png", "x2.png", "sub/y1.png"):
        write_png(tmp_path / name)
    path = _csv(tmp_path / "list.csv", "path,label,split\nx1.png,zebra,train\nx2.png,ant,TEST\nsub/y1.png,zebra,val\n")
    bench = csv_source(path)
    assert bench.name == "list"
    assert bench.classnames == ["ant", "zebra"]
    assert bench.train == [Sample(str(tmp_path / "x1.png"), 1, "zebra")]
    assert bench.val == [Sample(str(tmp_path / "sub/y1.png"), 1, "zebra")]
    assert bench.test == [Sample(str(tmp_path / "x2.png"), 0, "ant")]


def test_csv_with_ids_root_and_classnames(tmp_path):
    images = tmp_path / "images"
    write_png(images / "a.png")
    write_png(images / "b.png")
    (tmp_path / "meta").mkdir()
    path = _csv(tmp_path / "meta" / "l.csv", "path,label\na.png,1\nb.png,0\n")
    bench = csv_source(path, root=images, classnames=["cat", "dog"])
    assert bench.classnames == ["cat", "dog"]
    assert [(s.label, s.classname) for s in bench.train] == [(1, "dog"), (0, "cat")]
    assert bench.test == []
    assert csv_source(path, root=images).classnames == ["0", "1"]


def test_csv_missing_column(tmp_path):
    path = _csv(tmp_path / "l.csv", "file,label\na.png,x\n")
    with pytest.raises(ValueError, match="missing column.*path"):
        csv_source(path)


def test_csv_missing_files_are_listed_and_counted(tmp_path):
    write_png(tmp_path / "here.png")
    rows = "".join(f"gone{i}.png,a\n" for i in range(7))
    path = _csv(tmp_path / "l.csv", "path,label\nhere.png,a\n" + rows)
    with pytest.raises(ValueError, match="7 image file") as info:
        csv_source(path)
    assert "gone0.png" in str(info.value) and "gone6.png" not in str(info.value)


def test_csv_mixed_label_kinds(tmp_path):
    write_png(tmp_path / "a.png")
    path = _csv(tmp_path / "l.csv", "path,label\na.png,3\na.png,cat\n")
    with pytest.raises(ValueError, match="mix integer ids"):
        csv_source(path)


def test_csv_blank_cells(tmp_path):
    write_png(tmp_path / "a.png")
    with pytest.raises(ValueError, match="empty path or label.*3"):
        csv_source(_csv(tmp_path / "l.csv", "path,label\na.png,cat\na.png,\n"))


def test_csv_bad_split_and_missing_file(tmp_path):
    write_png(tmp_path / "a.png")
    with pytest.raises(ValueError, match="split must be one of"):
        csv_source(_csv(tmp_path / "l.csv", "path,label,split\na.png,cat,holdout\n"))
    with pytest.raises(MissingPathError, match="CSV file not found"):
        csv_source(tmp_path / "absent.csv")
