"""ember.jit code generators side by side: NumPy per op vs the plan executor vs native C.

Run: ``OPENBLAS_NUM_THREADS=1 python -m benchmarks.jit_codegen [--workloads mlp gpt vae]``.

Part 1 times fused elementwise groups (an Adam update, bias + ReLU, a tanh-GELU) of float32
values at several sizes, each as a graph run by an ``Executor``: NumPy one op at a time (every
op allocates its result, as eager mode does), the plan executor (NumPy ``out=`` kernels into
planned buffers, state updated in place) and the native executor (one C kernel per group) on
one thread and with OpenMP on every core. It decides which groups go to C (see
``docs/jit.md``). Part 2 times whole training steps of reference workloads: eager, jitted with
the plan executor, jitted with the native executor.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

import ember
from ember.jit.executor import Executor
from ember.jit.graph import Graph, Node, Source
from ember.ops.core import Aval
from ember.ops.elementwise import Add, Div, Mul, Relu, Sqrt, Sub, Tanh

__all__ = ["GROUPS", "group_graph", "time_groups", "time_workloads", "main"]

F32 = ember.float32
T = TypeVar("T")
_MODES = ["numpy per op", "plan (out=)", "C 1 thread", "C OpenMP"]
# (mode, how the step is compiled, ember.config.jit_native)
_WORKLOAD_MODES = [
    ("eager", lambda f: f, True),
    ("jit plan", ember.jit, False),
    ("jit native", ember.jit, True),
]


class _Builder:
    """A graph of one elementwise group over float32 state tensors of one shape."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.g, self.shape = Graph(), shape
        self.rng = np.random.default_rng(0)

    def state(self, shape: tuple[int, ...] | None = None) -> int:
        shape = self.shape if shape is None else shape
        t = ember.tensor(self.rng.uniform(0.1, 1.0, shape).astype(np.float32))
        v = self.g.new_value(Aval(shape, F32))
        self.g.inputs.append(v)
        self.g.sources.append(Source("data", len(self.g.sources), t))
        return v

    def const(self, value: float) -> int:
        v = self.g.new_value(Aval((), F32))
        self.g.constants[v] = np.asarray(value, np.float32)
        return v

    def op(self, prim: type, *ins: int) -> int:
        v = self.g.new_value(Aval(self.shape, F32))
        self.g.nodes.append(Node(prim, ins, {}, v))
        return v

    def write(self, target: int, value: int) -> None:
        self.g.writes.append((self.g.sources[self.g.inputs.index(target)], value))


def _adam(b: _Builder) -> None:
    p, grad, m, v = b.state(), b.state(), b.state(), b.state()
    m2 = b.op(Add, b.op(Mul, m, b.const(0.9)), b.op(Mul, grad, b.const(0.1)))
    v2 = b.op(Add, b.op(Mul, v, b.const(0.999)), b.op(Mul, b.op(Mul, grad, grad), b.const(1e-3)))
    step = b.op(Div, b.op(Mul, m2, b.const(1e-3)), b.op(Add, b.op(Sqrt, v2), b.const(1e-8)))
    for target, value in [(m, m2), (v, v2), (p, b.op(Sub, p, step))]:
        b.write(target, value)


def _bias_relu(b: _Builder) -> None:
    x, out = b.state(), b.state()
    b.write(out, b.op(Relu, b.op(Add, x, b.state(b.shape[-1:]))))


def _gelu(b: _Builder) -> None:
    x, out = b.state(), b.state()
    cube = b.op(Mul, b.op(Mul, x, x), x)
    inner = b.op(Mul, b.op(Add, x, b.op(Mul, cube, b.const(0.044715))), b.const(0.79788456))
    half = b.op(Mul, b.op(Mul, x, b.const(0.5)), b.op(Add, b.op(Tanh, inner), b.const(1.0)))
    b.write(out, half)


GROUPS: dict[str, Callable[[_Builder], None]] = {
    "adam (12 ops)": _adam,
    "bias+relu (2 ops)": _bias_relu,
    "tanh-gelu (10 ops)": _gelu,
}


def group_graph(name: str, size: int) -> Graph:
    """The graph of group ``name`` over ``size`` float32 elements (as 2-D: rows x 256)."""
    b = _Builder((max(size // 256, 1), 256))
    GROUPS[name](b)
    return b.g


def _per_op(g: Graph) -> Callable[[], None]:
    """Eager-style NumPy: every op allocates; write-backs copied at the end."""
    arrays = [s.tensor._data for s in g.sources]

    def run() -> None:
        env = dict(zip(g.inputs, arrays))
        env.update(g.constants)
        for n in g.nodes:
            env[n.out] = n.prim.forward(np, *[env[v] for v in n.inputs], **n.params)
        for s, v in g.writes:
            s.tensor._data[...] = env[v]

    return run


def _race(fns: list[Callable[[], object]], rounds: int = 31, budget: float = 0.002) -> list[float]:
    """Best time per call (microseconds) of each function over short batches timed in
    alternation: on a shared machine every candidate sees the same background load, and the
    best of many short batches is the one least disturbed by it."""
    counts = []
    for fn in fns:  # warm up, and pick a batch of about ``budget`` seconds
        start = time.perf_counter()
        fn()
        counts.append(max(1, int(budget / max(time.perf_counter() - start, 1e-7))))
    best = [float("inf")] * len(fns)
    for _ in range(rounds):
        for k, (fn, n) in enumerate(zip(fns, counts)):
            start = time.perf_counter()
            for _ in range(n):
                fn()
            best[k] = min(best[k], (time.perf_counter() - start) / n)
    return [t * 1e6 for t in best]


def _configured(fn: Callable[[], T], **settings: Any) -> Callable[[], T]:
    """``fn`` run under ``ember.config.override(**settings)``: a jitted step compiled under
    some settings would retrace under others, so each candidate of a race keeps its own."""

    def run() -> T:
        with ember.config.override(**settings):
            return fn()

    return run


def _executor(name: str, size: int, use_native: bool, parallel_min: int) -> Callable[[], None]:
    with ember.config.override(jit_parallel_min=parallel_min):  # read when kernels are written
        ex = Executor(group_graph(name, size), set(), use_native="all" if use_native else False)
    assert any(ex.native) is use_native
    arrays = ex.bind([])
    return lambda: ex.run([], arrays)


def time_groups(sizes: list[int]) -> list[tuple[str, int, dict[str, float]]]:
    """``[(group, size, {mode: microseconds})]`` for every group and size."""
    default = ember.config.jit_parallel_min
    rows = []
    for name in GROUPS:
        for size in sizes:
            fns = [
                _per_op(group_graph(name, size)),
                _executor(name, size, False, default),
                _executor(name, size, True, 1 << 62),
                _executor(name, size, True, 0),
            ]
            rows.append((name, size, dict(zip(_MODES, _race(fns)))))
    return rows


def time_workloads(names: list[str], steps: int) -> list[tuple[str, dict[str, float]]]:
    """``[(workload, {mode: ms})]``: best step time eager, jitted with the plan executor and
    jitted with the native executor (timed in alternation), and each first (tracing) call."""
    from ember.bench import workloads

    fw = workloads.Framework("ember", ember)
    rows = []
    for name in names:
        times, steps_of = {}, []
        for mode, jit, use_native in _WORKLOAD_MODES:
            built = workloads.build_train(fw, name, jit)
            steps_of.append(_configured(built.step, jit_native=use_native))
            start = time.perf_counter()
            steps_of[-1]()  # traces (and compiles) under jit
            times[f"{mode} first"] = (time.perf_counter() - start) * 1e3
        best = _race(steps_of, rounds=steps, budget=0.0)
        times.update({mode: t / 1e3 for (mode, _, _), t in zip(_WORKLOAD_MODES, best)})
        rows.append((name, times))
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[4096, 65536, 1 << 20])
    p.add_argument("--workloads", nargs="*", default=[])
    p.add_argument("--steps", type=int, default=5)
    args = p.parse_args(argv)
    print("fused group                size   " + "".join(f"{m:>14}" for m in _MODES) + "  (us)")
    for name, size, times in time_groups(args.sizes):
        cells = "".join(f"{times[m]:14.1f}" for m in _MODES)
        print(f"{name:<22} {size:>9}   {cells}")
    if args.workloads:
        print("\nworkload   eager ms/step  jit plan  jit native   (first call: plan, native)")
        for name, t in time_workloads(args.workloads, args.steps):
            print(
                f"{name:<10} {t['eager']:12.1f} {t['jit plan']:9.1f} {t['jit native']:11.1f}"
                f"   ({t['jit plan first']:.0f} ms, {t['jit native first']:.0f} ms)"
            )


if __name__ == "__main__":
    main()
