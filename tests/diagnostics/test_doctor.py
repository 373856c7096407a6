"""ember doctor on synthetic run directories: findings, text report, HTML report, errors."""

from __future__ import annotations

import base64
import re

import pytest

from ember import nn
from ember.diagnostics import doctor
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
