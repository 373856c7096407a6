"""The compiled step is `ember train`'s default, so for every recipe 20 jitted steps must equal
20 eager steps: the same logged losses and weights, to round-off (a jit bug once froze DDPM's
noise levels and went unnoticed).

How far round-off can carry is measured, not guessed: a third run starts eagerly from weights
nudged by one ulp each, in random directions. Some recipes amplify round-off (measured on 20
steps: the ResNet's BatchNorms at batch 8 about double it each step, and Adam turns a gradient
that is rounding noise, such as a bias before BatchNorm, into full steps of either sign), so
the compiled run may stray from the eager one by up to 4x as far as the nudged run does, and
by at least float32 tolerance; a wrong graph strays by far more. The ResNet trains at lr 1e-3,
not its recipe's 0.1: there, at batch 8, a one-ulp nudge of a single weight moves the
validation loss by 18% after 20 steps, and no comparison could tell a bug from rounding.
Accuracies are not compared: one argmax flipped by round-off moves them by a whole sample."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from ember.cli import main
from ember.io import safetensors
from ember.train.trainer import Trainer
from tests.data.idx_helpers import fake_fashion_mnist

TEXT = "to be, or not to be, that is the question:\nwhether 'tis nobler in the mind\n" * 40
IMAGES = ["--epochs", "1", "--limit", "160", "--batch-size", "8"]  # 20 steps
RECIPES = {
    "mlp": IMAGES,
    "cnn": IMAGES,
    "resnet": [*IMAGES, "--lr", "0.001"],
    "dcgan": [*IMAGES, "--fid-samples", "0"],
    "autoencoder": IMAGES,
    "vae": IMAGES,
    "ddpm": [*IMAGES, "--fid-samples", "0", "--sample-steps", "2"],
    "gpt": ["--iters", "20", "--layers", "1", "--heads", "2", "--width", "32", "--block-size",
            "16", "--batch-size", "4", "--eval-interval", "10", "--eval-iters", "1"],
    "lstm": ["--iters", "20", "--layers", "1", "--width", "32", "--block-size", "16",
             "--batch-size", "4", "--eval-interval", "10", "--eval-iters", "1"],
}  # fmt: skip


def _nudge_every_weight(monkeypatch):
    """Each parameter moved by one ulp, up or down at random, when training starts."""
    start = Trainer.start

    def nudged(self):
        directions = np.random.default_rng(1)
        for p in [] if self._started else self.state.model.parameters():
            a = p.detach().numpy()
            toward = np.where(directions.random(a.shape) < 0.5, -np.inf, np.inf).astype(a.dtype)
            a[...] = np.nextafter(a, toward)
        start(self)

    monkeypatch.setattr(Trainer, "start", nudged)


@pytest.fixture
def data(tmp_path, monkeypatch):
    fake_fashion_mnist(tmp_path, monkeypatch, n_train=160, n_test=16)
    text = tmp_path / "text.txt"
    text.write_text(TEXT, encoding="utf-8")
    return text


def _train(argv, out):
    """(metrics rows, model weights) of one run."""
    assert main([*argv, "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "metrics.csv").read_text().splitlines()))
    weights = safetensors.load_file(out / "checkpoint.safetensors", numpy=True)
    return rows, {k: v.astype(np.float64) for k, v in weights.items() if k.startswith("model.")}


def _strays(a, b):
    return float(np.max(np.abs(a - b))) if a.size else 0.0


@pytest.mark.parametrize("model", RECIPES)
def test_twenty_jitted_steps_equal_twenty_eager_steps(model, data, tmp_path, monkeypatch):
    argv = ["train", model, *RECIPES[model], "--quiet"]
    if model in ("gpt", "lstm"):
        argv += ["--text", str(data)]
    eager_rows, eager_w = _train([*argv, "--no-jit"], tmp_path / "eager")
    jit_rows, jit_w = _train(argv, tmp_path / "jit")
    with monkeypatch.context() as m:
        _nudge_every_weight(m)
        nudged_rows, nudged_w = _train([*argv, "--no-jit"], tmp_path / "nudged")
    logged = [k for k in eager_rows[-1] if "loss" in k]
    assert logged, eager_rows[-1]
    for e, j, n in zip(eager_rows, jit_rows, nudged_rows, strict=True):
        for key in (k for k in logged if e[k]):
            value, off = float(e[key]), 4 * abs(float(n[key]) - float(e[key]))
            assert abs(float(j[key]) - value) <= max(off, 1e-3 * abs(value)), key
    assert eager_w.keys() == jit_w.keys()
    for name, value in eager_w.items():
        bound = max(4 * _strays(nudged_w[name], value), 1e-4 + 1e-3 * np.max(np.abs(value)))
        assert _strays(jit_w[name], value) <= bound, name
