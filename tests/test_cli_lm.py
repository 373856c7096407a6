"""``ember train gpt|lstm``, ``ember sample``, ``ember doctor`` and ``--diagnose`` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ember.cli import main
from tests.data.idx_helpers import fake_fashion_mnist

ROOT = Path(__file__).resolve().parents[1]
TEXT = "to be, or not to be, that is the question:\nwhether 'tis nobler in the mind\n" * 40
TINY = ["--iters", "10", "--layers", "1", "--width", "32", "--block-size", "16"]
TINY += ["--batch-size", "4", "--eval-interval", "5", "--eval-iters", "2"]


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def test_train_gpt_sample_doctor(text_file, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "gpt", "--text", str(text_file), *TINY, "--heads", "2", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "iter 10/10" in printed and f"→ {out}" in printed
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["layers"] == 1 and summary["config"]["heads"] == 2
    assert summary["config"]["batch_size"] == 4 and summary["iters"] == 10

    ckpt = str(out / "checkpoint.safetensors")
    assert main(["sample", ckpt, "--prompt", "to be", "--tokens", "25", "--seed", "0"]) == 0
    text = capsys.readouterr().out
    assert text.endswith("\n") and text.startswith("to be") and len(text[:-1]) == 5 + 25
    assert set(text) <= set(TEXT)
    assert main(["sample", ckpt, "--tokens", "5", "--top-k", "1", "--temperature", "0.5"]) == 0
    assert len(capsys.readouterr().out) == 1 + 5 + 1  # default prompt "\n" + 5 tokens + print's

    html = tmp_path / "report.html"
    assert main(["doctor", str(out), "--html", str(html)]) == 0
    report = capsys.readouterr().out
    assert "ember doctor" in report and "val loss" in report
    assert html.read_text().startswith("<!DOCTYPE html>")


def test_train_lstm_resume_and_errors(text_file, tmp_path, capsys):
    out = tmp_path / "lstm"
    assert (
        main(["train", "lstm", "--text", str(text_file), *TINY, "--quiet", "--out", str(out)]) == 0
    )
    assert capsys.readouterr().out == ""
    assert main(["train", "lstm", "--iters", "15", "--resume", "--quiet", "--out", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["iters"] == 15

    latin = tmp_path / "latin.txt"
    latin.write_bytes("naïve".encode("latin-1"))
    assert (
        main(["train", "gpt", "--text", str(latin), "--quiet", "--out", str(tmp_path / "g")]) == 1
    )
    err = capsys.readouterr().err
    assert "latin.txt is not UTF-8 text: byte 0xef at offset 2" in err and "Traceback" not in err
    assert main(["sample", str(tmp_path / "nope.safetensors")]) == 1
    assert "ember: error" in capsys.readouterr().err
    assert main(["doctor", str(tmp_path / "missing")]) == 1
    assert "no such run directory" in capsys.readouterr().err
    for wrong in (["train", "mlp", "--text", "x"], ["train", "gpt", "--epochs", "2"]):
        with pytest.raises(SystemExit):
            main(wrong)
        assert "unrecognized arguments" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["sample", "x", "--bogus"])
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_train_diagnose_then_doctor(tmp_path, monkeypatch, capsys):
    fake_fashion_mnist(tmp_path, monkeypatch, n_train=200, n_test=20)
    out = tmp_path / "mlp"
    argv = ["train", "mlp", "--epochs", "1", "--limit", "64", "--batch-size", "4"]
    assert main([*argv, "--diagnose", "--out", str(out)]) == 0  # compiled steps by default
    assert "running the step eagerly: --diagnose records" in capsys.readouterr().out
    recorded = np.load(out / "diagnostics.npz")["grad_norm"]
    assert recorded.shape[0] == 2  # steps 0 and 10 of 16 (every 10): not only the first
    assert main(["doctor", str(out)]) == 0
    assert "monitor: " in capsys.readouterr().out  # the gradient statistics were read


def test_bench_and_doctor_pass_their_arguments_through():
    env_cmd = [sys.executable, "-m", "ember"]
    for sub in ("bench", "doctor"):
        res = subprocess.run([*env_cmd, sub, "-h"], capture_output=True, text=True, cwd=ROOT)
        assert res.returncode == 0 and f"ember {sub}" in res.stdout
