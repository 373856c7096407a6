from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ember.cli import main
from ember.io import safetensors
from ember.train import checkpoint
from tests.data.idx_helpers import fake_fashion_mnist

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    return fake_fashion_mnist(tmp_path, monkeypatch, n_train=400, n_test=40)


def test_train_eval_end_to_end(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "mlp", "--epochs", "1", "--limit", "96", "--batch-size", "32", "--out"]
    assert main([*argv, str(out), "--seed", "3"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint.safetensors",
        "metrics.csv",
        "plot.png",
        "summary.json",
    ]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"] == "mlp" and summary["epochs"] == 1 and summary["params"] == 669706
    assert 0.0 <= summary["test_accuracy"] <= 1.0 and summary["train_time_s"] > 0
    assert summary["config"]["limit"] == 96 and summary["config"]["seed"] == 3
    assert (out / "metrics.csv").read_text().startswith("epoch,loss,accuracy,val_loss")
    assert (out / "plot.png").read_bytes()[:4] == b"\x89PNG"
    printed = capsys.readouterr().out
    assert "epoch 1/1" in printed and "test_accuracy" in printed
    assert main(["eval", str(out / "checkpoint.safetensors")]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["accuracy"] == pytest.approx(summary["test_accuracy"]) and result["epoch"] == 1
    assert main(["data", "list"]) == 0
    assert f"found in {data_dir / 'fashion-mnist'}" in capsys.readouterr().out


def test_train_with_jit_gives_the_eager_run(data_dir, tmp_path):
    """The compiled step (the default) gives eager's numbers (float32 rounding)."""
    argv = ["train", "mlp", "--epochs", "1", "--limit", "96", "--batch-size", "32", "--quiet"]
    runs = {}
    for flags in (["--no-jit"], []):
        out = tmp_path / ("eager" if flags else "jit")
        assert main([*argv, *flags, "--out", str(out)]) == 0
        runs[not flags] = json.loads((out / "summary.json").read_text())
    assert runs[True]["test_loss"] == pytest.approx(runs[False]["test_loss"], rel=1e-4)
    with pytest.raises(SystemExit):
        main(["train", "gpt", "--epochs", "1"])  # a classifier option


def test_quiet_and_missing_dataset(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EMBER_DATA", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["train", "mlp", "--dataset", "kmnist", "--quiet", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "ember data fetch kmnist" in err and "Traceback" not in err
    with pytest.raises(SystemExit):
        main(["train", "vgg"])


def _train_cmd(out: Path, epochs: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ember",
        "train",
        "mlp",
        "--epochs",
        str(epochs),
        "--limit",
        "400",
        "--batch-size",
        "8",
        "--quiet",
        "--no-jit",
        "--out",
        str(out),
    ]


@pytest.mark.slow
def test_sigkill_mid_run_then_resume_matches_straight_run(data_dir, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    straight = tmp_path / "straight"
    subprocess.run(_train_cmd(straight, 4), env=env, check=True, timeout=300)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_train_cmd(killed, 4), env=env)
    ckpt = killed / "checkpoint.safetensors"
    deadline = time.monotonic() + 240
    while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert checkpoint.read(ckpt)["epoch"] < 4  # the last good checkpoint survived the kill

    subprocess.run([*_train_cmd(killed, 4), "--resume"], env=env, check=True, timeout=300)
    a = safetensors.load_file(straight / "checkpoint.safetensors", numpy=True)
    b = safetensors.load_file(ckpt, numpy=True)
    for name in (n for n in a if n.startswith("model.")):
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["epochs"] == 4
    assert len((killed / "metrics.csv").read_text().splitlines()) == 5


def test_generative_train_and_sample_go_through_ember_cli(data_dir, tmp_path, capsys):
    out = tmp_path / "vae"
    argv = ["train", "vae", "--epochs", "1", "--limit", "64", "--batch-size", "32", "--quiet"]
    assert main([*argv, "--out", str(out)]) == 0
    assert (out / "summary.json").exists()
    grid = tmp_path / "grid.png"
    ckpt = str(out / "checkpoint.safetensors")
    assert main(["sample", ckpt, "--n", "4", "--out", str(grid)]) == 0
    assert grid.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in capsys.readouterr().out
