"""The optimizer update alone: ``opt.step()`` over a workload's parameters, timed four ways.

For the parameters of a reference workload (``ember bench``'s models), with fixed gradients:
eager ember (the single rule, op by op), the step compiled by ``ember.jit`` with the
multi-tensor calls of ``ember.jit.multi`` and without them (one call per fused group), and
PyTorch's ``step()`` (its default, foreach, implementation). Turns alternate in one process
(``ember.bench.runner.time_alternating``), so machine load hits all alike::

    python benchmarks/optim_step.py mlp vae cnn [--steps 200]
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from typing import Any

import numpy as np

import ember
from ember.bench import runner, workloads
from ember.jit import multi

__all__ = ["build", "main"]


def _optimizer(mod: Any, workload: str, params: list[Any]) -> Any:
    """The workload's optimizer (as ``ember bench`` builds it) over ``params``."""
    if workload == "resnet":
        return mod.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=5e-4)
    return mod.optim.Adam(params, lr=1e-3)


def build(workload: str) -> dict[str, Callable[[], Any]]:
    """Step functions keyed by variant, each over its own copy of the workload's parameters
    with the same fixed gradients."""
    import torch

    shapes = [tuple(p.shape) for p in workloads.model_zoo(ember).__dict__[workload]().parameters()]
    rng = np.random.default_rng(0)
    values = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    steps: dict[str, Callable[[], Any]] = {}
    for variant in ("eager", "jit multi", "jit apart"):
        params = [ember.tensor(v, requires_grad=True) for v in values]
        for p, g in zip(params, grads):
            p.grad = ember.tensor(g)
        opt = _optimizer(ember, workload, params)
        if variant == "eager":
            steps[variant] = opt.step
            continue
        compiled = ember.jit(opt.step)
        if variant == "jit apart":
            original, multi.classes = multi.classes, lambda *args: []
        try:
            for _ in range(3):  # the first call makes the state, the second compiles
                compiled()
        finally:
            if variant == "jit apart":
                multi.classes = original
        steps[variant] = compiled
    tparams = [torch.tensor(v, requires_grad=True) for v in values]
    for p, g in zip(tparams, grads):
        p.grad = torch.tensor(g)
    steps["torch"] = _optimizer(torch, workload, tparams).step
    return steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="+")
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args(argv)
    import torch

    with runner.thread_limits(1, torch):
        for workload in args.workloads:
            timings = runner.time_alternating(build(workload), args.steps, 5, chunk=10)
            med = {k: 1e6 * statistics.median(t.times) for k, t in timings.items()}
            cells = ", ".join(f"{k} {v:.0f} µs" for k, v in med.items())
            ratio = med["jit multi"] / med["jit apart"]
            print(f"{workload}: {cells}; jit multi / apart {ratio:.2f}", flush=True)


if __name__ == "__main__":
    main()
