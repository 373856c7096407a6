"""``ember train MODEL --distributed`` on 2 MPI ranks against one process: the same weights,
the same logged metrics, rank 0 alone printing, resume at another world size, and a batch
that does not split refused."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ember.cli import main
from ember.io import safetensors
from ember.models.vae import VAE
from ember.train.classifier import RECIPES
from tests.data.idx_helpers import fake_fashion_mnist
from tests.distributed.launch import ROOT, needs_mpi
from tests.distributed.train_rank import noiseless

PROGRAM = Path(__file__).with_name("train_rank.py")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    # as train_rank.py: no dropout, no VAE noise
    monkeypatch.setattr(RECIPES["mlp"], "model_kwargs", {})
    monkeypatch.setattr(VAE, "reparameterize", staticmethod(noiseless))
    return fake_fashion_mnist(tmp_path, monkeypatch, n_train=96, n_test=16)


def _mlp(out: Path, *flags: str) -> list[str]:
    return ["train", "mlp", "--limit", "96", "--batch-size", "16", "--out", str(out), *flags]


def _ranks(n: int, argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    """``ember run -n N -- python train_rank.py ARGV``; a hang fails the test after ``timeout``."""
    command = [sys.executable, "-m", "ember", "run", "-n", str(n), "--", "python", str(PROGRAM)]
    return subprocess.run(
        [*command, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _weights(run: Path) -> dict[str, np.ndarray]:
    arrays = safetensors.load_file(run / "checkpoint.safetensors", numpy=True)
    return {k: v for k, v in arrays.items() if k.startswith(("model.", "optimizer."))}


def _metrics(run: Path) -> list[dict[str, str]]:
    return list(csv.DictReader((run / "metrics.csv").read_text().splitlines()))


def _assert_same_run(got: Path, want: Path) -> None:
    expect = _weights(want)
    found = _weights(got)
    assert found.keys() == expect.keys()
    for key, value in expect.items():
        np.testing.assert_allclose(found[key], value, atol=1e-5, rtol=0, err_msg=key)
    for a, b in zip(_metrics(got), _metrics(want), strict=True):
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
            assert float(a[key]) == pytest.approx(float(b[key]), abs=1e-5), key


@needs_mpi
def test_two_ranks_train_as_one_process_and_only_rank_0_prints(data_dir, tmp_path):
    # the ranks run the compiled step (DDP's all-reduces are nodes of its graph), the one
    # process runs eagerly
    one, two = tmp_path / "one", tmp_path / "two"
    assert main(_mlp(one, "--epochs", "2", "--quiet", "--no-jit")) == 0
    result = _ranks(2, _mlp(two, "--epochs", "2", "--distributed"))
    assert result.returncode == 0, result.stdout + result.stderr
    _assert_same_run(two, one)  # weights, Adam moments, and the global batch's metrics
    lines = result.stdout.splitlines()
    assert len(lines) == len(set(lines)), result.stdout  # rank 1 printed nothing
    assert not [x for x in lines if x.startswith("running the step eagerly")]  # compiled
    assert sum(x.startswith("epoch ") for x in lines) == 2
    assert sum(x.startswith("mlp: test_accuracy") for x in lines) == 1
    assert result.stderr == ""


@needs_mpi
def test_two_ranks_train_the_vae_as_one_process(data_dir, tmp_path):
    # the VAE's loss is a sum over the batch: each rank's is over half the rows, so the step
    # scales it by the world size before DDP averages the gradients
    one, two = tmp_path / "one", tmp_path / "two"
    vae = ["train", "vae", "--limit", "96", "--batch-size", "32", "--epochs", "2"]
    assert main([*vae, "--out", str(one), "--quiet", "--no-jit"]) == 0
    result = _ranks(2, [*vae, "--out", str(two), "--quiet", "--distributed"])
    assert result.returncode == 0, result.stdout + result.stderr
    expect, found = _weights(one), _weights(two)
    assert found.keys() == expect.keys()
    for key, value in expect.items():  # Adam's moments hold the summed gradients' scale
        np.testing.assert_allclose(found[key], value, rtol=1e-4, atol=1e-5, err_msg=key)


@needs_mpi
def test_resume_at_world_size_1_after_2(data_dir, tmp_path):
    one, both = tmp_path / "one", tmp_path / "both"
    assert main(_mlp(one, "--epochs", "2", "--quiet", "--no-jit")) == 0
    result = _ranks(2, _mlp(both, "--epochs", "1", "--distributed", "--quiet"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
    resume = ["train", "mlp", "--epochs", "2", "--resume", "--out", str(both), "--quiet"]
    assert main([*resume, "--no-jit"]) == 0
    _assert_same_run(both, one)


@needs_mpi
def test_a_batch_that_does_not_split_is_refused(data_dir, tmp_path):
    result = _ranks(2, _mlp(tmp_path / "run", "--batch-size", "15", "--distributed"))
    assert result.returncode != 0
    assert "ember: error: --distributed: a global batch of 15 does not split into 2" in (
        result.stderr
    )
    assert "--batch-size divisible by 2" in result.stderr
    assert not (tmp_path / "run" / "checkpoint.safetensors").exists()


def test_plan_shares_partition_each_global_batch_and_pad_a_short_one():
    from ember.random import Generator
    from ember.train.batches import ShuffledBatches

    def plans(world: int) -> list[ShuffledBatches]:
        """The plans of ``world`` ranks: 10 samples in batches of 6 (the last one of 4)."""
        out = [
            ShuffledBatches(lambda i: i, 10, 6, Generator().manual_seed(0)) for _ in range(world)
        ]
        for rank, plan in enumerate(out):
            plan.shard(rank, world)
            plan.begin(0)
        return out

    (whole,) = plans(1)
    first, last = whole.get(0).tolist(), whole.get(1).tolist()
    assert [p.get(0).tolist() for p in plans(2)] == [first[:3], first[3:]]
    assert [p.get(1).tolist() for p in plans(2)] == [last[:2], last[2:]]
    # 4 rows in 3 equal shares: padded with the batch's first rows, as DistributedSampler pads
    assert [p.get(1).tolist() for p in plans(3)] == [last[:2], last[2:], last[:2]]
