"""ember doctor on synthetic run directories: findings, text report, HTML report, errors."""

from __future__ import annotations

import argparse
import base64
import re

import numpy as np
import pytest

from ember import nn
from ember.diagnostics import GradientMonitor, doctor, runfiles
from ember.diagnostics.monitor import save_stats
from tests.diagnostics.helpers import mlp, synthetic, train_monitored

METRICS = """epoch,loss,accuracy,val_loss,val_accuracy,lr,time
1,1.0,0.5,1.0,0.5,0.1,1.0
2,0.6,0.7,0.7,0.65,0.1,1.0
3,0.4,0.8,0.55,0.7,0.1,1.0
4,0.3,0.85,0.5,0.72,0.1,1.0
5,0.22,0.9,0.52,0.71,0.1,1.0
6,0.16,0.93,0.56,0.7,0.1,1.0
7,0.12,0.95,0.6,0.7,0.1,1.0
8,0.09,0.97,0.66,0.69,0.1,1.0
"""


@pytest.fixture
def run_dir(tmp_path):
    save_stats(synthetic(rms=[1e-7, 1e-6, 1e-5, 1e-3, 1e-2]), tmp_path)
    (tmp_path / "metrics.csv").write_text(METRICS)
    return tmp_path


def test_diagnose_reads_stats_and_metrics(run_dir) -> None:
    found = doctor.diagnose(run_dir, patience=2)
    assert [f.kind for f in found] == ["vanishing_gradients", "overfitting"]
    assert "would have stopped after epoch 7 and restored epoch 4" in found[1].evidence


def test_diagnose_with_only_metrics(tmp_path) -> None:
    (tmp_path / "metrics.csv").write_text(METRICS)
    assert [f.kind for f in doctor.diagnose(tmp_path)] == ["overfitting"]


def test_main_prints_the_report(run_dir, capsys) -> None:
    assert doctor.main([str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "2 finding(s):" in out and "[CRITICAL] vanishing gradients" in out
    assert "layer0.weight" in out and "epochs: 8; train loss 1 → 0.09" in out


def test_healthy_run_reports_no_problems(tmp_path, capsys) -> None:
    train_monitored(mlp(nn.ReLU, 2), steps=10).save(tmp_path)
    assert doctor.main([str(tmp_path)]) == 0
    assert "no problems found" in capsys.readouterr().out


def test_html_report_is_self_contained(run_dir, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    monitor = train_monitored(mlp(nn.Tanh, 2), steps=5)
    monitor.save(run_dir)  # real activation histograms
    page_path = tmp_path / "report.html"
    assert doctor.main([str(run_dir), "--html", str(page_path)]) == 0
    page = page_path.read_text()
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 3
    assert all(base64.b64decode(img).startswith(b"\x89PNG") for img in images)
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched from elsewhere


def test_errors(tmp_path, capsys) -> None:
    assert doctor.main([str(tmp_path / "missing")]) == 1
    assert "no such run directory" in capsys.readouterr().err
    assert doctor.main([str(tmp_path)]) == 1
    assert "nothing to diagnose" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="neither diagnostics.npz nor metrics.csv"):
        doctor.diagnose(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "metrics.csv: empty file: expected a header line of column names"),
        ("abc\n", "metrics.csv: no rows after the header line: expected one row per epoch"),
        ("1,0.5\n2,0.4\n", "metrics.csv line 1: '1' is a number: expected a header line"),
        ("epoch,,loss\n1,2,3\n", "metrics.csv line 1: column 2 has no name"),
        ("epoch,loss,loss\n1,2,3\n", "metrics.csv line 1: column 'loss' appears twice"),
        ("epoch,loss\n1,0.5\n2,abc\n", "metrics.csv line 3: 'abc' is not a number in column loss"),
        ("epoch,loss\n1,0.5,9\n", "metrics.csv line 2: 3 values for the 2 columns epoch,loss"),
        ("epoch,loss\n1\n", "metrics.csv line 2: 1 value for the 2 columns epoch,loss"),
        ("epoch,loss\n1,0.5\n\n2,0.4\n", "metrics.csv line 3: 0 values for the 2 columns"),
        (b"epoch,loss\n1,\xff\n", "metrics.csv: not UTF-8 text"),
    ],
    ids=[
        "empty",
        "header-only",
        "no-header",
        "unnamed-column",
        "duplicate-column",
        "not-a-number",
        "too-many",
        "too-few",
        "blank-line",
        "binary",
    ],
)
def test_corrupt_metrics_name_the_file_and_line(tmp_path, capsys, content, message) -> None:
    path = tmp_path / "metrics.csv"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ValueError, match=re.escape(message)):
        doctor.diagnose(tmp_path)
    assert doctor.main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"doctor: {path}" in err and "finding" not in err


def test_metrics_accept_empty_cells_and_nan(tmp_path) -> None:
    (tmp_path / "metrics.csv").write_text("iter,train_loss,val_loss\n1,2.0,\n2,nan,1.5\n")
    epochs = runfiles.read_metrics(tmp_path / "metrics.csv")
    np.testing.assert_array_equal(epochs["val_loss"], [np.nan, 1.5])
    np.testing.assert_array_equal(epochs["train_loss"], [2.0, np.nan])


def _damage_json(run, text: str) -> None:
    (run / "diagnostics.json").write_text(text)


def _damage_npz(run, **arrays) -> None:
    with np.load(run / "diagnostics.npz") as data:
        saved = {k: data[k] for k in data.files}
    np.savez(run / "diagnostics.npz", **{**saved, **arrays})


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda run: _damage_json(run, "{"), "diagnostics.json: not valid JSON"),
        (lambda run: _damage_json(run, "[]"), "diagnostics.json: expected a JSON object"),
        (
            lambda run: _damage_json(run, '{"param_names": "w"}'),
            "diagnostics.json: param_names must be a list of names",
        ),
        (
            lambda run: (run / "diagnostics.json").unlink(),
            "diagnostics.json is missing: GradientMonitor.save writes it beside diagnostics.npz",
        ),
        (
            lambda run: (run / "diagnostics.npz").write_bytes(b"abc"),
            "diagnostics.npz: not a NumPy .npz archive",
        ),
        (
            lambda run: _damage_npz(run, grad_norm=np.zeros((40, 3))),
            "diagnostics.npz: array grad_norm has shape (40, 3): expected (40, 5) "
            "(recorded steps, parameters)",
        ),
        (
            lambda run: _damage_npz(run, losses=np.zeros(3)),
            "diagnostics.npz: array losses has shape (3,): expected (40,) (loss values)",
        ),
        (
            lambda run: _damage_npz(run, extra=np.zeros(3)),
            "diagnostics.npz: unexpected array 'extra'",
        ),
        (
            lambda run: _damage_npz(run, steps=np.array(["a"] * 40)),
            "diagnostics.npz: array steps holds <U1, not numbers",
        ),
    ],
    ids=[
        "json-syntax",
        "json-list",
        "json-names",
        "no-json",
        "npz",
        "shape",
        "length",
        "extra",
        "strings",
    ],
)
def test_corrupt_monitor_files_are_named(run_dir, damage, message) -> None:
    damage(run_dir)
    with pytest.raises(ValueError, match=re.escape(message)):
        doctor.diagnose(run_dir)


def test_monitor_with_nothing_recorded_is_not_a_healthy_run(tmp_path) -> None:
    GradientMonitor(mlp(nn.ReLU, 1)).save(tmp_path)
    with pytest.raises(ValueError, match="nothing to diagnose in .*: diagnostics.npz holds no"):
        doctor.diagnose(tmp_path)


def test_arguments_can_join_another_parser(run_dir, capsys) -> None:
    parser = argparse.ArgumentParser(prog="ember")
    doctor.add_arguments(parser.add_subparsers().add_parser("doctor"))
    args = parser.parse_args(["doctor", str(run_dir), "--patience", "2"])
    assert args.patience == 2 and doctor.run(args) == 0
    assert "2 finding(s):" in capsys.readouterr().out
