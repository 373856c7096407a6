from __future__ import annotations

import csv
import os

import numpy as np
import pytest

import ember
from ember import nn, optim
from ember.data import DataLoader, synthetic
from ember.io import safetensors
from ember.nn import functional as F
from ember.train import (
    CSVLogger,
    EarlyStopping,
    FitState,
    History,
    ModelCheckpoint,
    accuracy,
    checkpoint,
    evaluate,
    fit,
    topk_accuracy,
    trainer,
)


def _setup(seed: int = 0):
    ember.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
    opt = optim.Adam(model.parameters(), lr=0.05)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    loader = DataLoader(synthetic.gaussian_mixture(n=96, seed=1), batch_size=16, shuffle=True)
    return model, opt, sched, loader


def _weights(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def test_fit_learns_and_records_history(capsys):
    model, opt, sched, loader = _setup()
    history = fit(
        model,
        F.cross_entropy,
        opt,
        loader,
        val_loader=loader,
        epochs=3,
        scheduler=sched,
        metrics=("accuracy", "top2_accuracy"),
        progress=True,
    )
    assert len(history) == 3 and history["epoch"] == [1, 2, 3]
    assert history["val_accuracy"][-1] > 0.8 and history["loss"][-1] < history["loss"][0]
    assert history["lr"] == [0.05, 0.025, 0.0125]
    assert all(r["top2_accuracy"] >= r["accuracy"] for r in history.rows)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[0].startswith("epoch 1/3  loss ")
    assert model.training


def test_fit_reports_every_batch_loss_to_callbacks():
    from ember.diagnostics import GradientMonitor
    from ember.train.callbacks import Callback

    class Recorder(Callback):
        def __init__(self):
            self.losses = []

        def on_batch_end(self, state, logs):
            self.losses.append((state.epoch, logs["loss"]))

    model, opt, _, loader = _setup()
    recorder, monitor = Recorder(), GradientMonitor(model)
    history = fit(model, F.cross_entropy, opt, loader, epochs=2, callbacks=[recorder, monitor])
    assert [e for e, _ in recorder.losses] == [0] * len(loader) + [1] * len(loader)
    first_epoch = [v for e, v in recorder.losses if e == 0]
    assert np.mean(first_epoch) == pytest.approx(history["loss"][0], rel=1e-6)
    stats = monitor.stats()
    assert stats.losses.tolist() == [v for _, v in recorder.losses]
    assert stats.loss_steps.tolist() == list(range(2 * len(loader)))


def test_fit_quiet_prints_nothing(capsys):
    model, opt, _, loader = _setup()
    fit(model, F.cross_entropy, opt, loader, progress=False)
    assert capsys.readouterr().out == ""


def test_evaluate_uses_eval_mode_and_no_grad():
    model, _, _, loader = _setup()
    model.train()
    seen = []
    model.register_forward_hook(lambda m, i, o: seen.append((m.training, o.requires_grad)))
    logs = evaluate(model, F.cross_entropy, loader, prefix="val_")
    assert set(logs) == {"val_loss", "val_accuracy"} and seen[0] == (False, False)
    assert model.training


def test_metrics():
    out = ember.tensor([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5]])
    target = ember.tensor([1, 1, 0])
    assert accuracy(out, target) == pytest.approx(1 / 3)
    assert topk_accuracy(out, target, k=2) == pytest.approx(2 / 3)
    assert topk_accuracy(out, target, k=3) == 1.0
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        fit(*_setup()[:3], [], metrics=("f1",))


def test_checkpoint_round_trip(tmp_path):
    model, opt, sched, loader = _setup()
    fit(model, F.cross_entropy, opt, loader, epochs=1, scheduler=sched, progress=False)
    path = tmp_path / "ck.safetensors"
    checkpoint.save(path, model, opt, sched, epoch=1, extra={"note": "hi", "ids": (1, 2)})
    model2, opt2, sched2, _ = _setup(seed=7)
    ckpt = checkpoint.load(path, model2, opt2, sched2)
    assert ckpt["epoch"] == 1 and ckpt["extra"] == {"note": "hi", "ids": (1, 2)}
    for k, v in _weights(model).items():
        np.testing.assert_array_equal(v, _weights(model2)[k])
    s1, s2 = opt.state_dict(), opt2.state_dict()
    assert s1["param_groups"] == s2["param_groups"]
    for i, st in s1["state"].items():
        for key, val in st.items():
            np.testing.assert_array_equal(np.asarray(val), np.asarray(s2["state"][i][key]))
    assert sched2.state_dict() == sched.state_dict()
    # a plain safetensors file: every tensor is an entry, the rest is JSON metadata
    names = safetensors.load_file(path, numpy=True)
    assert "rng" in names and any(n.startswith("optimizer.state.") for n in names)
    with pytest.raises(TypeError, match="never pickle"):
        checkpoint.save(tmp_path / "x.safetensors", extra={"f": object()})
    safetensors.save_file({"a": np.zeros(1, np.float32)}, tmp_path / "plain.safetensors")
    with pytest.raises(ValueError, match="not an ember checkpoint"):
        checkpoint.load(tmp_path / "plain.safetensors")


def test_checkpoint_crash_mid_write_keeps_old(tmp_path, monkeypatch):
    model, opt, sched, _ = _setup()
    path = tmp_path / "ck.safetensors"
    checkpoint.save(path, model, opt, sched, epoch=1)
    before = path.read_bytes()

    def crash(src, dst):
        raise KeyboardInterrupt("killed while renaming")

    with monkeypatch.context() as m:
        m.setattr(os, "replace", crash)
        with ember.no_grad():
            next(model.parameters()).add_(1.0)
        with pytest.raises(KeyboardInterrupt):
            checkpoint.save(path, model, opt, sched, epoch=2)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ck.safetensors"]
    assert checkpoint.read(path)["epoch"] == 1


def test_resume_gives_identical_weights(tmp_path):
    model, opt, sched, loader = _setup()
    fit(model, F.cross_entropy, opt, loader, epochs=2, scheduler=sched, progress=False)
    straight = _weights(model)

    path = tmp_path / "ck.safetensors"
    model, opt, sched, loader = _setup()
    fit(
        model,
        F.cross_entropy,
        opt,
        loader,
        epochs=1,
        scheduler=sched,
        progress=False,
        callbacks=[ModelCheckpoint(path, save_best_only=False)],
    )
    model, opt, sched, loader = _setup(seed=123)  # a different process state, then restore
    ckpt = checkpoint.load(path, model, opt, sched)
    history = fit(
        model,
        F.cross_entropy,
        opt,
        loader,
        epochs=2,
        scheduler=sched,
        progress=False,
        initial_epoch=ckpt["epoch"],
        history=History(ckpt["extra"]["history"]),
    )
    assert history["epoch"] == [1, 2]
    for k, v in straight.items():
        np.testing.assert_array_equal(_weights(model)[k], v, err_msg=k)


class _Scripted:
    """A model stand-in for callback tests."""

    def __init__(self):
        self.w = ember.zeros(1)

    def state_dict(self):
        return {"w": self.w}

    def load_state_dict(self, sd):
        self.w = sd["w"].clone()


def _run_early_stopping(values, **kwargs):
    model = _Scripted()
    cb = EarlyStopping(monitor="val_loss", **kwargs)
    state = FitState(model, None, None, History())
    for epoch, v in enumerate(values):
        state.epoch = epoch
        model.w = ember.tensor([float(epoch)])
        cb.on_epoch_end(state, {"val_loss": v})
        if state.stop:
            break
    cb.on_train_end(state)
    return cb, state, model


def test_early_stopping_patience_and_min_delta():
    cb, state, _ = _run_early_stopping([1.0, 0.9, 0.95, 0.91, 0.5], patience=1)
    assert state.stop and cb.stopped_epoch == 3 and cb.best_epoch == 1
    cb, state, _ = _run_early_stopping([1.0, 0.9, 0.95, 0.91, 0.5], patience=2)
    assert not state.stop and cb.best == 0.5
    cb, state, _ = _run_early_stopping([1.0, 0.95, 0.92], patience=0, min_delta=0.1)
    assert state.stop and cb.stopped_epoch == 1
    cb, state, model = _run_early_stopping(
        [1.0, 0.2, 0.5, 0.6], patience=1, restore_best_weights=True
    )
    assert state.stop and model.w.item() == 1.0
    maxed = EarlyStopping(monitor="val_accuracy", patience=0)
    assert maxed.mode == "max"
    with pytest.raises(KeyError, match="hint: val_\\* metrics need a val_loader"):
        maxed.on_epoch_end(state, {"loss": 1.0})
    with pytest.raises(ValueError, match="mode must be"):
        EarlyStopping(mode="up")


def test_model_checkpoint_best_only_and_csv(tmp_path):
    model, opt, sched, loader = _setup()
    path = tmp_path / "best.safetensors"
    cb = ModelCheckpoint(path, monitor="loss", save_best_only=True)
    state = FitState(model, opt, sched, History())
    cb.on_epoch_end(state, {"loss": 1.0})
    assert checkpoint.read(path)["epoch"] == 1
    state.epoch = 1
    cb.on_epoch_end(state, {"loss": 2.0})
    assert checkpoint.read(path)["epoch"] == 1
    history = fit(
        model,
        F.cross_entropy,
        opt,
        loader,
        epochs=2,
        progress=False,
        callbacks=[CSVLogger(tmp_path / "metrics.csv")],
    )
    rows = list(csv.DictReader((tmp_path / "metrics.csv").read_text().splitlines()))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert float(rows[1]["loss"]) == pytest.approx(history["loss"][1])


def test_fit_with_jit_matches_eager_and_compiles_the_step(monkeypatch):
    """Dropout, Adam and a StepLR schedule; 90 samples: batches of 16 and a last one of 10."""
    made = []

    class Recording(trainer.JitFunction):
        def __init__(self, fn, **kwargs):
            super().__init__(fn, **kwargs)
            made.append(self)

    monkeypatch.setattr(trainer, "JitFunction", Recording)
    runs = []
    for jit in (False, True):
        model, opt, sched, _ = _setup(seed=3)
        data = synthetic.gaussian_mixture(n=90, seed=1)
        order = ember.Generator().manual_seed(0)
        loader = DataLoader(data, batch_size=16, shuffle=True, generator=order)
        history = fit(
            model, F.cross_entropy, opt, loader, epochs=3, scheduler=sched, progress=False, jit=jit
        )
        runs.append((history["loss"], _weights(model)))
    (eager_loss, eager_w), (jit_loss, jit_w) = runs
    np.testing.assert_allclose(jit_loss, eager_loss, rtol=1e-5)
    for k in eager_w:
        np.testing.assert_allclose(jit_w[k], eager_w[k], rtol=1e-4, atol=1e-6, err_msg=k)
    (step,) = made
    assert step.traces == 2  # one graph per batch size, reused by later epochs
