"""The compiled step is `ember train`'s default, so for every recipe 20 jitted steps must equal
20 eager steps: the same logged losses and weights, within float32 tolerance (a jit bug once
froze DDPM's noise levels and went unnoticed). Fused kernels round differently, and Adam's
normalised steps let that grow where a gradient is near zero: weights are compared to within
a tenth of one Adam step (1e-4 at lr 1e-3), losses to 1e-3 relative; a wrong graph is off by
far more. The GAN's generator is the exception: its layers feed BatchNorms, which cancel
their biases' gradients (zero but for round-off), and Adam turns round-off into full steps of
either sign; its weights are held to the bound of 20 such steps (4e-3 at lr 2e-4) while its
losses, which a wrong graph would move, are held to 1e-3. The ResNet runs at batch 16 and lr
0.01, not at batch 8 and its recipe's 0.1: there, nudging one initial weight by one ulp moves
the eager run's weights and BatchNorm statistics by up to 2.5e-4 after 20 steps, so no
comparison could tell a bug from round-off; here the same nudge moves them by 2e-7.
Accuracies are not compared: one argmax flipped by round-off moves them by a whole sample."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from ember.cli import main
from ember.io import safetensors
from tests.data.idx_helpers import make_idx_dataset

TEXT = "to be, or not to be, that is the question:\nwhether 'tis nobler in the mind\n" * 40
IMAGES = ["--epochs", "1", "--limit", "160", "--batch-size", "8"]  # 20 steps
RECIPES = {
    "mlp": IMAGES,
    "cnn": IMAGES,
    "resnet": ["--epochs", "1", "--limit", "320", "--batch-size", "16", "--lr", "0.01"],
    "dcgan": [*IMAGES, "--fid-samples", "0"],
    "autoencoder": IMAGES,
    "vae": IMAGES,
    "ddpm": [*IMAGES, "--fid-samples", "0", "--sample-steps", "2"],
    "gpt": ["--iters", "20", "--layers", "1", "--heads", "2", "--width", "32", "--block-size",
            "16", "--batch-size", "4", "--eval-interval", "10", "--eval-iters", "1"],
    "lstm": ["--iters", "20", "--layers", "1", "--width", "32", "--block-size", "16",
             "--batch-size", "4", "--eval-interval", "10", "--eval-iters", "1"],
}  # fmt: skip


@pytest.fixture
def data(tmp_path, monkeypatch):
    root = tmp_path / "data"
    make_idx_dataset(root / "fashion-mnist", n_train=320, n_test=16)
    monkeypatch.setenv("EMBER_DATA", str(root))
    text = tmp_path / "text.txt"
    text.write_text(TEXT, encoding="utf-8")
    return text


@pytest.mark.parametrize("model", RECIPES)
def test_twenty_jitted_steps_equal_twenty_eager_steps(model, data, tmp_path):
    argv = ["train", model, *RECIPES[model], "--quiet"]
    if model in ("gpt", "lstm"):
        argv += ["--text", str(data)]
    runs = {}
    for name, flags in (("eager", ["--no-jit"]), ("jit", [])):
        out = tmp_path / name
        assert main([*argv, *flags, "--out", str(out)]) == 0
        rows = list(csv.DictReader((out / "metrics.csv").read_text().splitlines()))
        weights = safetensors.load_file(out / "checkpoint.safetensors", numpy=True)
        runs[name] = rows, {k: v for k, v in weights.items() if k.startswith("model.")}
    (eager_rows, eager_w), (jit_rows, jit_w) = runs["eager"], runs["jit"]
    logged = [k for k in eager_rows[-1] if "loss" in k]
    assert logged, eager_rows[-1]
    for e, j in zip(eager_rows, jit_rows):
        for key in logged:
            if e[key]:
                assert float(j[key]) == pytest.approx(float(e[key]), rel=1e-3, abs=1e-6), key
    assert eager_w.keys() == jit_w.keys()
    atol = 20 * 2e-4 if model == "dcgan" else 1e-4
    for name, value in eager_w.items():
        np.testing.assert_allclose(jit_w[name], value, rtol=1e-3, atol=atol, err_msg=name)
