"""Conv/pool micro-benchmark: the reference ``cnn`` block, ember next to PyTorch (2 threads).

Conv2d(1, 32, 3) - ReLU - Conv2d(32, 64, 3) - ReLU - MaxPool2d(2) on x [128, 1, 28, 28],
forward + backward. Run: ``python benchmarks/conv_micro.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

import ember
from ember.ops import conv as F


def _best(fn: Callable[[], object], repeats: int = 5) -> float:
    """Best wall time of ``repeats`` calls (after one warm-up), in milliseconds."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def main() -> None:
    import torch

    torch.set_num_threads(2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 1, 28, 28)).astype(np.float32)
    w1 = rng.standard_normal((32, 1, 3, 3)).astype(np.float32) / 3
    b1 = np.zeros(32, np.float32)
    w2 = rng.standard_normal((64, 32, 3, 3)).astype(np.float32) / 17
    b2 = np.zeros(64, np.float32)

    ep = [ember.tensor(a, requires_grad=True) for a in (w1, b1, w2, b2)]
    ex = ember.tensor(x)
    tp = [torch.tensor(a, requires_grad=True) for a in (w1, b1, w2, b2)]
    tx = torch.tensor(x)

    def step(lib, fn, xs, ps) -> Callable[[], None]:
        def run() -> None:
            h = fn.relu(fn.conv2d(xs, ps[0], ps[1]))
            h = fn.relu(fn.conv2d(h, ps[2], ps[3]))
            fn.max_pool2d(h, 2).sum().backward()

        return run

    class _EmberF:
        conv2d = staticmethod(F.conv2d)
        max_pool2d = staticmethod(F.max_pool2d)
        relu = staticmethod(ember.relu)

    e_ms = _best(step(ember, _EmberF, ex, ep))
    t_ms = _best(step(torch, torch.nn.functional, tx, tp))
    print(
        f"cnn block fwd+bwd  ember {e_ms:7.1f} ms   torch {t_ms:7.1f} ms   ratio {e_ms / t_ms:.2f}"
    )


if __name__ == "__main__":
    main()
