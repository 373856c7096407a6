"""Eager per-op overhead: median microseconds per op on tiny tensors, ember next to PyTorch.

Run: ``python -m benchmarks.overhead [--markdown FILE]``. Tiny inputs make the kernel cost
negligible, so the numbers measure the Python path around it (promotion, ``apply``, wrapping
and, with autograd on, recording the node). Both libraries run in one process, alternating,
with PyTorch on one thread.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

import ember

__all__ = ["CASES", "measure", "main"]


def _chain(m, a, b):
    """A small forward + backward: ((a * b).relu() + a).sum().backward()."""
    ((a * b).relu() + a).sum().backward()


CASES: list[tuple[str, tuple[int, ...], Callable]] = [
    ("a + b", (16,), lambda m, a, b: a + b),
    ("a + b", (32, 32), lambda m, a, b: a + b),
    ("a @ b", (32, 32), lambda m, a, b: a @ b),
    ("a.sum()", (32, 32), lambda m, a, b: a.sum()),
    ("relu(a)", (16,), lambda m, a, b: a.relu()),
    ("relu(a)", (32, 32), lambda m, a, b: a.relu()),
]


def _inputs(m, shape: tuple[int, ...], requires_grad: bool) -> tuple:
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape).astype(np.float32) for _ in range(2)]
    return tuple(m.tensor(a, requires_grad=requires_grad) for a in arrays)


def _time(fn: Callable[[], object], number: int) -> float:
    """Microseconds per call of one timing run of ``number`` calls."""
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number * 1e6


def measure(
    fn: Callable, shape: tuple, grad: bool, *, repeats: int = 15, number: int = 200
) -> dict:
    """Median µs per call for ember and torch, timing runs interleaved to share noise."""
    calls = {}
    for m in (ember, torch):
        a, b = _inputs(m, shape, grad)
        calls[m] = lambda m=m, a=a, b=b: fn(m, a, b)
    samples: dict[str, list[float]] = {m.__name__: [] for m in calls}
    for round_ in range(repeats + 1):  # round 0 warms up
        for m, call in calls.items():
            with m.set_grad_enabled(grad):  # outside the timed loop: its cost is not per op
                us = _time(call, number)
            if round_:
                samples[m.__name__].append(us)
    return {name: statistics.median(s) for name, s in samples.items()}


def main(argv: list[str] | None = None) -> list[tuple]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", help="also write the table as markdown to this file")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    cases = [(n, s, f, g) for n, s, f in CASES for g in (False, True)]
    cases.append(("fwd+bwd chain", (32, 32), _chain, True))
    for name, shape, fn, grad in cases:
        r = measure(fn, shape, grad, repeats=args.repeats)
        rows.append((name, shape, "on" if grad else "off", r["ember"], r["torch"]))
    header = ("op", "shape", "autograd", "ember µs", "torch µs", "ember/torch")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, shape, grad, e, t in rows:
        lines.append(f"| `{name}` | {list(shape)} | {grad} | {e:.1f} | {t:.1f} | {e / t:.2f} |")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")
    return rows


if __name__ == "__main__":
    main()
