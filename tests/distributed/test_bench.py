"""``ember bench --distributed``: a worker's throughput record on 2 ranks, and the options it
refuses. The full run (several rounds of three configurations and the sweep) is a benchmark,
not a test."""

from __future__ import annotations

import argparse

import pytest

from ember.bench import add_arguments
from ember.bench.distributed import _launch, run_distributed, to_markdown
from tests.distributed.launch import needs_mpi


def _opts(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(["--distributed", *argv])


@needs_mpi
def test_two_rank_worker_reports_throughput_buckets_and_overlap():
    got = _launch(2, 1, ["train", "mlp", "--steps", "2", "--warmup", "1"], timeout=120)
    assert got["batch"] == 128 and got["samples_per_s"] > 0
    # every float32 parameter of the mlp workload travels once, in some bucket
    import ember
    from ember.bench.workloads import Framework, build_train

    model = build_train(Framework("ember", ember), "mlp", batch=2).state[0]
    assert sum(got["buckets_bytes"]) == sum(p.numel() * 4 for p in model.parameters())
    assert 0.0 <= got["overlap"] <= 1.0 and got["comm_ms"] > 0
    row = {
        "workload": "mlp", "batch": 128, "overlap": got["overlap"],
        "samples_per_s": {"2x1": 2.0, "1x1": 1.0, "1x2": 1.5},
        "efficiency_vs_1x1": 1.0, "efficiency_vs_1xN": 4 / 3,
        "comm_ms_per_step": got["comm_ms"], "buckets_bytes": got["buckets_bytes"],
    }  # fmt: skip
    result = {
        "machine": {"cpu": "x", "cores": 2}, "ranks": 2, "jit": False, "loadavg_before": None,
        "loadavg_after": None, "throughput": [row],
        "allreduce": [{"bytes": 1024, "ember_s": 4e-5, "mpi_s": 1e-5}],
    }  # fmt: skip
    text = to_markdown(result)
    assert "| mlp | 128 | 2.0/s | 1.0/s | 1.5/s | 100% | 133% |" in text
    assert "| 1 KiB | 40.0 µs | 10.0 µs | 4.00 |" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["gpt-generate"], "gpt-generate cannot be timed data-parallel"),
        (["mlp", "--threads", "1"], "--threads must be at least 2"),
        (["mlp", "--compare", "torch"], "--compare applies to the single-process benchmark only"),
    ],
)
def test_refused_options(argv, message):
    with pytest.raises(SystemExit, match=message):
        run_distributed(_opts(*argv))
