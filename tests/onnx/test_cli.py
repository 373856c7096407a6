"""``ember export CHECKPOINT --onnx FILE``: checkpoints of ``ember train`` runs as ONNX files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ember
from ember import models
from ember.cli import main
from ember.train import checkpoint

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")


def _run_dir(tmp_path: Path, model: Any, config: dict) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    checkpoint.save(run / "checkpoint.safetensors", model, extra={"config": config})
    return run


def test_a_classifier_checkpoint_exports_with_a_dynamic_batch(tmp_path: Path) -> None:
    kwargs = {"hidden": 16, "depth": 1}
    model = models.create("mlp", **kwargs).eval()
    run = _run_dir(tmp_path, model, {"model": "mlp", "model_kwargs": kwargs})
    out = tmp_path / "mlp.onnx"
    assert main(["export", str(run), "--onnx", str(out)]) == 0
    onnx.checker.check_model(onnx.load(out))
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    images = ember.randn(3, 1, 28, 28)
    (got,) = session.run(None, {"images": images.numpy()})
    with ember.no_grad():
        np.testing.assert_allclose(got, model(images).numpy(), rtol=1e-4, atol=1e-5)


def test_a_vae_checkpoint_exports_its_decoder(tmp_path: Path) -> None:
    kwargs = {"hidden": 16, "latent_dim": 4}
    model = models.create("vae", **kwargs).eval()
    run = _run_dir(tmp_path, model, {"model": "vae", "model_kwargs": kwargs})
    out = tmp_path / "vae.onnx"
    assert main(["export", str(run / "checkpoint.safetensors"), "--onnx", str(out)]) == 0
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    z = ember.randn(5, 4)
    (got,) = session.run(None, {"z": z.numpy()})
    with ember.no_grad():
        np.testing.assert_allclose(got, model.decode(z).numpy(), rtol=1e-4, atol=1e-5)


def test_clear_errors_for_bad_checkpoints(tmp_path: Path, capsys: Any) -> None:
    out = str(tmp_path / "m.onnx")
    assert main(["export", str(tmp_path / "missing.safetensors"), "--onnx", out]) == 1
    assert "export: no checkpoint at" in capsys.readouterr().err
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    assert main(["export", str(junk), "--onnx", out]) == 1
    assert "is not an ember checkpoint" in capsys.readouterr().err
    bare = tmp_path / "bare.safetensors"
    checkpoint.save(bare, models.create("mlp", hidden=4, depth=1))
    assert main(["export", str(bare), "--onnx", out]) == 1
    assert "not written by `ember train`" in capsys.readouterr().err
