"""End-to-end training through the CLI: train -> eval -> export, resume, errors, DDP."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from skipwrap.cli import main
from skipwrap.train import TrainConfig, train
from train_fixtures import digits_splits, tiny_open_clip_dir

FAST = ["--shots", "4", "--epochs", "3", "--skip-layers", "1", "--batch-size", "4", "--workers", "0",
        "--lr-text", "1e-3", "--lr-image", "1e-3", "--warmup-epochs", "1", "--quiet"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    return tiny_open_clip_dir(root / "model"), digits_splits(root / "digits")


def run_cli(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_train_then_eval_then_export(setup, tmp_path, capsys):
    spec, data = setup
    out = tmp_path / "run"
    code, stdout, err = run_cli(["train", "--model", spec, "--data", str(data), "--out", str(out), *FAST], capsys)
    assert code == 0, err
    assert {p.name for p in out.iterdir()} >= {"tuned.safetensors", "metrics.jsonl", "config.json", "checkpoint.pt"}
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records if "epoch" in r] == [1, 2, 3]
    assert set(records[-1]["eval"]) == {"accuracy", "base", "new", "hm"}
    assert json.loads((out / "config.json").read_text())["shots"] == 4
    assert json.loads(stdout.strip().splitlines()[-1])["out"] == str(out)

    code, stdout, err = run_cli(["eval", "--model", spec, "--tuned", str(out / "tuned.safetensors"),
                                 "--data", str(data), "--workers", "0", "--json"], capsys)
    assert code == 0, err
    metrics = json.loads(stdout)
    assert metrics == pytest.approx(records[-1]["eval"])
    code, stdout, _ = run_cli(["eval", "--model", spec, "--data", str(data), "--subsample", "new",
                               "--workers", "0"], capsys)
    assert code == 0 and stdout.startswith("new: ")

    merged = tmp_path / "merged.safetensors"
    code, _, err = run_cli(["export", "--model", spec, "--tuned", str(out / "tuned.safetensors"),
                            "--out", str(merged)], capsys)
    assert code == 0, err
    tuned = load_file(out / "tuned.safetensors")
    full = load_file(merged)
    assert set(tuned) < set(full) and all(torch.equal(full[k], v) for k, v in tuned.items())


def test_resume_after_interruption_matches_an_uninterrupted_run(setup, tmp_path):
    spec, data = setup
    base = dict(model=spec, data=str(data), shots=4, epochs=3, skip_layers=1, workers=0, lr_text=1e-3,
                lr_image=1e-3, resample=True, class_ratio=0.5)
    train(TrainConfig(out=str(tmp_path / "a"), **base), progress=False)

    def interrupt(epoch, record):
        if epoch == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(out=str(tmp_path / "b"), **base), progress=False, callbacks=[interrupt])
    assert not (tmp_path / "b" / "tuned.safetensors").exists()
    with pytest.raises(ValueError, match="already holds a run"):
        train(TrainConfig(out=str(tmp_path / "b"), **base), progress=False)
    with pytest.raises(ValueError, match="different configuration.*epochs"):
        train(TrainConfig(out=str(tmp_path / "b"), **{**base, "epochs": 4}), resume=True, progress=False)
    train(TrainConfig(out=str(tmp_path / "b"), **base), resume=True, progress=False)
    a, b = load_file(tmp_path / "a" / "tuned.safetensors"), load_file(tmp_path / "b" / "tuned.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    epochs_b = [json.loads(l)["epoch"] for l in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
                if "epoch" in l]
    assert epochs_b == [1, 2, 3]


@pytest.mark.parametrize("views, cache", [("2", "disk"), ("none", "ram")])
def test_cache_views_and_disk_cache_train(setup, tmp_path, views, cache):
    spec, data = setup
    result = train(TrainConfig(model=spec, data=str(data), shots=4, epochs=2, skip_layers=1, workers=0,
                               cache_views=views, cache=cache, cache_dtype="bfloat16", out=str(tmp_path)),
                   progress=False)
    assert len(result.epochs) == 2 and not (tmp_path / "cache" / "image_prefix.rank0.npy").exists()


def test_corrupt_images_are_reported_and_skipped(setup, tmp_path, caplog):
    spec, data = setup
    import shutil

    copy = tmp_path / "digits"
    shutil.copytree(data, copy)
    (copy / "train" / "one" / "broken.png").write_bytes(b"not an image at all")
    result = train(TrainConfig(model=spec, data=str(copy), shots=0, epochs=1, skip_layers=1, workers=0,
                               out=str(tmp_path / "out")), progress=False)
    assert result.metrics and "broken.png" in caplog.text


@pytest.mark.parametrize("change, message", [
    ({"--data": "/no/such/folder"}, "/no/such/folder"),
    ({"--model": "open_clip:ViT-B-17"}, "unknown open_clip model 'ViT-B-17'; did you mean"),
    ({"--model": "keras:clip"}, "LOADER:NAME"),
    ({"--class-ratio": "1.5"}, "class_ratio must be in (0, 1]"),
    ({"--dataset": "OxfordPets"}, "exactly one of data"),
    ({"--data": None, "--dataset": "NotADataset", "--root": "/tmp"}, "NotADataset"),
])
def test_bad_inputs_give_clear_errors(setup, tmp_path, capsys, change, message):
    spec, data = setup
    options = {"--model": spec, "--data": str(data), "--out": str(tmp_path / "out"), **change}
    argv = ["train", "--quiet"] + [x for k, v in options.items() if v is not None for x in (k, v)]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and message in err, err
    assert not (tmp_path / "out" / "checkpoint.pt").exists()


def test_empty_class_folder_is_refused_before_any_work(setup, tmp_path, capsys):
    spec, _ = setup
    (tmp_path / "data" / "cat").mkdir(parents=True)
    (tmp_path / "data" / "dog").mkdir()
    code, _, err = run_cli(["train", "--model", spec, "--data", str(tmp_path / "data"),
                            "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "cat" in err and "dog" in err
    assert not (tmp_path / "out").exists()


def test_help_of_every_command_is_complete():
    out = subprocess.run([sys.executable, "-m", "skipwrap.cli", "train", "--help"], capture_output=True,
                         text=True, check=True).stdout
    for flag in ("--model", "--pretrained", "--data", "--dataset", "--root", "--shots", "--subsample",
                 "--skip-layers", "--class-ratio", "--epochs", "--batch-size", "--preset", "--out", "--resume"):
        assert flag in out
    assert "(default: 0.5)" in out and "(default: 20)" in out
    for command in ("eval", "export"):
        assert "--tuned" in subprocess.run([sys.executable, "-m", "skipwrap.cli", command, "--help"],
                                           capture_output=True, text=True, check=True).stdout


def test_two_gloo_processes_agree_with_one(setup, tmp_path):
    spec, data = setup
    args = ["train", "--model", spec, "--data", str(data), *FAST, "--epochs", "2", "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, "-m", "skipwrap.cli", *args, "--out", str(tmp_path / "one")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert one.returncode == 0, one.stderr[-2000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_port", "29533", "-m", "skipwrap.cli", *args, "--out", str(tmp_path / "two")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    a, b = load_file(tmp_path / "one" / "tuned.safetensors"), load_file(tmp_path / "two" / "tuned.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-6)
    assert not torch.equal(a["visual.proj"], load_file(Path(spec.split(":", 2)[2]) /
                                                      "open_clip_model.safetensors")["visual.proj"])


def test_transformers_model_from_a_local_folder_trains(setup, tmp_path, capsys):
    pytest.importorskip("transformers")
    from train_fixtures import tiny_hf_clip_dir

    _, data = setup
    spec = tiny_hf_clip_dir(tmp_path / "hf")
    code, stdout, err = run_cli(["train", "--model", spec, "--data", str(data), "--out", str(tmp_path / "out"),
                                 *FAST, "--epochs", "2"], capsys)
    assert code == 0, err
    assert {"base", "new", "hm"} <= set(json.loads(stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("method", ["ft", "coop", "zeroshot"])
def test_methods_train_through_the_same_cli(setup, tmp_path, capsys, method):
    spec, data = setup
    out = tmp_path / method
    training = [] if method == "zeroshot" else ["--batch-size", "4", "--skip-layers", "1"]
    code, stdout, err = run_cli(["train", "--method", method, "--model", spec, "--data", str(data),
                                 "--out", str(out), "--shots", "4", "--epochs", "1", "--workers", "0",
                                 "--quiet", *training], capsys)
    assert code == 0, err
    assert {"base", "new", "hm"} <= set(json.loads(stdout.strip().splitlines()[-1]))
    if method == "ft":
        saved = json.loads((out / "config.json").read_text())
        assert saved["skip_layers"] == 0 and saved["class_ratio"] == 1.0
    else:
        assert json.loads((out / "config.json").read_text())["method"] == method
