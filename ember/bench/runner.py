"""Timing: warm-up, ember and PyTorch alternated in chunks, statistics, peak FLOP/s, memory.

Frameworks are alternated chunk by chunk (``ember × chunk``, ``torch × chunk``, …) so that a
change in machine load during the run hits both sides alike; only ratios from one run are
meaningful on a shared machine.
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "Timing",
    "percentile",
    "summarize",
    "time_alternating",
    "step_peak_mib",
    "peak_matmul_gflops",
    "thread_limits",
    "classify_failure",
]


@dataclass
class Timing:
    """Per-framework outcome of ``time_alternating``: step times or the failure that stopped it."""

    times: list[float] = field(default_factory=list)
    first_step_s: float | None = None
    failure: BaseException | None = None


def percentile(xs: list[float], q: float) -> float:
    """Linear-interpolated ``q``-quantile (0 ≤ q ≤ 1) of ``xs``."""
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo = math.floor(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summarize(times: list[float]) -> dict[str, float | int]:
    """Median, p10, p90 and mean in ms, steps per second and the number of timed steps."""
    med = statistics.median(times)
    return {
        "median_ms": round(med * 1e3, 4),
        "p10_ms": round(percentile(times, 0.1) * 1e3, 4),
        "p90_ms": round(percentile(times, 0.9) * 1e3, 4),
        "mean_ms": round(statistics.fmean(times) * 1e3, 4),
        "steps_per_s": round(1.0 / med, 3) if med > 0 else math.inf,
        "n": len(times),
    }


def time_alternating(
    steps: dict[str, Callable[[], Any]], n_steps: int, warmup: int, chunk: int = 5
) -> dict[str, Timing]:
    """Warm up every step function, then time ``n_steps`` of each, alternating in chunks.

    A framework whose step raises is dropped from the rotation (its ``failure`` is set); the
    others go on.
    """
    out = {name: Timing() for name in steps}
    live = dict(steps)
    for name, step in steps.items():
        try:
            t0 = time.perf_counter()
            step()
            out[name].first_step_s = time.perf_counter() - t0
            for _ in range(max(0, warmup - 1)):
                step()
        except Exception as exc:  # noqa: BLE001 - reported per framework, the run goes on
            out[name].failure = exc
            del live[name]
    while live:
        for name in list(live):
            timing, step = out[name], live[name]
            try:
                for _ in range(min(chunk, n_steps - len(timing.times))):
                    t0 = time.perf_counter()
                    step()
                    timing.times.append(time.perf_counter() - t0)
            except Exception as exc:  # noqa: BLE001
                timing.failure = exc
            if timing.failure is not None or len(timing.times) >= n_steps:
                del live[name]
    return out


def step_peak_mib(step: Callable[[], Any]) -> float:
    """Peak MiB of Python/NumPy memory allocated while one ``step()`` runs (tracemalloc).

    NumPy reports its array buffers to tracemalloc, so this is the step's transient memory
    (activations, gradients, temporaries) on top of what already existed; it is measured on
    an extra, untimed step because tracing slows every allocation down.
    """
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return round(max(0, peak - base) / 2**20, 2)


def peak_matmul_gflops(n: int = 2048, reps: int = 5) -> float:
    """Best float32 GFLOP/s of an n×n NumPy matrix product (with the current BLAS threads)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), np.float32)
    np.matmul(a, b, out=c)  # warm-up: thread pool start, page faults
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    return round(2.0 * n**3 / best / 1e9, 2)


@contextlib.contextmanager
def thread_limits(threads: int, torch_mod: Any = None) -> Iterator[dict[str, Any]]:
    """Run NumPy's BLAS, ember's compiled kernels (OpenMP) and PyTorch with ``threads``
    threads.

    threadpoolctl caps the BLAS and OpenMP runtimes loaded now; ``OMP_NUM_THREADS`` caps an
    OpenMP runtime loaded later (the jit's first kernel library loads one). Without
    threadpoolctl NumPy's BLAS keeps the thread count it started with
    (``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS`` read at NumPy import, else all cores); the
    yielded dict says which case applies and what the BLAS library is.
    """
    info: dict[str, Any] = {"threads": threads}
    stack = contextlib.ExitStack()
    try:
        import threadpoolctl
    except ImportError:
        threadpoolctl = None
    if threadpoolctl is not None:
        stack.enter_context(threadpoolctl.threadpool_limits(limits=threads))
        blas = [
            {k: p.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
            for p in threadpoolctl.threadpool_info()
            if p.get("user_api") == "blas"
        ]
        info["numpy_blas"] = blas
        info["numpy_threads_control"] = "threadpoolctl"
    else:
        info["numpy_threads_control"] = (
            "none: threadpoolctl not installed, NumPy's BLAS uses the thread count fixed at "
            "NumPy import (OPENBLAS_NUM_THREADS / OMP_NUM_THREADS, else all cores)"
        )
    stack.enter_context(_environ("OMP_NUM_THREADS", str(threads)))
    previous = None
    if torch_mod is not None:
        previous = torch_mod.get_num_threads()
        torch_mod.set_num_threads(threads)
        info["torch_threads"] = torch_mod.get_num_threads()
    try:
        with stack:
            yield info
    finally:
        if previous is not None:
            torch_mod.set_num_threads(previous)


@contextlib.contextmanager
def _environ(name: str, value: str) -> Iterator[None]:
    """``os.environ[name] = value`` for the block, then as it was."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def classify_failure(exc: BaseException) -> tuple[str, str]:
    """("unavailable", reason) for a missing feature, ("error", message) for anything else."""
    msg = " ".join(f"{type(exc).__name__}: {exc}".split())[:400]
    missing_attr = isinstance(exc, AttributeError) and str(exc).startswith("module ")
    if isinstance(exc, (ImportError, NotImplementedError)) or missing_attr:
        return "unavailable", msg
    return "error", msg
