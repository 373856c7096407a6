"""Reduction epilogues in native kernels: groups and jitted training steps with and without.

Run: ``OPENBLAS_NUM_THREADS=1 python -m benchmarks.jit_reductions [--workloads gpt vae]``.

Part 1 times float32 groups followed by a sum, shaped like those of the GPT step (rows of 128
or 64 with a per-row input, a bias gradient summed down columns, a loss over everything, and a
softmax denominator, whose ``exp`` keeps it on NumPy unless ``ember.config.jit_native`` is
``"all"``), each as a graph run by an ``Executor``: the plan executor (NumPy ``out=`` kernels,
then NumPy's sum), the native executor without epilogues (a C kernel, then NumPy's sum) and
with them (one C kernel), in alternation (``benchmarks.jit_codegen._race``).

Part 2 builds each workload (``ember.bench.workloads.build_train``, default batch) twice from
the same seed and jits it with the native executor, once run with
``ember.config.jit_fuse_reductions = False`` (sums run by NumPy after their group, as before
epilogues existed) and once with epilogues. The two steps are then timed in alternation, so
both see the same background load on a shared machine (each under its own settings: a jitted
step retraces when the config it was compiled under changes). Prints the sums fused into C
kernels and the median and best step time of each, in wall-clock and in CPU time of this
process (less disturbed by waiting for a busy core), and the median CPU time per step spent in
what epilogues change: the native kernels and NumPy's sums.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import ember
from benchmarks.jit_codegen import _configured, _race
from ember.bench import workloads
from ember.jit.executor import NATIVE, Executor
from ember.jit.graph import Graph, Node, Source
from ember.ops.core import Aval
from ember.ops.elementwise import Add, Div, Exp, Mul, Neg, Sub
from ember.ops.reduce import Sum, reduced_shape

__all__ = ["GROUPS", "time_groups", "time_workload", "main"]

F32 = ember.float32
# name -> (shape, shape of the second input, ops applied as v = op(v, second input), dims)
GROUPS = {
    "LayerNorm var: (x - m)^2, rows of 128": ((768, 128), (768, 1), (Sub, Mul), (1,)),
    "softmax grad: rows of 64": ((3072, 64), (3072, 1), (Div, Neg, Mul, Div), (1,)),
    "bias grad: g + r, columns": ((768, 128), (768, 128), (Add,), (0,)),
    "loss: (x - t)^2, everything": ((1024, 1024), (1024, 1024), (Sub, Mul), (0, 1)),
    "softmax denominator: exp(x - max), rows": ((3072, 64), (3072, 1), (Sub, Exp), (1,)),
}
_UNARY = (Neg, Exp)
# mode: (native executor, ember.config.jit_fuse_reductions)
_MODES = {"plan": (False, False), "C, sum in NumPy": (True, False), "C with epilogue": (True, True)}


def _group_graph(name: str) -> Graph:
    """The graph of group ``name``: its ops over x and a second input, then the sum."""
    shape, other, ops, dims = GROUPS[name]
    g = Graph()
    g.inputs = [g.new_value(Aval(shape, F32)), g.new_value(Aval(other, F32))]
    g.sources = [Source("arg", 0), Source("arg", 1)]
    v = g.inputs[0]
    for op in ops:
        out = g.new_value(Aval(shape, F32))
        g.nodes.append(Node(op, (v,) if op in _UNARY else (v, g.inputs[1]), {}, out))
        v = out
    total = g.new_value(Aval(reduced_shape(shape, dims, True), F32))
    g.nodes.append(Node(Sum, (v,), {"dims": dims, "keepdim": True}, total))
    g.outputs = [total]
    return g


def time_groups() -> list[tuple[str, dict[str, float]]]:
    """``[(group, {mode: microseconds per call})]``."""
    rng = np.random.default_rng(0)
    rows = []
    for name, (shape, other, _, _) in GROUPS.items():
        args = [ember.tensor(rng.uniform(0.5, 1.5, s).astype(np.float32)) for s in (shape, other)]
        calls = []
        for use_native, fuse_sums in _MODES.values():
            with ember.config.override(jit_fuse_reductions=fuse_sums):
                ex = Executor(_group_graph(name), set(), use_native="all" if use_native else False)
            calls.append(functools.partial(ex.run, args, ex.bind(args)))
        rows.append((name, dict(zip(_MODES, _race(calls)))))
    return rows


def _fused_sums(step: ember.jit.JitFunction) -> int:
    ex = step._last.executor
    return sum(len(g.reductions) for k, g in enumerate(ex.groups) if ex.native[k])


def _instrument(ex: Executor) -> list[float]:
    """Time ``ex``'s native kernels and NumPy sums: a list whose one item adds up their CPU
    milliseconds."""
    total = [0.0]

    def timed(fn: Callable) -> Callable:
        def run(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            out = fn(*args, **kwargs)
            total[0] += (time.process_time() - start) * 1e3
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
    fw = workloads.Framework("ember", ember)
    runs = {}
    for flag in ("off", "on"):
        jitted: list[ember.jit.JitFunction] = []
        built = workloads.build_train(fw, name, lambda f: jitted.append(ember.jit(f)) or jitted[0])
        step = _configured(built.step, jit_native=True, jit_fuse_reductions=flag == "on")
        step()  # warm-up: creates .grad and the optimizer state
        step()  # traces and compiles
        runs[flag] = (step, jitted[0])
    kernels = {flag: _instrument(jitted._last.executor) for flag, (_, jitted) in runs.items()}
    times: dict[str, tuple[list[float], ...]] = {flag: ([], [], []) for flag in runs}
    for _ in range(steps):
        for flag, (step, _) in runs.items():
            wall, cpu, inside = times[flag]
            kernels[flag][0] = 0.0
            start, start_cpu = time.perf_counter(), time.process_time()
            step()
            cpu.append((time.process_time() - start_cpu) * 1e3)
            wall.append((time.perf_counter() - start) * 1e3)
            inside.append(kernels[flag][0])
    return {flag: (_fused_sums(runs[flag][1]), *times[flag]) for flag in runs}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workloads", nargs="+", default=["gpt", "vae"])
    p.add_argument("--steps", type=int, default=5)
    args = p.parse_args(argv)
    print(f"{'group (float32)':<40}" + "".join(f"{m:>18}" for m in _MODES) + "  (us)")
    for name, times in time_groups():
        print(f"{name:<40}" + "".join(f"{times[m]:18.1f}" for m in _MODES))
    print(
        "\nworkload  epilogues  fused sums   wall ms: median  best   CPU ms: median  best", end=""
    )
    print("   kernels+sums CPU ms: median")
    for name in args.workloads:
        for flag, (sums, wall, cpu, inside) in time_workload(name, args.steps).items():
            cells = [statistics.median(wall), min(wall), statistics.median(cpu), min(cpu)]
            cells.append(statistics.median(inside))
            print(f"{name:<9} {flag:<10} {sums:>10}   " + "".join(f"{c:>9.1f}" for c in cells))


if __name__ == "__main__":
    main()
