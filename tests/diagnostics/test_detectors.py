"""Each detector fires on a run built to show its problem and stays quiet on a healthy one."""

from __future__ import annotations

import numpy as np
import pytest

from ember import nn
from ember.diagnostics import detectors as D
from tests.diagnostics.helpers import mlp, synthetic, train_monitored

HEALTHY_EPOCHS = {
    "epoch": list(range(1, 11)),
    "loss": [1.0, 0.6, 0.45, 0.38, 0.33, 0.30, 0.28, 0.27, 0.26, 0.255],
    "val_loss": [1.05, 0.65, 0.5, 0.42, 0.38, 0.36, 0.35, 0.345, 0.344, 0.346],
    "accuracy": [0.6, 0.8, 0.85, 0.88, 0.9, 0.91, 0.92, 0.92, 0.93, 0.93],
}


def kinds(stats, **kwargs) -> list[str]:
    return [f.kind for f in D.run_detectors(stats, **kwargs)]


def test_healthy_synthetic_run_is_quiet() -> None:
    assert kinds(synthetic(epochs=HEALTHY_EPOCHS)) == []


def test_healthy_real_relu_network_is_quiet() -> None:
    assert kinds(train_monitored(mlp(nn.ReLU, 3)).stats()) == []


def test_vanishing_synthetic() -> None:
    stats = synthetic(rms=[1e-7, 1e-6, 1e-5, 1e-3, 1e-2])
    (f,) = [f for f in D.run_detectors(stats) if f.kind == "vanishing_gradients"]
    assert f.severity == "critical"
    assert "5.0 orders of magnitude" in f.evidence and "layer0.weight" in f.evidence
    assert "residual" in f.suggestion and "ReLU" in f.suggestion
    assert D.vanishing_gradients(synthetic(rms=[3e-3, 5e-3, 1e-2, 1e-2, 1e-2])) == []


def test_vanishing_real_sigmoid_network() -> None:
    found = train_monitored(mlp(nn.Sigmoid, 10)).findings()
    assert "vanishing_gradients" in [f.kind for f in found]
    assert "learning_rate_too_low" not in [f.kind for f in found]  # explained by vanishing


def test_exploding_growth_nan_and_quiet() -> None:
    growth = np.logspace(-2, 4, 40)[:, None] * np.ones((1, 5))
    stats = synthetic()
    stats.grad_norm = growth
    (f,) = D.exploding_gradients(stats)
    assert f.severity == "critical" and "orders of magnitude" in f.evidence
    assert "clip" in f.suggestion
    stats.grad_norm = np.ones((40, 5))
    stats.grad_norm[30, 2] = np.nan
    (f,) = D.exploding_gradients(stats)
    assert "NaN/Inf gradients (first at step 30)" in f.evidence
    decaying = synthetic()
    decaying.grad_norm = np.logspace(0, -6, 40)[:, None] * np.ones((1, 5))
    assert D.exploding_gradients(decaying) == []


def test_exploding_spike() -> None:
    stats = synthetic()
    stats.grad_norm = np.ones((40, 5))
    stats.grad_norm[25] = 5e3
    (f,) = D.exploding_gradients(stats)
    assert f.severity == "warning" and "step 25" in f.evidence


def test_dead_units_real_network_with_negative_bias() -> None:
    found = train_monitored(mlp(nn.ReLU, 3, bias=-10.0), steps=10).findings()
    (f,) = [f for f in found if f.kind == "dead_units"]
    assert f.severity == "critical" and "100%" in f.evidence and "LeakyReLU" in f.suggestion


def test_saturation() -> None:
    stats = synthetic()
    stats.act_names, stats.act_kinds = ["0", "1", "2"], ["other", "tanh", "sigmoid"]
    stats.act_saturated = np.tile([np.nan, 0.8, 0.95], (40, 1))
    (f,) = D.saturation(stats)
    assert f.severity == "critical" and "1: 80%" in f.evidence  # the output layer is skipped
    assert "2:" not in f.evidence
    stats.act_saturated = np.tile([np.nan, 0.05, 0.95], (40, 1))
    assert D.saturation(stats) == []


def test_overfitting_names_the_early_stopping_epoch() -> None:
    val = [1.0, 0.7, 0.55, 0.5, 0.52, 0.56, 0.6, 0.66, 0.7, 0.75]
    train = [1.0, 0.6, 0.4, 0.3, 0.22, 0.16, 0.12, 0.09, 0.07, 0.05]
    stats = synthetic(epochs={"epoch": list(range(1, 11)), "train_loss": train, "val_loss": val})
    (f,) = D.overfitting(stats, patience=2)
    assert "epoch 4" in f.evidence and "+50%" in f.evidence
    assert "would have stopped after epoch 7 and restored epoch 4" in f.evidence
    assert f.severity == "critical" and "dropout" in f.suggestion
    assert D.early_stopping_epoch(np.array(val), 2) == (6, 3)
    assert D.overfitting(synthetic(epochs=HEALTHY_EPOCHS)) == []


def test_underfitting() -> None:
    flat = [0.70, 0.69, 0.688, 0.687, 0.687, 0.686]
    stats = synthetic(epochs={"train_loss": flat, "val_loss": [v + 0.01 for v in flat]})
    (f,) = D.underfitting(stats)
    assert "bigger model" in f.suggestion and "98%" in f.evidence
    accurate = synthetic(epochs={"train_loss": flat, "train_accuracy": [0.95] * 6})
    assert D.underfitting(accurate) == []
    gap = synthetic(epochs={"train_loss": flat, "val_loss": [1.5] * 6})
    assert D.underfitting(gap) == []


def test_learning_rate_too_high_diverging_nan_and_oscillating() -> None:
    diverging = synthetic(losses=np.concatenate([np.linspace(2, 1, 20), np.linspace(1, 6, 20)]))
    (f,) = D.learning_rate_too_high(diverging)
    assert f.severity == "critical" and "diverged" in f.evidence
    nan = synthetic(losses=np.array([1.0] * 30 + [np.nan] * 10))
    assert "NaN/Inf" in D.learning_rate_too_high(nan)[0].evidence
    osc = {"train_loss": [1.0, 0.8, 0.95, 0.75, 0.9, 0.7, 0.92, 0.72]}
    stats = synthetic(losses=np.zeros(0), epochs=osc)
    (f,) = D.learning_rate_too_high(stats)
    assert "oscillating" in f.evidence and "lower the learning rate" in f.suggestion
    big = synthetic(update=0.5)
    assert "50%" in D.learning_rate_too_high(big)[0].evidence


def test_learning_rate_too_low() -> None:
    stats = synthetic(losses=np.full(40, 0.9) + 1e-4 * np.arange(40)[::-1], update=1e-7)
    (f,) = D.learning_rate_too_low(stats)
    assert "changed by only" in f.evidence and "1e-07" in f.evidence
    assert "raise the learning rate" in f.suggestion


def test_findings_are_sorted_by_severity_and_printable() -> None:
    stats = synthetic(rms=[1e-7, 1e-6, 1e-5, 1e-3, 1e-2], update=0.5)
    found = D.run_detectors(stats)
    order = [D.SEVERITIES.index(f.severity) for f in found]
    assert order == sorted(order) and len(found) == 2
    assert str(found[0]).startswith("[CRITICAL] vanishing gradients:")


@pytest.mark.parametrize("name", ["train_loss", "loss", "Training_Loss", "train/loss"])
def test_column_accepts_common_spellings(name: str) -> None:
    np.testing.assert_array_equal(D.column({name: np.array([1.0])}, "train_loss"), [1.0])
