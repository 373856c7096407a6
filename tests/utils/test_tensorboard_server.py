"""TensorBoard itself, started on loopback over an ``ember train --tensorboard`` run, lists the
run's scalar tags through its HTTP API."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request

import pytest

pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")

from ember.cli import main
from tests.data.idx_helpers import fake_fashion_mnist


def _serve(logdir, log) -> tuple[subprocess.Popen, str]:
    """TensorBoard on 127.0.0.1, on a free port, its messages in the file ``log``; its base
    URL from the line it prints."""
    cmd = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--port", "0",
           "--host", "127.0.0.1", "--load_fast", "false", "--reload_interval", "1"]  # fmt: skip
    with open(log, "w") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=sink)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        found = re.search(r"http://127\.0\.0\.1:\d+/", log.read_text())
        if found:
            return proc, found.group(0)
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    pytest.fail(f"tensorboard did not start: {log.read_text()[-2000:]}")


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_tensorboard_lists_the_runs_scalar_tags(tmp_path, monkeypatch):
    fake_fashion_mnist(tmp_path, monkeypatch, n_train=32, n_test=16)
    run = tmp_path / "runs" / "mlp"
    args = ["train", "mlp", "--epochs", "1", "--limit", "32", "--batch-size", "16", "--quiet"]
    assert main([*args, "--out", str(run), "--tensorboard"]) == 0
    proc, base = _serve(tmp_path / "runs", tmp_path / "tensorboard.log")
    try:
        deadline, tags = time.monotonic() + 60, {}
        while "mlp" not in tags and time.monotonic() < deadline:
            tags = _get(base + "data/plugin/scalars/tags")
            time.sleep(0.5)
        assert {"batch/loss", "batch/lr", "epoch/val_accuracy"} <= set(tags["mlp"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
