"""``ember train … --tensorboard``: losses, learning rate, accuracy, gradient statistics and
sample grids read back by TensorBoard's reader, and a resumed run's purge of the steps after
its checkpoint."""

from __future__ import annotations

import pytest

pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from ember.cli import main
from ember.utils.tensorboard import SummaryWriter
from tests.data.idx_helpers import fake_fashion_mnist

STEPS = 6  # 96 images in batches of 16: steps per epoch


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    return fake_fashion_mnist(tmp_path, monkeypatch, n_train=96, n_test=16)


def _read(run):
    acc = EventAccumulator(str(run), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def _mlp(out, *flags):
    return ["train", "mlp", "--limit", "96", "--batch-size", "16", "--quiet", "--out", str(out),
            "--tensorboard", *flags]  # fmt: skip


def test_classifier_run_logs_losses_lr_accuracy_and_gradients(data_dir, tmp_path):
    run = tmp_path / "run"
    # eager: the monitor's hook on optimizer.step does not run inside a compiled step
    assert main(_mlp(run, "--epochs", "2", "--diagnose", "--no-jit")) == 0
    acc = _read(run)
    tags = set(acc.Tags()["scalars"])
    expected = {"batch/loss", "batch/lr", "epoch/loss", "epoch/accuracy",
                "epoch/val_loss", "epoch/val_accuracy", "epoch/lr", "epoch/time"}  # fmt: skip
    assert expected <= tags
    assert [e.step for e in acc.Scalars("batch/loss")] == list(range(1, 2 * STEPS + 1))
    assert [e.step for e in acc.Scalars("epoch/val_loss")] == [STEPS, 2 * STEPS]
    epochs = [r.split(",") for r in (run / "metrics.csv").read_text().splitlines()]
    header = epochs[0]
    for row, event in zip(epochs[1:], acc.Scalars("epoch/val_accuracy")):
        assert event.value == pytest.approx(float(row[header.index("val_accuracy")]), rel=1e-6)
    assert [e.value for e in acc.Scalars("epoch/lr")] == pytest.approx([1e-3, 5e-4])
    grads = sorted(t for t in tags if t.startswith("grad_norm/"))
    assert grads and all(f"update_ratio/{t[10:]}" in tags for t in grads)
    assert [e.step for e in acc.Scalars(grads[0])] == [1, 11]  # every 10th step, from the first
    assert all(e.value > 0 for e in acc.Scalars(grads[0]))


def test_generative_run_logs_its_sample_grids(data_dir, tmp_path):
    run = tmp_path / "vae"
    args = ["train", "vae", "--epochs", "1", "--limit", "64", "--batch-size", "32", "--quiet"]
    assert main([*args, "--out", str(run), "--tensorboard"]) == 0
    acc = _read(run)
    (grid,) = acc.Images("samples")
    assert grid.step == 2 and grid.width == 8 * 30 + 2
    assert "batch/loss" in acc.Tags()["scalars"]


def test_resume_purges_what_followed_the_checkpoint(data_dir, tmp_path):
    run = tmp_path / "run"
    assert main(_mlp(run, "--epochs", "1")) == 0
    # what a run killed after its checkpoint left behind: steps the resumed run redoes
    with SummaryWriter(run) as stale:
        for step in range(STEPS + 1, STEPS + 4):
            stale.add_scalar("batch/loss", -1.0, step)
    assert main(_mlp(run, "--epochs", "2", "--resume")) == 0
    events = _read(run).Scalars("batch/loss")
    assert [e.step for e in events] == list(range(1, 2 * STEPS + 1))
    assert all(e.value > 0 for e in events)


def test_force_deletes_the_event_files_of_the_run_it_replaces(data_dir, tmp_path):
    run = tmp_path / "run"
    assert main(_mlp(run, "--epochs", "1")) == 0
    assert main(_mlp(run, "--epochs", "1", "--force")) == 0
    assert len(list(run.glob("events.out.tfevents.*"))) == 1
