"""The benchmark scripts run end to end and produce their tables (tiny model, tiny sizes)."""
import json

import pytest

from skipwrap.cli import main
from train_fixtures import digits_splits, tiny_open_clip_dir


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    return tiny_open_clip_dir(tmp_path_factory.mktemp("bench") / "model")


def test_efficiency_table_and_chart(spec, tmp_path, capsys):
    out = tmp_path / "eff"
    assert main(["bench", "efficiency", "--model", spec, "--classes", "6", "--repeats", "2", "--slow-repeats", "1",
                 "--skip", "1", "--batch", "2", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    rows = [line for line in text.splitlines() if line.startswith("| 6 |")]
    assert [row.split("|")[2].strip() for row in rows] == ["ft", "skip", "coop", "lora", "skip-full-text",
                                                          "skip-bf16-cache", "k0-r1"]
    assert all("failed" not in row and "OOM" not in row for row in rows)
    assert out.with_suffix(".png").stat().st_size > 0
    raw = json.loads(out.with_suffix(".md").read_text().split("```json\n")[1].split("```")[0])
    assert all(r["step_s"] > 0 and r["peak_mib"] > 0 and r["trainable"] > 0 for r in raw)
    skip = next(r for r in raw if r["method"] == "skip")
    assert skip["cache_per_image_s"] > 0 and skip["kept_classes"] < 6


def test_base2new_table(spec, tmp_path, capsys):
    data = digits_splits(tmp_path / "digits")
    assert main(["bench", "base2new", "--model", spec, "--data", str(data), "--methods", "zeroshot", "skip",
                 "--seeds", "1", "2", "--shots", "4", "--epochs", "1", "--method-args",
                 "skip=--skip-layers 1 --workers 0", "--out", str(tmp_path / "b2n")]) == 0
    text = capsys.readouterr().out
    assert "| zeroshot |" in text and "| skip |" in text and text.count("| 2 |") == 2
    assert (tmp_path / "b2n" / "results.md").read_text().strip() == text.strip()


def test_cache_memory_table(tmp_path, capsys):
    out = tmp_path / "cache.md"
    assert main(["bench", "cache", "memory", "--rows", "64", "--tokens", "10", "--width", "16", "--reads", "5",
                 "--out", str(out)]) == 0
    text = out.read_text()
    assert "| ram |" in text and "| disk |" in text and "failed" not in text
