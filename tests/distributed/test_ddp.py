"""DistributedDataParallel and SyncBatchNorm on 2 and 4 MPI ranks against one process."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.nn.parallel import DistributedDataParallel
from tests.distributed.launch import assert_ok, ember_run, needs_mpi


@needs_mpi
@pytest.mark.parametrize("n", [2, 4])
def test_ddp_ends_where_one_process_ends(n: int) -> None:
    # 20 SGD steps of global batch 128; plain, no_sync accumulation, small buckets, unused layer
    assert_ok(ember_run(n, "ddp"), "ddp", n)


@needs_mpi
@pytest.mark.parametrize("n", [2, 4])
def test_jitted_step_inside_ddp_ends_where_one_process_ends(n: int) -> None:
    # the bucket all-reduces, SyncBatchNorm's statistics and the buffer broadcasts are graph
    # nodes that call the process group on every replay
    assert_ok(ember_run(n, "ddp_jit", timeout=120), "ddp_jit", n)


@needs_mpi
def test_sync_batchnorm_equals_batchnorm_on_the_whole_batch() -> None:
    assert_ok(ember_run(2, "syncbn"), "syncbn", 2)


def test_ddp_needs_a_process_group() -> None:
    with pytest.raises(RuntimeError, match="process group is not initialized"):
        DistributedDataParallel(ember.nn.Linear(1, 1))
    assert issubclass(DistributedDataParallel, ember.nn.Module)


def test_sync_batchnorm_alone_is_batchnorm() -> None:
    ember.manual_seed(0)
    x = ember.randn(6, 3, 4)
    plain = ember.nn.BatchNorm1d(3)
    sync = ember.nn.SyncBatchNorm.convert_sync_batchnorm(
        ember.nn.Sequential(ember.nn.BatchNorm1d(3))
    )
    assert isinstance(sync[0], ember.nn.SyncBatchNorm)
    np.testing.assert_allclose(sync(x).detach().numpy(), plain(x).detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(sync[0].running_var.numpy(), plain.running_var.numpy(), atol=1e-7)
