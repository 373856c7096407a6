"""The generative train/sample workflows, the PNG writer and the image grid."""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest

from ember.cli import main
from ember.models.cnn import CNN
from ember.train import checkpoint
from ember.train.generative import image_grid, write_png

PIL = pytest.importorskip("PIL.Image")


def _fashion_mnist_available() -> bool:
    try:
        from ember.data.datasets import FashionMNIST

        FashionMNIST(train=False)
    except FileNotFoundError:
        return False
    return True


needs_data = pytest.mark.skipif(not _fashion_mnist_available(), reason="no Fashion-MNIST files")


def _quick(model):
    """The flags that keep a run short: no FID (dcgan, ddpm), 2 DDIM steps in grids (ddpm)."""
    return {
        "dcgan": ["--fid-samples", "0"],
        "ddpm": ["--fid-samples", "0", "--sample-steps", "2"],
    }.get(model, [])


def _history(run):
    return checkpoint.read(run / "checkpoint.safetensors")["extra"]["history"]


@pytest.mark.parametrize("shape", [(5, 7), (4, 6, 3)], ids=["grey", "rgb"])
def test_png_round_trip(tmp_path, shape):
    img = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    path = tmp_path / "x.png"
    write_png(path, img)
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    # the IDAT payload decompresses to filter byte 0 + each row
    length = struct.unpack(">I", raw[33:37])[0]
    rows = np.frombuffer(zlib.decompress(raw[41 : 41 + length]), np.uint8).reshape(shape[0], -1)
    assert (rows[:, 0] == 0).all()
    np.testing.assert_array_equal(rows[:, 1:].reshape(shape), img)
    with PIL.open(path) as decoded:
        np.testing.assert_array_equal(np.asarray(decoded), img)


def test_png_errors(tmp_path):
    with pytest.raises(ValueError, match="write_png: expected uint8"):
        write_png(tmp_path / "x.png", np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match=r"image_grid: expected \[N, 1 or 3, H, W\]"):
        image_grid(np.zeros((2, 28, 28)))


def test_image_grid_layout():
    imgs = np.zeros((3, 1, 2, 2), np.float32)
    imgs[1] = 1.0
    imgs[2] = -1.0
    grid = image_grid(imgs, nrow=2, padding=1, value_range=(-1.0, 1.0))
    assert grid.shape == (2 * 3 + 1, 2 * 3 + 1) and grid.dtype == np.uint8
    assert grid[0, 0] == 255  # padding is white
    assert (grid[1:3, 1:3] == 128).all()  # 0 in [-1, 1] → mid grey
    assert (grid[1:3, 4:6] == 255).all() and (grid[4:6, 1:3] == 0).all()
    assert (grid[4:6, 4:6] == 255).all()  # the empty last cell stays background


@needs_data
@pytest.mark.parametrize(
    "model", ["vae", "autoencoder", "dcgan", pytest.param("ddpm", marks=pytest.mark.slow)]
)
def test_train_writes_a_run_and_sample_draws_from_it(tmp_path, model):
    out = tmp_path / "run"
    args = ["train", model, "--epochs", "1", "--limit", "64", "--out", str(out), "--quiet"]
    args += ["--batch-size", "32", *_quick(model)]
    if model == "vae":
        args += ["--variant", "conv"]
    assert main(args) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["epochs"] == 1 and summary["train_images"] == 64
    with PIL.open(out / "samples-epoch001.png") as grid:
        assert grid.mode == "L" and grid.size[0] == 8 * 30 + 2
    metric = {"vae": "test_neg_elbo_per_image", "autoencoder": "test_reconstruction_mse"}
    if model in metric:
        assert summary[metric[model]] > 0
    grid = tmp_path / "grid.png"
    ckpt = str(out / "checkpoint.safetensors")
    assert main(["sample", ckpt, "--n", "4", "--out", str(grid), "--steps", "2"]) == 0
    assert grid.exists()
    if model in ("vae", "autoencoder"):
        assert (tmp_path / "grid-recon.png").exists() and (tmp_path / "grid-interp.png").exists()


@needs_data
@pytest.mark.parametrize("model", ["vae", "dcgan", "ddpm"])
def test_jit_training_logs_the_eager_losses(tmp_path, model):
    """The compiled step (the default: the GAN's two updates, the VAE's sampled noise, the
    DDPM's timesteps and the schedule coefficients gathered for them) logs eager's losses."""
    args = ["train", model, "--epochs", "2", "--limit", "96", "--batch-size", "32", "--quiet"]
    args += _quick(model)
    histories = []
    for flags in (["--no-jit"], []):
        out = tmp_path / ("eager" if flags else "jit")
        assert main([*args, *flags, "--out", str(out)]) == 0
        histories.append(_history(out))
    eager, jitted = histories
    for e, j in zip(eager, jitted):
        for key in e:
            if key.startswith("loss"):
                assert j[key] == pytest.approx(e[key], rel=1e-3), (key, e, j)


@needs_data
@pytest.mark.parametrize("model,flags", [("dcgan", ["--no-jit"]), ("vae", [])])
def test_resume_ends_with_the_weights_of_an_uninterrupted_run(tmp_path, model, flags):
    """The checkpoint holds the optimizers' moments (both of the GAN's) and the RNG state, so
    1 epoch + ``--resume`` to 2 equals 2 epochs straight; the resumed run keeps its settings."""
    args = ["train", model, "--limit", "96", "--batch-size", "32", "--quiet", *flags]
    args += _quick(model)
    straight, split = tmp_path / "straight", tmp_path / "split"
    assert main([*args, "--epochs", "2", "--out", str(straight)]) == 0
    assert main([*args, "--epochs", "1", "--out", str(split)]) == 0
    resume = ["train", model, "--resume", "--epochs", "2", "--out", str(split), "--quiet"]
    assert main([*resume, *flags]) == 0
    a = checkpoint.read(straight / "checkpoint.safetensors")
    b = checkpoint.read(split / "checkpoint.safetensors")
    assert a["epoch"] == b["epoch"] == 2 and list(a["model"]) == list(b["model"])
    # eager: bit-identical; jit: the resumed run traces again, and a traced step runs eagerly,
    # so one step of each run differs from the other by kernel round-off
    tol = {"rtol": 0, "atol": 0} if flags else {"rtol": 1e-4, "atol": 1e-6}
    for name in a["model"]:
        np.testing.assert_allclose(a["model"][name].numpy(), b["model"][name].numpy(), **tol)
    assert sorted(b["optimizer"]) == (
        ["discriminator", "generator"] if model == "dcgan" else ["model"]
    )
    assert b["extra"]["config"]["batch_size"] == 32 and len(b["extra"]["history"]) == 2
    assert [r["epoch"] for r in _history(split)] == [1, 2]


@needs_data
def test_resume_refuses_another_models_run(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--epochs", "1", "--limit", "32", "--batch-size", "32", "--quiet", "--out", str(out)]
    assert main(["train", "autoencoder", *args]) == 0
    assert main(["train", "vae", "--resume", *args]) == 1
    assert "model vae (the run trains autoencoder)" in capsys.readouterr().err


@needs_data
def test_train_reports_fid_and_coverage_with_a_cached_classifier(tmp_path, monkeypatch):
    (tmp_path / "fid").mkdir()
    checkpoint.save(
        tmp_path / "fid" / "cnn-fashion-mnist.safetensors", CNN(), extra={"accuracy": 0.5}
    )
    monkeypatch.setenv("EMBER_CACHE", str(tmp_path))
    out = tmp_path / "gan"
    args = ["train", "dcgan", "--epochs", "1", "--limit", "64", "--out", str(out), "--quiet"]
    assert main([*args, "--fid-samples", "20", "--spectral-norm", "--label-smoothing", "0.1"]) == 0
    result = json.loads((out / "summary.json").read_text())["fid"]
    assert result["n_fake"] == 20 and result["n_real"] == 64 and result["fid"] > 0
    assert result["classifier_accuracy"] == 0.5 and sum(result["class_counts"]) == 20


def test_user_errors_return_1(tmp_path, capsys):
    ckpt = tmp_path / "c.safetensors"
    checkpoint.save(ckpt, CNN(), extra={"config": {"model": "cnn"}})
    assert main(["sample", str(ckpt)]) == 1
    assert "or a generative model; `ember sample` draws from those" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["train", "gpt", "--epochs", "1"])
    assert exit_.value.code == 2
