"""Jitted training steps with and without reduction epilogues in the native kernels.

Run: ``OPENBLAS_NUM_THREADS=1 python -m benchmarks.jit_reductions [--workloads gpt vae]``.

Each workload (``ember.bench.workloads.build_train``, default batch) is built twice from the
same seed and jitted with the native executor, once traced with ``EMBER_JIT_FUSE_REDUCTIONS=0``
(sums run by NumPy after their group, as before epilogues existed) and once with epilogues.
The two steps are then timed in alternation, so both see the same background load on a shared
machine. Prints the sums fused into C kernels and the median and best step time of each, in
wall-clock and in CPU time of this process (less disturbed by waiting for a busy core), and
the median time per step spent in what epilogues change: the native kernels and NumPy's sums.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import ember
from ember.bench import workloads
from ember.jit.executor import NATIVE, Executor
from ember.ops.reduce import Sum

__all__ = ["time_workload", "main"]


def _fused_sums(step: ember.jit.JitFunction) -> int:
    ex = step._last.executor
    return sum(len(g.reductions) for k, g in enumerate(ex.groups) if ex.native[k])


def _instrument(ex: Executor) -> list[float]:
    """Time ``ex``'s native kernels and NumPy sums: a list whose one item adds up their ms."""
    total = [0.0]

    def timed(fn: Callable) -> Callable:
        def run(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            total[0] += (time.perf_counter() - start) * 1e3
            return out

        return run

    ex.steps = [
        (kind, timed(fn) if kind == NATIVE or fn is Sum.forward else fn, *rest)
        for kind, fn, *rest in ex.steps
    ]
    return total


def time_workload(name: str, steps: int) -> dict[str, tuple[int, list[float], ...]]:
    """``{"off"/"on": (fused sums, wall ms per step, CPU ms per step, kernel and sum ms per
    step)}`` for workload ``name``."""
    os.environ["EMBER_JIT_NATIVE"] = "1"
    fw = workloads.Framework("ember", ember)
    runs = {}
    for flag in ("off", "on"):
        os.environ["EMBER_JIT_FUSE_REDUCTIONS"] = "0" if flag == "off" else "1"
        jitted: list[ember.jit.JitFunction] = []
        built = workloads.build_train(fw, name, lambda f: jitted.append(ember.jit(f)) or jitted[0])
        built.step()  # warm-up: creates .grad and the optimizer state
        built.step()  # traces and compiles
        runs[flag] = (built, jitted[0])
    kernels = {flag: _instrument(jitted._last.executor) for flag, (_, jitted) in runs.items()}
    times: dict[str, tuple[list[float], ...]] = {flag: ([], [], []) for flag in runs}
    for _ in range(steps):
        for flag, (built, _) in runs.items():
            wall, cpu, inside = times[flag]
            kernels[flag][0] = 0.0
            start, start_cpu = time.perf_counter(), time.process_time()
            built.step()
            cpu.append((time.process_time() - start_cpu) * 1e3)
            wall.append((time.perf_counter() - start) * 1e3)
            inside.append(kernels[flag][0])
    return {flag: (_fused_sums(runs[flag][1]), *times[flag]) for flag in runs}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workloads", nargs="+", default=["gpt", "vae"])
    p.add_argument("--steps", type=int, default=5)
    args = p.parse_args(argv)
    print("workload  epilogues  fused sums   wall ms: median  best   CPU ms: median  best", end="")
    print("   kernels+sums ms: median")
    for name in args.workloads:
        for flag, (sums, wall, cpu, inside) in time_workload(name, args.steps).items():
            cells = [statistics.median(wall), min(wall), statistics.median(cpu), min(cpu)]
            cells.append(statistics.median(inside))
            print(f"{name:<9} {flag:<10} {sums:>10}   " + "".join(f"{c:>9.1f}" for c in cells))


if __name__ == "__main__":
    main()
