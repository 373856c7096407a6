"""Where a compiled training step spends its time, by primitive: ``python -m
benchmarks.step_profile resnet gpt --steps 5`` times every step of ``ember.jit``'s executor
(``Executor.execute_steps``) over a few compiled steps of each reference workload and prints
the primitives (or fused kernels) in order of time, at one thread.

A profile, not a benchmark: the timer around each step adds about a microsecond per step.
"""

from __future__ import annotations

import argparse
import collections
import time
from typing import Any

import ember
from ember.bench.runner import thread_limits
from ember.bench.workloads import Framework, build_cnn_infer, build_generate, build_train
from ember.jit.addresses import NativeCall
from ember.jit.executor import NATIVE, Executor


def _name(step: tuple) -> str:
    kind, fn, _, params, _, _ = step
    fn = fn.run if isinstance(fn, NativeCall) else fn
    if kind == NATIVE and getattr(fn, "__qualname__", "").startswith("_native_step"):
        return "fused kernel"
    qualname = getattr(fn, "__qualname__", type(fn).__name__)
    if "<locals>" in qualname:  # a made kernel: its own name (ufunc_writer names it "matmul")
        return f"{qualname.split('.')[0]}:{getattr(fn, '__name__', '?')}"
    return qualname.split(".")[0]


def profile(workload: str, steps: int) -> tuple[collections.Counter, float]:
    """(seconds per primitive, seconds in all) over ``steps`` compiled steps."""
    totals: collections.Counter = collections.Counter()
    original = Executor.execute_steps

    def timed_step(step: tuple) -> tuple:
        kind, fn, ins, params, out, dying = step
        label = _name(step)

        def run(*a: Any, **k: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                totals[label] += time.perf_counter() - start

        return (kind, run, ins, params, out, dying)

    def timed(self: Executor, arrays: list, **kw: Any) -> list:
        if not getattr(self, "timed", False):  # wrapped once: the loop is generated once
            self.steps, self.timed = [timed_step(step) for step in self.steps], True
        return original(self, arrays, **kw)

    fw = Framework("ember", ember)
    if workload == "gpt-generate":
        built = build_generate(fw, ember.jit)
    elif workload.startswith("cnn-infer"):
        built = build_cnn_infer(fw, int(workload.split("b")[-1]), ember.jit)
    else:
        built = build_train(fw, workload, ember.jit)
    for _ in range(3):  # trace, compile, warm
        built.step()
    Executor.execute_steps = timed
    try:
        start = time.perf_counter()
        for _ in range(steps):
            built.step()
        wall = time.perf_counter() - start
    finally:
        Executor.execute_steps = original
    return totals, wall


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workloads", nargs="+")
    p.add_argument("--steps", type=int, default=5)
    opts = p.parse_args()
    with thread_limits(1):
        for workload in opts.workloads:
            totals, wall = profile(workload, opts.steps)
            print(f"{workload}: {1e3 * wall / opts.steps:.1f} ms per step")
            for label, seconds in totals.most_common(8):
                share = seconds / wall
                print(f"  {label:28s} {1e3 * seconds / opts.steps:8.2f} ms  {share:6.1%}")


if __name__ == "__main__":
    main()
