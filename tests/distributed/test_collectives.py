"""ember.distributed's collectives on 2 and 4 MPI ranks against NumPy, and its faults."""

from __future__ import annotations

import pytest

import ember
import ember.distributed as dist
from tests.distributed.launch import assert_ok, ember_run, needs_mpi

pytestmark = needs_mpi


@pytest.mark.parametrize("n", [2, 4])
def test_every_collective_matches_numpy(n: int) -> None:
    assert_ok(ember_run(n, "collectives"), "collectives", n)


@pytest.mark.parametrize("n", [2, 3])
def test_differentiable_collectives_match_numpy(n: int) -> None:
    assert_ok(ember_run(n, "functional"), "functional", n)


def test_differentiable_collectives_refuse_bad_input() -> None:
    from ember.distributed.nn import functional

    with pytest.raises(ValueError, match=r"op <ReduceOp.MAX> has no gradient; expected ReduceOp"):
        functional.all_reduce(ember.ones(2), dist.ReduceOp.MAX)
    with pytest.raises(TypeError, match="expected an ember Tensor, got list"):
        functional.broadcast([1.0], src=0)
    with pytest.raises(ValueError, match="process group is not initialized"):
        functional.all_reduce(ember.ones(2))


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
