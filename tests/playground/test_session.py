"""The playground's session: settings validation, data sets, the Trainer driven step by step,
the snapshot the page draws, and the background LiveSession."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from ember.playground.data import DATASETS, make_dataset, split
from ember.playground.session import (
    GRID,
    SETTINGS,
    LiveSession,
    Playground,
    SettingError,
    validate,
)

TINY = {"samples": 60, "batch_size": 10, "depth": 2, "width": 4}  # 42 training points: 5 steps


def _gap(pg: Playground) -> float:
    """Orders of magnitude between the last and the first quarter of the layers' gradients
    (the comparison ember's vanishing_gradients detector makes)."""
    logs = np.log10([g["rms"] for g in pg.gradients()])
    k = max(1, len(logs) // 4)
    return float(logs[-k:].mean() - logs[:k].mean())


# -- settings -----------------------------------------------------------------------------------
def test_defaults_are_valid_and_complete():
    config = validate({})
    assert config == {s.name: s.default for s in SETTINGS}
    assert validate({"depth": "10", "lr": "0.5", "residual": True})["depth"] == 10


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"depth": "abc"}, "depth: expected an integer from 1 to 16, got 'abc'"),
        ({"depth": 2.5}, "depth: expected an integer"),
        ({"width": 1000}, "width: 1000 is out of range"),
        ({"lr": float("nan")}, "lr: expected a number"),
        ({"lr": 0}, "lr: 0 is out of range"),
        ({"activation": "softplus"}, "activation: expected one of sigmoid, tanh, relu, gelu"),
        ({"residual": "yes"}, "residual: expected true or false"),
        ({"depth": True}, "depth: expected an integer"),
        ({"colour": 1}, "unknown setting 'colour'"),
        ({"samples": 40, "batch_size": 30}, "batch_size: 30 is more than the 28 training"),
    ],
)
def test_bad_settings_say_what_was_expected(changes, message):
    with pytest.raises(SettingError) as info:
        validate(changes)
    assert message in str(info.value)


def test_settings_must_be_an_object():
    with pytest.raises(SettingError, match="expected a JSON object, got list"):
        validate([1, 2])


# -- data sets -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_datasets_are_balanced_seeded_and_in_the_plane(name):
    points, labels = make_dataset(name, 200, 0.2, seed=3)
    assert points.shape == (200, 2) and points.dtype == np.float32
    assert labels.dtype == np.int64 and labels.sum() == 100
    assert np.abs(points).max() < 1.5
    again = make_dataset(name, 200, 0.2, seed=3)
    assert np.array_equal(points, again[0]) and np.array_equal(labels, again[1])
    assert not np.array_equal(points, make_dataset(name, 200, 0.2, seed=4)[0])


def test_noise_free_patterns():
    points, labels = make_dataset("xor", 100, 0.0, seed=0)
    assert np.array_equal(labels, (points[:, 0] * points[:, 1] < 0).astype(np.int64))
    points, labels = make_dataset("circles", 100, 0.0, seed=0)
    radius = np.hypot(points[:, 0], points[:, 1])
    assert radius[labels == 0].max() < radius[labels == 1].min()


def test_split_holds_out_the_validation_fraction():
    points, labels = make_dataset("spiral", 100, 0.1, seed=0)
    (xt, yt), (xv, yv) = split(points, labels, 0.3)
    assert len(xt) == len(yt) == 70 and len(xv) == len(yv) == 30


# -- training ------------------------------------------------------------------------------------
def test_steps_run_through_the_trainer_and_log_epochs():
    pg = Playground(TINY)
    assert pg.status == "ready"
    for _ in range(5):  # one epoch: 42 training points in batches of 10
        pg.step()
    state = pg.trainer.state
    assert (state.step, state.epoch, pg.status) == (5, 1, "paused")
    row = state.history.rows[0]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(row)


def test_snapshot_holds_every_view():
    pg = Playground(TINY)
    for _ in range(6):
        pg.step()
    snap = pg.snapshot()
    assert len(snap["boundary"]) == GRID * GRID and 0 <= min(snap["boundary"]) <= 1
    assert len(snap["train"]) == 42 and len(snap["val"]) == 18
    assert [g["name"] for g in snap["gradients"]] == ["hidden.0.linear", "hidden.1.linear", "out"]
    assert snap["history"]["val_loss"][0] > 0
    nodes = snap["graph"]["nodes"]
    assert any(n["label"].startswith("hidden.0.linear.weight") for n in nodes)
    assert {n["kind"] for n in nodes} >= {"op", "param", "input"}
    assert snap["speed"] is None and isinstance(snap["findings"], list)


def test_reset_returns_to_the_initial_weights_and_history():
    pg = Playground(TINY)
    before = {k: v.numpy().copy() for k, v in pg.run.model.state_dict().items()}
    for _ in range(7):
        pg.step()
    pg.reset()
    after = pg.run.model.state_dict()
    assert all(np.array_equal(before[k], after[k].numpy()) for k in before)
    assert pg.trainer.state.step == 0 and len(pg.trainer.state.history) == 0
    assert pg.gradients() == [] and pg.status == "ready"
    first = pg.step()
    pg.reset()
    assert pg.step() == first  # the same batches and weights again


def test_configure_builds_a_new_network():
    pg = Playground(TINY)
    pg.step()
    pg.configure({"depth": 4, "batch_norm": True})
    assert pg.trainer.state.step == 0 and len(pg.run.model.hidden) == 4
    with pytest.raises(SettingError):
        pg.configure({"depth": 0})
    assert pg.config["depth"] == 4


def test_regularisers_train_together():
    changes = {
        "dropout": 0.2,
        "weight_decay": 1e-3,
        "max_norm": 0.5,
        "activity_l2": 0.01,
        "input_noise": 0.1,
        "batch_norm": True,
        "optimizer": "momentum",
    }
    pg = Playground({**TINY, **changes})
    for _ in range(6):
        pg.step()
    assert np.isfinite(pg.trainer.state.history.rows[0]["loss"])
    for name, p in pg.run.model.named_parameters():
        if name.endswith("weight") and p.ndim == 2:  # max-norm holds after every step
            assert np.linalg.norm(p.detach().numpy(), axis=1).max() <= 0.5 + 1e-5


def test_early_stopping_finishes_the_run():
    pg = Playground({**TINY, "early_stopping": True, "patience": 1, "lr": 5.0, "optimizer": "sgd"})
    pg.start()
    steps = 0
    while pg.running and steps < 400:
        pg.step()
        steps += 1
    assert pg.status == "finished" and pg.trainer.state.epoch < 80
    assert pg.step() is None
    pg.start()
    assert not pg.running


def test_vanishing_gradients_and_residual_connections():
    """Sigmoid at depth 10: the first layers' gradients are orders of magnitude below the last
    and the detector says so; with residual connections the gap closes."""
    pg = Playground({"activation": "sigmoid", "depth": 10, "samples": 100})
    for _ in range(20):
        pg.step()
    assert _gap(pg) > 4
    assert "vanishing_gradients" in [f.kind for f in pg.monitor.findings()]
    pg.configure({"residual": True})
    for _ in range(20):
        pg.step()
    assert _gap(pg) < 2
    assert "vanishing_gradients" not in [f.kind for f in pg.monitor.findings()]


def test_measure_speed_times_eager_and_jit():
    pg = Playground(TINY)
    speed = pg.measure_speed(steps=3)
    assert "error" not in speed and speed["eager_ms"] > 0 and speed["jit_ms"] > 0
    assert pg.trainer.state.step == 0 and pg.snapshot()["speed"] == speed


# -- the background session ---------------------------------------------------------------------
def test_live_session_trains_in_the_background():
    session = LiveSession(TINY, interval=0.05)
    try:
        with pytest.raises(SettingError, match="unknown action"):
            session.command("explode")
        with pytest.raises(SettingError, match="width"):
            session.command("configure", {"width": -1})
        version, snap = session.latest()
        assert snap["status"] == "ready" and snap["error"] is None
        session.command("start")
        deadline = time.monotonic() + 60
        while snap["step"] < 10 and time.monotonic() < deadline:
            version, snap = session.wait(version, 5)
        assert snap["status"] == "running" and snap["speed"]["jit_ms"] > 0
        session.command("pause")
        while snap["status"] != "paused" and time.monotonic() < deadline:
            version, snap = session.wait(version, 5)
        session.command("step")
        version, after = session.wait(version, 5)
        assert after["step"] == snap["step"] + 1
        session.command("configure", {"depth": 3})
        version, snap = session.wait(version, 5)
        assert snap["config"]["depth"] == 3 and snap["step"] == 0
    finally:
        session.close()
    assert session.closed


def test_a_diverged_run_still_gives_valid_json():
    changes = {"optimizer": "sgd", "lr": 10.0, "residual": True, "depth": 8, "width": 16}
    pg = Playground({**TINY, "activation": "relu", **changes})
    for _ in range(30):
        pg.step()
    snap = pg.snapshot()
    json.dumps(snap, allow_nan=False)
    assert None in snap["history"]["loss"] and None in snap["boundary"]
