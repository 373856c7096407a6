"""ember.distributed's collectives on 2 and 4 MPI ranks against NumPy, and its faults."""

from __future__ import annotations

import pytest

import ember.distributed as dist
from tests.distributed.launch import assert_ok, ember_run, needs_mpi

pytestmark = needs_mpi


@pytest.mark.parametrize("n", [2, 4])
def test_every_collective_matches_numpy(n: int) -> None:
    assert_ok(ember_run(n, "collectives"), "collectives", n)


def test_a_killed_rank_stops_the_others_with_a_clear_error() -> None:
    # the survivors print PeerFailure in most runs; sometimes MPICH kills them first, but the
    # launcher always reports the failure, and nobody hangs or finishes
    result = ember_run(3, "killed", timeout=30)
    assert result.returncode == 1
    assert "ember run: a rank failed" in result.stderr
    assert "ok killed" not in result.stdout


def test_a_hung_rank_trips_the_watchdog() -> None:
    result = ember_run(2, "hung", timeout=30, TEST_DIST_TIMEOUT="2")
    assert result.returncode == 1
    assert "all_reduce timed out after 2 s on rank 0" in result.stderr, result.stderr


def test_single_process_api_without_a_group() -> None:
    assert dist.is_available() and not dist.is_initialized()
    with pytest.raises(ValueError, match="not initialized"):
        dist.get_rank()
    with pytest.raises(ValueError, match="unknown backend"):
        dist.init_process_group("carrier-pigeon")
