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


@pytest.mark.parametrize("jit", [True, False])
def test_same_batches_and_schedule_without_dropout(jit: bool) -> None:
    """Without dropout nothing random differs, so the two runs agree up to float32 rounding
    (ember's step compiled as ``ember train`` compiles it, or eager)."""
    kwargs = {"dropout": 0.0}
    r = train_compare.compare("mlp", 2, 256, model_kwargs=kwargs, quiet=True, jit=jit)
    assert r["config"]["ember_jit"] is jit
    for row in r["epochs"]:
        assert row["ember"]["lr"] == pytest.approx(row["torch"]["lr"], rel=1e-12)
        assert row["ember"]["train_loss"] == pytest.approx(row["torch"]["train_loss"], rel=1e-4)
    assert r["epochs"][1]["ember"]["lr"] < r["epochs"][0]["ember"]["lr"]  # cosine stepped
    s = r["summary"]
    assert s["ember_test_loss"] == pytest.approx(s["torch_test_loss"], rel=1e-4)
    assert abs(s["ember_test_accuracy"] - s["torch_test_accuracy"]) <= 2e-3


def _check_time_to_target(result: dict, target: float) -> None:
    """Each side's first epoch at or above ``target`` and its summed training time, from the
    per-epoch rows."""
    tt, rows = result["time_to_target"], result["epochs"]
    assert tt["accuracy"] == target and tt["epochs_run"] == len(rows)
    for name in ("ember", "torch"):
        accs = [r[name]["test_accuracy"] for r in rows]
        first = next((i for i, a in enumerate(accs) if a >= target), None)
        hit = tt[name]
        assert hit["reached"] is (first is not None)
        if first is None:
            assert hit["epoch"] is None and hit["time_s"] is None
        else:
            assert hit["epoch"] == first + 1
            assert hit["time_s"] == pytest.approx(sum(r[name]["time_s"] for r in rows[: first + 1]))
        assert result["summary"][f"{name}_test_accuracy"] == accs[-1]
    both = tt["ember"]["reached"] and tt["torch"]["reached"]
    assert (tt["ratio"] is not None) is both


def test_time_to_target_stops_once_both_reach_it(tmp_path) -> None:
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    argv = ["mlp", "--limit", "256", "--epochs", "3", "--target", "0.05", "--json", str(out_json)]
    train_compare.main([*argv, "--markdown", str(out_md)])
    result = json.loads(out_json.read_text())
    _check_time_to_target(result, 0.05)
    assert result["time_to_target"]["epochs_run"] == 1  # any classifier beats 5% at once
    assert result["time_to_target"]["ratio"] > 0
    text = out_md.read_text()
    assert "training s to test accuracy ≥ 0.05" in text and "ember/torch time to the target" in text


def test_time_to_target_not_reached_runs_every_epoch(tmp_path) -> None:
    out_md = tmp_path / "r.md"
    argv = ["mlp", "--limit", "256", "--epochs", "2", "--target", "1.0", "--no-jit"]
    result = train_compare.main([*argv, "--markdown", str(out_md)])
    _check_time_to_target(result, 1.0)
    assert result["time_to_target"]["epochs_run"] == 2
    assert result["config"]["ember_jit"] is False
    assert "not reached in 2 epochs" in out_md.read_text()


def test_target_outside_accuracy_range_is_refused() -> None:
    with pytest.raises(SystemExit):
        train_compare.main(["mlp", "--target", "92"])
