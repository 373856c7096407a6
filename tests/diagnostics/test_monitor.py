"""GradientMonitor: statistics equal hand-computed values; fit callback; save/load round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

import ember
from ember import nn, optim
from ember.data import DataLoader, TensorDataset
from ember.diagnostics import GradientMonitor, load_stats
from ember.nn import functional as F
from ember.train import fit
from tests.diagnostics.helpers import mlp, train_monitored


def _batch() -> tuple[ember.Tensor, ember.Tensor]:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 4)).astype(np.float32)
    return ember.tensor(x), ember.tensor(rng.integers(0, 2, 8))


def test_gradient_and_weight_norms_equal_numpy() -> None:
    model = mlp(nn.ReLU, 2)
    monitor = GradientMonitor(model)
    x, y = _batch()
    F.cross_entropy(model(x), y).backward()
    monitor.step()
    stats = monitor.stats()
    params = list(model.parameters())
    expected_g = [np.linalg.norm(p.grad.numpy().astype(np.float64)) for p in params]
    expected_w = [np.linalg.norm(p.detach().numpy().astype(np.float64)) for p in params]
    np.testing.assert_allclose(stats.grad_norm[0], expected_g, rtol=1e-5)
    np.testing.assert_allclose(stats.weight_norm[0], expected_w, rtol=1e-5)
    assert stats.param_names == [n for n, _ in model.named_parameters()]
    np.testing.assert_array_equal(stats.param_numel, [p.numel() for p in params])


def test_update_ratio_is_the_measured_sgd_step() -> None:
    model = mlp(nn.ReLU, 1)
    opt = optim.SGD(model.parameters(), lr=0.5)
    monitor = GradientMonitor(model)
    x, y = _batch()
    F.cross_entropy(model(x), y).backward()
    before = [p.detach().numpy().copy() for p in model.parameters()]
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    monitor.step()
    opt.step()
    monitor.step()  # the next call measures the update of the previous optimizer step
    expected = [np.linalg.norm(0.5 * g) / np.linalg.norm(w) for g, w in zip(grads, before)]
    np.testing.assert_allclose(monitor.stats().update_ratio[0], expected, rtol=1e-4)


def test_activation_statistics_equal_numpy() -> None:
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3), nn.Sigmoid())
    with ember.no_grad():
        model[0].bias[:3] = -100.0  # units 0-2 never fire
    monitor = GradientMonitor(model)
    x, _ = _batch()
    out = model(x)
    out.sum().backward()
    monitor.step()
    stats = monitor.stats()
    hidden = model[1](model[0](x)).detach().numpy()
    assert stats.act_names == ["0", "1", "2", "3"]
    assert stats.act_kinds == ["other", "relu", "other", "sigmoid"]
    assert stats.act_types == ["Linear", "ReLU", "Linear", "Sigmoid"]
    np.testing.assert_allclose(stats.act_mean[0, 1], hidden.mean(), rtol=1e-5)
    np.testing.assert_allclose(stats.act_std[0, 1], hidden.std(), rtol=1e-5)
    assert stats.act_dead[0, 1] == pytest.approx((hidden <= 0).all(axis=0).mean())
    assert stats.act_dead[0, 1] >= 0.5
    sig = out.detach().numpy()
    assert stats.act_saturated[0, 3] == pytest.approx(((sig < 0.01) | (sig > 0.99)).mean())
    assert np.isnan(stats.act_dead[0, 3]) and np.isnan(stats.act_saturated[0, 1])
    assert stats.hist_last[1].sum() == hidden.size


def test_every_subsamples_and_eval_forwards_are_ignored() -> None:
    model = mlp(nn.Tanh, 1)
    monitor = GradientMonitor(model, every=3)
    x, y = _batch()
    for _ in range(7):
        F.cross_entropy(model(x), y).backward()
        monitor.step()
        with ember.no_grad():
            model(x)  # an evaluation forward must not be recorded
    stats = monitor.stats()
    np.testing.assert_array_equal(stats.steps, [0, 3, 6])
    np.testing.assert_array_equal(stats.act_steps, [0, 3, 6])


def test_every_must_be_positive() -> None:
    with pytest.raises(ValueError, match="every must be >= 1"):
        GradientMonitor(mlp(nn.ReLU, 1), every=0)


def test_save_load_round_trip(tmp_path) -> None:
    monitor = train_monitored(mlp(nn.ReLU, 2), steps=5)
    monitor.on_epoch_end(None, {"epoch": 1, "loss": 0.5, "val_loss": float("nan")})
    monitor.save(tmp_path)
    a, b = monitor.stats(), load_stats(tmp_path)
    for key, value in vars(a).items():
        if key == "epochs":
            assert set(b.epochs) == set(value)
            for k in value:
                np.testing.assert_array_equal(b.epochs[k], value[k])
        elif isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(b, key), value, err_msg=key)
        else:
            assert getattr(b, key) == value


def test_load_stats_reads_runs_saved_before_act_types(tmp_path) -> None:
    monitor = train_monitored(mlp(nn.ReLU, 2), steps=2)
    monitor.save(tmp_path)
    meta_path = tmp_path / "diagnostics.json"
    meta = json.loads(meta_path.read_text())
    del meta["act_types"]
    meta_path.write_text(json.dumps(meta))
    stats = load_stats(tmp_path)
    assert stats.act_types == [] and stats.act_kinds == monitor.stats().act_kinds


def test_load_stats_names_the_missing_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="diagnostics.npz is missing"):
        load_stats(tmp_path)


def test_fit_callback_records_every_step_and_saves(tmp_path) -> None:
    model = mlp(nn.ReLU, 2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 4)).astype(np.float32)
    data = TensorDataset(ember.tensor(x), ember.tensor((x[:, 0] > 0).astype(np.int64)))
    loader = DataLoader(data, batch_size=10)
    opt = optim.SGD(model.parameters(), lr=0.1)
    monitor = GradientMonitor(model, run_dir=tmp_path)
    fit(model, F.cross_entropy, opt, loader, loader, epochs=2, callbacks=[monitor], progress=False)
    assert "step" not in vars(opt)  # the wrapper is gone after training
    stats = load_stats(tmp_path)
    np.testing.assert_array_equal(stats.steps, np.arange(8))
    assert np.isfinite(stats.update_ratio).all() and (stats.update_ratio > 0).all()
    assert len(stats.epochs["val_loss"]) == 2


def test_without_activations() -> None:
    model = mlp(nn.ReLU, 1)
    monitor = GradientMonitor(model, activations=False)
    x, y = _batch()
    F.cross_entropy(model(x), y).backward()
    monitor.step()
    stats = monitor.stats()
    assert stats.act_names == [] and stats.act_mean.shape == (0, 0)
    assert stats.grad_norm.shape == (1, 4)
