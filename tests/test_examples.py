"""The documented examples run as written (tiny random models, a few steps)."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script, args", [
    ("open_clip_custom_loop.py", ["--steps", "3"]),
    ("transformers_clip.py", ["--steps", "2"]),
])
def test_example_runs(script, args, tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "examples" / script), *args], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "trainable params" in out.stdout and "loss" in out.stdout


def test_open_clip_example_writes_a_loadable_file(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "examples" / "open_clip_custom_loop.py"), "--steps", "1",
                    "--out", str(tmp_path / "t.safetensors")], check=True, capture_output=True, timeout=300)
    import skipwrap.io

    assert skipwrap.io.read_metadata(tmp_path / "t.safetensors")["kind"] == "tuned"
