"""Tensors: shapes, dtypes, views and broadcasting, and why one call on a whole tensor wins.

A tensor is an n-dimensional array with a dtype, a shape and strides (how far to step in
memory along each dimension). A transpose or a reshape is a new view of the same memory;
broadcasting stretches size-1 dimensions without copying. The script prints each of these,
then times a pairwise-distance matrix computed point by point in Python against the same
matrix from one broadcast expression, and writes a figure.

    python examples/tensors.py            # a few seconds
    python examples/tensors.py --fast     # tiny sizes (CI)
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from common import parse_args, save_figure

import ember
from ember.diagnostics.plots import pyplot


def distances_loop(points: ember.Tensor) -> ember.Tensor:
    """Pairwise Euclidean distances, one pair at a time (what not to do)."""
    n = points.shape[0]
    out = ember.zeros(n, n)
    for i in range(n):
        for j in range(n):
            out[i, j] = ((points[i] - points[j]) ** 2).sum().sqrt()
    return out


def distances_broadcast(points: ember.Tensor) -> ember.Tensor:
    """Pairwise Euclidean distances: (n, 1, d) - (1, n, d) broadcasts to (n, n, d)."""
    diff = points[:, None, :] - points[None, :, :]
    return (diff**2).sum(-1).sqrt()


def seconds(fn: Any, arg: ember.Tensor) -> float:
    """The best of three timings of ``fn(arg)``."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        fn(arg)
        best = min(best, time.perf_counter() - start)
    return best


def basics() -> dict[str, Any]:
    """Shape, dtype, strides, a view sharing memory, promotion and broadcasting, printed."""
    a = ember.arange(12.0).reshape(3, 4)
    t = a.t()
    print(f"a = arange(12.).reshape(3, 4): shape {tuple(a.shape)}, dtype {a.dtype}")
    print(f"  strides {a.stride()}, contiguous {a.is_contiguous()}")
    print(f"a.t(): shape {tuple(t.shape)}, strides {t.stride()}, contiguous {t.is_contiguous()}")
    t[0, 1] = -1.0  # writes through the view into a
    print(f"after a.t()[0, 1] = -1: a[1, 0] = {a[1, 0].item()} (the same memory)")
    promoted = {
        "int64 * 2.5": (ember.tensor([1, 2]) * 2.5).dtype,
        "float16 + float32": (ember.ones(2, dtype=ember.float16) + ember.ones(2)).dtype,
        "int64 + bool": (ember.tensor([1, 2]) + ember.tensor([True, False])).dtype,
    }
    for expr, dtype in promoted.items():
        print(f"dtype of {expr:<18} -> {dtype}")
    column, row = ember.arange(3.0).reshape(3, 1), ember.arange(4.0)
    grid = column * 10 + row
    print(f"(3, 1) * 10 + (4,) broadcasts to {tuple(grid.shape)}:")
    print(grid)
    return {"view_shares_memory": a[1, 0].item() == -1.0, "promoted": promoted, "grid": grid}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(__doc__, "tensors.png", argv)
    result = basics()
    ember.manual_seed(0)
    sizes = (4, 8, 16) if args.fast else (8, 16, 32, 64)
    rows = []
    print(f"\n{'points':>6}{'loop ms':>12}{'broadcast ms':>15}{'speed-up':>10}{'max diff':>10}")
    for n in sizes:
        points = ember.randn(n, 2)
        loop, vec = seconds(distances_loop, points), seconds(distances_broadcast, points)
        diff = (distances_loop(points) - distances_broadcast(points)).abs().max().item()
        rows.append({"n": n, "loop_s": loop, "broadcast_s": vec, "max_diff": diff})
        print(f"{n:>6}{loop * 1e3:>12.2f}{vec * 1e3:>15.3f}{loop / vec:>9.0f}x{diff:>10.1e}")
    plot(result["grid"].numpy(), rows, args.out)
    return {**result, "rows": rows}


def plot(grid: np.ndarray, rows: list[dict[str, float]], path: str) -> None:
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.imshow(grid, cmap="viridis")
    for (i, j), v in np.ndenumerate(grid):
        ax1.text(j, i, f"{v:g}", ha="center", va="center", color="w")
    ax1.set_xticks(range(grid.shape[1]))
    ax1.set_yticks(range(grid.shape[0]))
    ax1.set(title="column (3, 1) × 10 + row (4,) → (3, 4)", xlabel="row index", ylabel="column")
    n = [r["n"] for r in rows]
    ax2.plot(n, [r["loop_s"] * 1e3 for r in rows], "o-", label="Python loop over pairs")
    ax2.plot(n, [r["broadcast_s"] * 1e3 for r in rows], "o-", label="one broadcast expression")
    ax2.set(xscale="log", yscale="log", xlabel="points", ylabel="ms", title="pairwise distances")
    ax2.legend()
    save_figure(fig, path)


if __name__ == "__main__":
    main()
