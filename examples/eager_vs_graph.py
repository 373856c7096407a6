"""Eager vs graph execution: the same training step run op by op and compiled with ember.jit.

Eagerly, every op of a training step (forward, backward, optimizer update) goes through
Python: dispatch, shape inference, an autograd node, a freshly allocated result. ``ember.jit``
runs the step once to record it as a graph, simplifies the graph, and afterwards replays it on
raw arrays: no autograd bookkeeping, fewer temporaries, the parameters and optimizer state
updated in place. The arithmetic is the same, so the losses agree; what changes is the
overhead around it, which matters most when the ops are small. The script times both on a
few workloads (median step time after a warm-up) and writes a figure.

    python examples/eager_vs_graph.py            # about a minute on 2 cores
    python examples/eager_vs_graph.py --fast     # tiny sizes (CI)
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from common import parse_args, save_figure

import ember
from ember import nn, optim
from ember.diagnostics.plots import pyplot
from ember.jit import JitError
from ember.nn import functional as F


@dataclass
class Workload:
    name: str
    build: Callable[[], nn.Module]
    input_shape: tuple[int, ...]
    batch: int
    optimizer: str
    dtype: Any = ember.float32


def small_mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)
    )


def wide_mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
    )


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 14 * 14, 10),
    )


WORKLOADS = (
    Workload("small MLP, Adam", small_mlp, (32,), 32, "adam"),
    Workload("784-512-512 MLP, SGD", wide_mlp, (784,), 128, "sgd"),
    Workload("784-512-512 MLP, Adam", wide_mlp, (784,), 128, "adam"),
    Workload("small CNN + BatchNorm, SGD", small_cnn, (1, 28, 28), 32, "sgd"),
    # where compiled kernels round differently, float32 Adam amplifies it (a tiny gradient
    # still moves a weight by ~lr); in float64 the two then still agree to the last digits
    Workload("784-512-512 MLP, Adam, f64", wide_mlp, (784,), 128, "adam", ember.float64),
)


def make_step(work: Workload) -> Callable[[ember.Tensor, ember.Tensor], ember.Tensor]:
    """A fresh model (seed 0) and optimizer, and the step function that trains them."""
    ember.manual_seed(0)
    model = work.build().to(work.dtype)
    if work.optimizer == "adam":
        opt: optim.Optimizer = optim.Adam(model.parameters(), lr=1e-3)
    else:
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(x: ember.Tensor, y: ember.Tensor) -> ember.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def run(
    steps: dict[str, Callable], batches: list[tuple[ember.Tensor, ember.Tensor]], warmup: int
) -> dict[str, dict[str, Any]]:
    """Losses of every step and the median wall time of the steps after ``warmup``.

    The step functions take turns on each batch, so a busy machine slows them alike.
    """
    losses: dict[str, list[float]] = {k: [] for k in steps}
    times: dict[str, list[float]] = {k: [] for k in steps}
    for i, (x, y) in enumerate(batches):
        for name, step in steps.items():
            start = time.perf_counter()
            losses[name].append(step(x, y).item())  # .item() waits for the result
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return {
        k: {"losses": np.array(losses[k]), "median_ms": 1000 * statistics.median(times[k])}
        for k in steps
    }


def compare(work: Workload, steps: int, warmup: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    batches = [
        (
            ember.tensor(rng.standard_normal((work.batch, *work.input_shape)), dtype=work.dtype),
            ember.tensor(rng.integers(0, 10, work.batch)),
        )
        for _ in range(warmup + steps)
    ]
    jitted = ember.jit(make_step(work))
    try:
        result = run({"eager": make_step(work), "jit": jitted}, batches, warmup)
    except (JitError, NotImplementedError, RuntimeError, TypeError, ValueError) as exc:
        # a workload ember.jit cannot compile yet: report it (eager timing alone) and go on
        eager = run({"eager": make_step(work)}, batches, warmup)["eager"]
        first = str(exc).splitlines()[0]
        return {"name": work.name, "eager_ms": eager["median_ms"], "error": first}
    eager, graph = result["eager"], result["jit"]
    diff = np.abs(eager["losses"] - graph["losses"]) / np.abs(eager["losses"])
    return {
        "name": work.name,
        "eager_ms": eager["median_ms"],
        "jit_ms": graph["median_ms"],
        "speedup": eager["median_ms"] / graph["median_ms"],
        "max_rel_loss_diff": float(diff.max()),
        "traces": jitted.traces,
        "eager_losses": eager["losses"],
        "jit_losses": graph["losses"],
        "error": None,
    }


def plot(rows: list[dict[str, Any]], path: str) -> None:
    plt = pyplot()
    ok = [r for r in rows if r["error"] is None]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [3, 2]})
    pos = np.arange(len(rows))
    speedups = [r["speedup"] if r["error"] is None else 0.0 for r in rows]
    ax1.barh(pos, speedups, 0.6, color=["#236" if s >= 1 else "#c63" for s in speedups])
    ax1.axvline(1.0, color="black", lw=1)
    for p, r in zip(pos, rows):
        text = (
            f" {r['eager_ms']:.2f} → {r['jit_ms']:.2f} ms"
            if r["error"] is None
            else f" jit failed ({r['eager_ms']:.2f} ms eager)"
        )
        ax1.annotate(text, (max(speedups[p], 0.0), p), va="center", fontsize=9)
    ax1.set_yticks(pos, [r["name"] for r in rows])
    ax1.invert_yaxis()
    ax1.set_xlim(0, 1.6 * max(speedups + [1.0]))
    ax1.set(
        xlabel="speed-up of ember.jit over eager (median step time, eager → jit)",
        title="one training step",
    )
    if ok:
        r = ok[0]
        ax2.plot(r["eager_losses"], "o-", ms=4, label="eager")
        ax2.plot(r["jit_losses"], "x--", ms=6, label="ember.jit")
        ax2.set(xlabel="step", ylabel="loss", title=f"the same losses\n({r['name']}, random data)")
        ax2.legend()
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(__doc__, "eager_vs_graph.png", argv)
    steps, warmup = (3, 2) if args.fast else (50, 5)
    workloads = WORKLOADS[:1] if args.fast else WORKLOADS
    rows = [compare(w, steps, warmup) for w in workloads]
    print(f"median of {steps} steps after {warmup} warm-up steps (the jit traces during warm-up)")
    print(f"{'workload':<28}{'eager ms':>10}{'jit ms':>10}{'speedup':>9}{'max rel loss diff':>19}")
    for r in rows:
        if r["error"] is not None:
            print(f"{r['name']:<28}{r['eager_ms']:>10.2f}  jit failed: {r['error']}")
            continue
        print(
            f"{r['name']:<28}{r['eager_ms']:>10.2f}{r['jit_ms']:>10.2f}{r['speedup']:>8.2f}x"
            f"{r['max_rel_loss_diff']:>19.1e}"
        )
    plot(rows, args.out)
    return rows


if __name__ == "__main__":
    main()
