"""``benchmarks/generative_compare``: identical starting weights and random draws, so the ember
and PyTorch runs agree up to round-off; both are judged by the same ember code.

Tiny sizes (a few steps, a few hundred test images); no test asserts a timing. Skips when
PyTorch or the Fashion-MNIST files are missing.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")

import ember  # noqa: E402
from benchmarks import generative_compare as gc  # noqa: E402
from ember.data.datasets import FashionMNIST  # noqa: E402
from ember.models.cnn import CNN  # noqa: E402
from ember.train import checkpoint  # noqa: E402

try:
    FashionMNIST(train=False)
except FileNotFoundError:
    pytest.skip("Fashion-MNIST files not installed", allow_module_level=True)


@pytest.fixture
def small_test_set(monkeypatch):
    """Judge on the first 200 test images (the real runs use all 10,000)."""
    images = gc._images

    def first(dataset, train, limit):
        return images(dataset, train, limit if train else 200)

    monkeypatch.setattr(gc, "_images", first)


@pytest.mark.parametrize("model", gc.MODELS)
def test_initial_weights_identical(model: str) -> None:
    net, twin = gc.build_models(model, seed=3)
    assert list(net.state_dict()) == list(twin.state_dict())
    assert gc.max_weight_diff(net, twin) == 0
    other, _ = gc.build_models(model, seed=4)  # the seed reaches ember's init
    assert gc.max_weight_diff(other, twin) > 0


def test_ddpm_batches_hold_the_forward_process_of_their_draws() -> None:
    net, _ = gc.build_models("ddpm")
    images = np.random.default_rng(0).uniform(-1, 1, (10, 1, 28, 28)).astype(np.float32)
    (b,) = gc._epoch_batches("ddpm", images, np.random.default_rng(1), 8, net)  # 2 dropped
    assert b["x"].shape == b["noise"].shape == b["xt"].shape == (8, 1, 28, 28)
    expected = net.q_sample(ember.tensor(b["x"]), ember.tensor(b["t"]), ember.tensor(b["noise"]))
    np.testing.assert_allclose(b["xt"], expected.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", ["vae", "autoencoder"])
def test_runs_agree_up_to_round_off(model: str, small_test_set) -> None:
    r = gc.compare(model, epochs=2, limit=384, quiet=True)
    assert r["initial_max_abs_diff"] == 0 and r["probe_max_abs_diff"] < 1e-4
    assert r["config"]["steps_per_epoch"] == 3 and r["config"]["test_samples"] == 200
    for row in r["epochs"]:
        assert row["ember"]["loss"] == pytest.approx(row["torch"]["loss"], rel=1e-4)
    assert r["epochs"][1]["ember"]["loss"] < r["epochs"][0]["ember"]["loss"]
    (key,) = r["summary"]["ember"]
    assert r["summary"]["ember"][key] == pytest.approx(r["summary"]["torch"][key], rel=1e-4)


def test_cli_reports_fid_and_coverage_for_both(tmp_path, monkeypatch, small_test_set) -> None:
    (tmp_path / "fid").mkdir()
    checkpoint.save(
        tmp_path / "fid" / "cnn-fashion-mnist.safetensors", CNN(), extra={"accuracy": 0.5}
    )
    monkeypatch.setenv("EMBER_CACHE", str(tmp_path))
    out_json, out_md, grids = tmp_path / "r.json", tmp_path / "r.md", tmp_path / "grids"
    argv = ["dcgan", "--epochs", "1", "--limit", "64", "--fid-samples", "30"]
    gc.main([*argv, "--grids", str(grids), "--json", str(out_json), "--markdown", str(out_md)])
    r = json.loads(out_json.read_text())
    (row,) = r["epochs"]
    assert row["ember"]["loss_d"] == pytest.approx(row["torch"]["loss_d"], rel=1e-3)
    for name in ("ember", "torch"):
        fid = r["summary"][name]["fid"]
        assert fid["n_fake"] == 30 and fid["n_real"] == 200 and fid["fid"] > 0
        assert fid["classifier_accuracy"] == 0.5 and sum(fid["class_counts"]) == 30
        assert (grids / f"gen_dcgan-{name}.png").stat().st_size > 0
    assert r["summary"]["ratio"] == pytest.approx(
        r["summary"]["ember_epoch_s"] / r["summary"]["torch_epoch_s"]
    )
    text = out_md.read_text()
    assert "| ember |" in text and "| torch |" in text and "--limit 64" in text
    assert "classes covered" in text and "ember loss_g | torch loss_g" in text


def test_one_framework_trains_the_same_side_as_a_joint_run(small_test_set) -> None:
    """``--frameworks torch`` replays the joint run's torch side (same weights, same draws)."""
    joint = gc.compare("vae", epochs=2, limit=256, quiet=True)
    alone = gc.compare("vae", epochs=2, limit=256, quiet=True, frameworks=("torch",))
    assert alone["config"]["frameworks"] == ["torch"] and "ember" not in alone["summary"]
    assert "ratio" not in alone["summary"] and "ratio" not in alone["epochs"][0]
    for a, j in zip(alone["epochs"], joint["epochs"]):
        assert "ember" not in a and a["torch"]["loss"] == j["torch"]["loss"]
    assert alone["summary"]["torch"] == joint["summary"]["torch"]
    alone["meta"]["command"] = "python -m benchmarks.generative_compare vae --frameworks torch"
    text = gc.to_markdown(alone)
    assert "| torch |" in text and "| ember |" not in text and "ember/torch" not in text
    with pytest.raises(ValueError, match="expected a subset of"):
        gc.compare("vae", epochs=1, limit=128, frameworks=("jax",))
