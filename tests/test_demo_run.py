"""A shortened ``skipwrap demo`` (the main job) runs end to end and reports every method."""
import json

from skipwrap.cli import main


def test_quick_demo_reports_zero_shot_ft_and_skip_tuning(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--plot"]) == 0
    rows = json.loads((out / "results.json").read_text())
    assert [r["method"] for r in rows] == ["zero-shot", "full fine-tuning", "skip tuning"]
    for row in rows:
        assert 0 <= row["base"] <= 100 and 0 <= row["new"] <= 100
    assert all(r["train_s"] > 0 and r["peak_mib"] > 0 for r in rows[1:])
    assert (out / "tuned.safetensors").stat().st_size > 0 and (out / "results.png").stat().st_size > 0
    printed = capsys.readouterr().out
    assert "| skip tuning |" in printed and "HM" in printed
