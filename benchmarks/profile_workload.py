"""Where an ember training step spends its time: cProfile of one workload, grouped by kind.

Run: ``python benchmarks/profile_workload.py gpt [--steps 3] [--top 12]``. Kinds: BLAS matmul
(``MatMul.forward``), convolutions (their chunked window copies and GEMMs) and pooling
windows, fused kernels (``ember/ops/fused.py``: batch norm, LSTM, cross entropy), element-wise
kernels, reductions, copies and indexing, the optimizer's arithmetic, and Python overhead
(everything else: ``apply``, the autograd engine, modules, tensor wrappers). Time spent in a
C function (a ufunc method, ``ndarray.copy``) or in NumPy's own Python helpers (``np.pad``)
counts towards the kind of its main caller.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
from collections import defaultdict

import ember
from ember.bench import workloads

__all__ = ["KINDS", "profile", "main"]

# (path fragment, function name or None for any) -> kind; first match wins
KINDS = [
    ("ember/ops/linalg.py", "forward", "BLAS matmul"),
    ("ember/ops/conv.py", None, "convolutions (window copies + GEMMs), pooling"),
    ("ember/ops/fused.py", "forward", "fused kernels (batch norm, LSTM, CE)"),
    ("ember/ops/elementwise.py", "forward", "element-wise kernels"),
    ("ember/ops/elementwise.py", "_erf", "element-wise kernels"),
    ("ember/ops/reduce.py", "forward", "reductions"),
    ("ember/ops/movement.py", "forward", "copies, views and indexing"),
    ("ember/ops/index.py", "forward", "copies, views and indexing"),
    ("ember/optim/", None, "optimizer"),
]


def _kind(func: tuple[str, int, str]) -> str | None:
    path, _, name = func
    if path == "~" or "/numpy/" in path:  # C functions and NumPy's Python helpers
        return None
    for fragment, fname, kind in KINDS:
        if fragment in path and (fname is None or fname == name):
            return kind
    return "Python overhead"


def profile(workload: str, steps: int = 3) -> tuple[dict[str, float], pstats.Stats, float]:
    """Seconds per kind over ``steps`` profiled steps (after two unprofiled ones)."""
    fw = workloads.Framework("ember", ember)
    if workload == "gpt-generate":
        built = workloads.build_generate(fw)
    else:
        built = workloads.build_train(fw, workload)
    built.step()
    built.step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        built.step()
    prof.disable()
    stats = pstats.Stats(prof)
    kinds: dict[str, float] = defaultdict(float)
    for func, (_, _, tottime, _, callers) in stats.stats.items():
        kind = _kind(func)
        if kind is None:  # a C function: charge its main caller's kind
            main_caller = max(callers, key=lambda c: callers[c][2], default=None)
            kind = (_kind(main_caller) if main_caller else None) or "Python overhead"
        kinds[kind] += tottime
    return dict(kinds), stats, stats.total_tt


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workload", choices=[*workloads.TRAIN_WORKLOADS, "gpt-generate"])
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--top", type=int, default=12, help="also list the N most expensive functions")
    args = p.parse_args(argv)
    kinds, stats, total = profile(args.workload, args.steps)
    print(f"{args.workload}: {total / args.steps * 1e3:.0f} ms per step under cProfile")
    for kind, secs in sorted(kinds.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:<46} {100 * secs / total:5.1f}%  {secs / args.steps * 1e3:8.1f} ms/step")
    if args.top:
        stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
