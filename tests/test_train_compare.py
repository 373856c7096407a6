"""``benchmarks/train_compare``: identical starting weights, identical batches, both reports.

No test asserts a timing. Skips when PyTorch or the Fashion-MNIST files are missing.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from benchmarks import train_compare  # noqa: E402
from ember.data.datasets import FashionMNIST  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _dataset() -> None:
    try:
        FashionMNIST(train=False)
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST files not installed")


@pytest.mark.parametrize("model", ["mlp", "cnn", "resnet"])
def test_initial_weights_identical(model: str) -> None:
    net, twin = train_compare.build_models(model, seed=3)
    ours, theirs = net.state_dict(), twin.state_dict()
    assert list(ours) == list(theirs)
    assert train_compare.max_weight_diff(net, twin) == 0
    other, _ = train_compare.build_models(model, seed=4)  # the seed reaches ember's init
    assert train_compare.max_weight_diff(other, twin) > 0


def test_cli_reports_both_frameworks(tmp_path) -> None:
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    argv = ["mlp", "--limit", "256", "--epochs", "1", "--json", str(out_json)]
    train_compare.main([*argv, "--markdown", str(out_md)])
    result = json.loads(out_json.read_text())
    assert result["initial_max_abs_diff"] == 0
    assert result["config"]["train_samples"] == 256
    assert result["config"]["test_samples"] == 10_000
    (row,) = result["epochs"]
    s = result["summary"]
    for name in ("ember", "torch"):
        assert row[name]["time_s"] > 0
        assert 0 < s[f"{name}_test_accuracy"] <= 1
    assert s["ratio"] == pytest.approx(s["ember_epoch_s"] / s["torch_epoch_s"])
    text = out_md.read_text()
    assert "| ember |" in text and "| torch |" in text and "--limit 256" in text


def test_same_batches_and_schedule_without_dropout() -> None:
    """Without dropout nothing random differs, so the two runs agree up to float32 rounding."""
    r = train_compare.compare("mlp", epochs=2, limit=256, model_kwargs={"dropout": 0.0}, quiet=True)
    for row in r["epochs"]:
        assert row["ember"]["lr"] == pytest.approx(row["torch"]["lr"], rel=1e-12)
        assert row["ember"]["train_loss"] == pytest.approx(row["torch"]["train_loss"], rel=1e-4)
    assert r["epochs"][1]["ember"]["lr"] < r["epochs"][0]["ember"]["lr"]  # cosine stepped
    s = r["summary"]
    assert s["ember_test_loss"] == pytest.approx(s["torch_test_loss"], rel=1e-4)
    assert abs(s["ember_test_accuracy"] - s["torch_test_accuracy"]) <= 2e-3
