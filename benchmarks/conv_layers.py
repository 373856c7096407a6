"""Per-layer speed of the convolution kernels: ``python -m benchmarks.conv_layers [--threads N]``.

For the 3 x 3 layers of the reference workloads (batch 128), the forward, data gradient and
weight gradient as ``ember.jit.conv_kernels`` runs them (the direct kernel where it applies)
next to im2col + BLAS (both native) and PyTorch's own kernels, in GFLOP/s, best of 5 after a
warm-up, every variant in one process; and the share of NumPy's measured float32 matmul peak
at the same thread count (the issue's utilisation goal: 60% for layers of >= 32 channels).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from unittest import mock

import numpy as np

from benchmarks.conv_micro import _best
from ember.bench.runner import peak_matmul_gflops, thread_limits
from ember.jit import conv_kernels
from ember.ops.conv import Conv, ConvTranspose, ConvWeight

# name: (input shape, weight shape, padding)
LAYERS = {
    "cnn conv2, 32 -> 64, 26 x 26": ((128, 32, 26, 26), (64, 32, 3, 3), 0),
    "resnet, 16 -> 16, 28 x 28": ((128, 16, 28, 28), (16, 16, 3, 3), 1),
    "resnet, 32 -> 32, 14 x 14": ((128, 32, 14, 14), (32, 32, 3, 3), 1),
    "resnet, 64 -> 64, 7 x 7": ((128, 64, 7, 7), (64, 64, 3, 3), 1),
    "ddpm, 32 -> 32, 28 x 28": ((128, 32, 28, 28), (32, 32, 3, 3), 1),
    "ddpm, 64 -> 32, 28 x 28": ((128, 64, 28, 28), (32, 64, 3, 3), 1),
    "ddpm, 64 -> 64, 14 x 14": ((128, 64, 14, 14), (64, 64, 3, 3), 1),
    "ddpm, 128 -> 64, 14 x 14": ((128, 128, 14, 14), (64, 128, 3, 3), 1),
}


def _kernel(prim: type, shapes: tuple, params: dict, direct: bool) -> Callable:
    """The native kernel ``conv_kernels`` builds (``direct``: as it chooses; else im2col)."""
    plan = conv_kernels._direct if direct else (lambda *a: None)
    with mock.patch.object(conv_kernels, "_direct", plan):
        source, (_, name, argtypes, bind) = conv_kernels._kernel(
            0, prim, list(shapes), np.dtype(np.float32), params
        )
        kernels = conv_kernels._library([source], [(0, name, argtypes, bind)])
    run = kernels.by_node[0]
    return lambda *arrays: run(np, *arrays, **params)


def _torch(kind: str, x: np.ndarray, w: np.ndarray, g: np.ndarray, pad: int) -> Callable:
    import torch

    tx, tw, tg = (torch.from_numpy(a) for a in (x, w, g))
    if kind == "forward":
        return lambda: torch.nn.functional.conv2d(tx, tw, padding=pad)
    if kind == "data gradient":
        return lambda: torch.nn.grad.conv2d_input(tx.shape, tw, tg, padding=pad)
    return lambda: torch.nn.grad.conv2d_weight(tx, tw.shape, tg, padding=pad)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    rng = np.random.default_rng(0)
    import torch

    with thread_limits(args.threads, torch):
        peak = peak_matmul_gflops(2048)
        print(f"{args.threads} thread(s), NumPy float32 matmul peak {peak:.0f} GFLOP/s")
        print("layer | kind | ember (direct where used) | im2col + BLAS | PyTorch | ember MFU")
        for label, (xs, ws, pad) in LAYERS.items():
            x = rng.standard_normal(xs).astype(np.float32)
            w = rng.standard_normal(ws).astype(np.float32)
            geom = {"stride": (1, 1), "padding": ((pad, pad),) * 2, "dilation": (1, 1)}
            out = (xs[0], ws[0], xs[2] + 2 * pad - 2, xs[3] + 2 * pad - 2)
            g = rng.standard_normal(out).astype(np.float32)
            flops = 2 * np.prod(out) * np.prod(ws[1:])
            cases = {
                "forward": (Conv, (xs, ws), geom, (x, w)),
                "data gradient": (ConvTranspose, (out, ws), dict(geom, size=xs[2:]), (g, w)),
                "weight gradient": (ConvWeight, (xs, out), dict(geom, kernel=ws[2:]), (x, g)),
            }
            for kind, (prim, shapes, params, arrays) in cases.items():
                rates = [
                    flops / _best(lambda f=f: f(*arrays)) / 1e6
                    for f in (_kernel(prim, shapes, params, d) for d in (True, False))
                ]
                rates.append(flops / _best(_torch(kind, x, w, g, pad)) / 1e6)
                cells = " | ".join(f"{r:.0f}" for r in rates)
                print(f"{label} | {kind} | {cells} | {rates[0] / peak:.0%}", flush=True)


if __name__ == "__main__":
    main()
