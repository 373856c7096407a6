"""`ember train` runs never lose work and refuse bad input clearly: resume (stretched schedule,
conflicts, mid-epoch after Ctrl-C), run directories, counts, full disks, stale temp files."""

from __future__ import annotations

import csv
import errno
import os
import signal

import numpy as np
import pytest

from ember.cli import main
from ember.io import safetensors
from ember.train import checkpoint
from ember.train.trainer import Trainer
from tests.data.idx_helpers import fake_fashion_mnist

TEXT = "to be, or not to be, that is the question:\nwhether 'tis nobler in the mind\n" * 40


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    return fake_fashion_mnist(tmp_path, monkeypatch, n_train=96, n_test=16)


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def _mlp(out, *flags):
    return ["train", "mlp", "--limit", "96", "--batch-size", "16", "--quiet", "--out", str(out),
            "--no-jit", *flags]  # fmt: skip


def _weights(run):
    arrays = safetensors.load_file(run / "checkpoint.safetensors", numpy=True)
    return {k: v for k, v in arrays.items() if k.startswith(("model.", "optimizer."))}


def _lrs(run):
    return [float(r["lr"]) for r in csv.DictReader((run / "metrics.csv").read_text().splitlines())]


def test_resume_with_more_epochs_stretches_the_schedule(data_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_mlp(run, "--epochs", "2")) == 0
    assert _lrs(run) == pytest.approx([1e-3, 5e-4])  # cosine over 2 epochs
    capsys.readouterr()
    resume = ["train", "mlp", "--epochs", "4", "--resume", "--out", str(run), "--no-jit"]
    assert main(resume) == 0
    assert "schedule stretched from 2 to 4 epochs" in capsys.readouterr().out
    # epochs 3 and 4 follow the 4-epoch cosine (not learning rate 0, as a 2-epoch one would)
    assert _lrs(run)[2:] == pytest.approx([5e-4, 1.4644661e-4])


def test_resume_refuses_another_model_and_conflicting_flags(data_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_mlp(run, "--epochs", "1")) == 0
    argv = ["train", "cnn", "--resume", "--out", str(run), "--lr", "0.5", "--batch-size", "16"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("ember: error: --resume continues a run")
    assert "model cnn (the run trains mlp)" in err and "--lr 0.5 (the run has 0.001)" in err
    assert "--batch-size" not in err  # the run's own value is no conflict


def test_a_new_run_never_overwrites_an_old_one(data_dir, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(_mlp(run, "--epochs", "1")) == 0
    before = (run / "checkpoint.safetensors").read_bytes()
    assert main(_mlp(run, "--epochs", "1", "--seed", "5")) == 1
    err = capsys.readouterr().err
    assert "already holds a run" in err and "--resume" in err and "--force" in err
    assert (run / "checkpoint.safetensors").read_bytes() == before
    assert main(_mlp(run, "--epochs", "1", "--seed", "5", "--force")) == 0
    assert checkpoint.read(run / "checkpoint.safetensors")["extra"]["config"]["seed"] == 5


@pytest.mark.parametrize(
    "argv,complaint",
    [
        (["train", "mlp", "--epochs", "-1"], "--epochs: -1 is not a positive integer"),
        (["train", "mlp", "--epochs", "0"], "--epochs: 0 is not a positive integer"),
        (["train", "mlp", "--limit", "-3"], "--limit: -3 is not a positive integer"),
        (["train", "mlp", "--limit", "0"], "--limit: 0 is not a positive integer"),
        (["train", "cnn", "--batch-size", "0"], "--batch-size: 0 is not a positive integer"),
        (["train", "gpt", "--vocab-size", "0"], "--vocab-size: 0 is not a positive integer"),
        (["train", "lstm", "--eval-iters", "0"], "--eval-iters: 0 is not a positive integer"),
        (["train", "mlp", "--lr", "nan"], "--lr: nan is not a positive number"),
        (["train", "dcgan", "--fid-samples", "-1"], "--fid-samples: -1 is not an integer ≥ 0"),
        (["train", "vae", "--fid-samples", "10"], "unrecognized arguments: --fid-samples"),
    ],
)
def test_counts_are_checked_when_parsed(argv, complaint, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and complaint in err
    assert err.count("\n") == 1 and err.startswith("ember: error: ")


def test_a_bad_out_fails_before_training(data_dir, tmp_path, capsys):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(_mlp(a_file, "--epochs", "1")) == 1
    assert "is a file: expected a directory" in capsys.readouterr().err
    assert main(_mlp(a_file / "sub", "--epochs", "1")) == 1
    err = capsys.readouterr().err
    assert "is not writable" in err and err.count("\n") == 1
    with pytest.raises(ValueError, match="is not writable"):  # --debug: the exception
        main(["--debug", *_mlp(a_file / "sub", "--epochs", "1")])


def test_a_full_disk_loses_nothing(data_dir, tmp_path, monkeypatch, capsys):
    straight, run = tmp_path / "straight", tmp_path / "run"
    assert main(_mlp(straight, "--epochs", "3")) == 0
    real_fsync, calls = os.fsync, []

    def fsync(fd):  # the disk fills up while the second epoch's checkpoint is written
        calls.append(fd)
        if len(calls) == 3:  # epoch 1: checkpoint and metrics.csv; epoch 2: checkpoint
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(safetensors.os, "fsync", fsync)
    assert main(_mlp(run, "--epochs", "3")) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "the checkpoint of epoch 1 is intact" in err
    assert f"ember train mlp --out {run} --resume" in err
    assert checkpoint.read(run / "checkpoint.safetensors")["epoch"] == 1
    assert not list(run.glob(".tmp-*"))
    monkeypatch.setattr(safetensors.os, "fsync", real_fsync)
    assert main(["train", "mlp", "--resume", "--out", str(run), "--quiet", "--no-jit"]) == 0
    for name, value in _weights(straight).items():
        np.testing.assert_array_equal(_weights(run)[name], value, err_msg=name)


def test_stale_temp_files_are_removed(data_dir, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    stale = run / ".tmp-abc123checkpoint.safetensors"
    stale.write_bytes(b"\0" * 1024)  # what SIGKILL during a write leaves
    assert main(_mlp(run, "--epochs", "1")) == 0
    assert not stale.exists()


def _interrupt_at(monkeypatch, at_step):
    """Ctrl-C (a real SIGINT) right after global step ``at_step`` of the next run."""
    step = Trainer.step

    def interrupted(self):
        values = step(self)
        if self.state.step == at_step:
            os.kill(os.getpid(), signal.SIGINT)
        return values

    monkeypatch.setattr(Trainer, "step", interrupted)


FAMILIES = {
    "classifier": (["train", "mlp", "--epochs", "2", "--limit", "96", "--batch-size", "16"], 9),
    "language model": (["train", "lstm", "--iters", "12", "--layers", "1", "--width", "16",
                        "--block-size", "8", "--batch-size", "4", "--eval-interval", "5",
                        "--eval-iters", "2"], 7),
    "generative": (["train", "dcgan", "--epochs", "2", "--limit", "96", "--batch-size", "16",
                    "--fid-samples", "0"], 8),
}  # fmt: skip


@pytest.mark.parametrize("step", ["compiled", "eager"])
@pytest.mark.parametrize("family", FAMILIES)
def test_ctrl_c_saves_mid_epoch_and_resume_is_exact(
    family, step, data_dir, text_file, tmp_path, monkeypatch, capsys
):
    argv, at = FAMILIES[family]
    mode = ["--no-jit"] if step == "eager" else []
    argv = [*argv, "--quiet", *mode]
    if family == "language model":
        argv += ["--text", str(text_file)]
    straight, run = tmp_path / "straight", tmp_path / "run"
    assert main([*argv, "--out", str(straight)]) == 0
    with monkeypatch.context() as m:
        _interrupt_at(m, at)
        assert main([*argv, "--out", str(run)]) == 130
    err = capsys.readouterr().err
    assert f"({at} steps in all)" in err and f"--out {run} --resume" in err
    saved = checkpoint.read(run / "checkpoint.safetensors")["extra"]["position"]
    assert saved["step"] == at and saved["batch"] > 0  # in the middle of an epoch
    model = argv[1]
    assert main(["train", model, "--resume", "--out", str(run), "--quiet", *mode]) == 0
    for name, value in _weights(straight).items():
        np.testing.assert_array_equal(_weights(run)[name], value, err_msg=name)
    rows = [
        list(csv.DictReader((r / "metrics.csv").read_text().splitlines())) for r in (straight, run)
    ]
    strip = [[{k: v for k, v in row.items() if k != "time"} for row in rs] for rs in rows]
    assert strip[0] == strip[1]


def test_generative_runs_announce_the_fid_classifier(data_dir, tmp_path, monkeypatch, capsys):
    from ember.metrics.fid import FeatureExtractor

    class Stop(Exception):
        pass

    def load(cls, **kwargs):
        raise Stop  # where the classifier would be trained: the announcement came before

    monkeypatch.setenv("EMBER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(FeatureExtractor, "load", classmethod(load))
    argv = ["train", "dcgan", "--epochs", "1", "--limit", "32", "--out", str(tmp_path / "gan")]
    with pytest.raises(Stop):
        main(["--debug", *argv])
    lines = capsys.readouterr().out.splitlines()
    first = next(line for line in lines if not line.startswith("threads: "))
    assert first.startswith("FID needs a Fashion-MNIST classifier") and "minutes" in first
    assert "--fid-samples 0 skips FID" in first
