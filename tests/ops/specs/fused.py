"""Op database: fused primitives (each against a torch composite of the same maths)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ember.ops.fused import (
    batch_norm_stats,
    batch_norm_train,
    binary_cross_entropy_elementwise,
    cross_entropy_rows,
    lstm_sequence,
)
from tests.ops.specs import OpSpec, Sample, rand


def _torch_lstm_sequence(xproj, w_hh, h0, c0, reverse=False):
    n = h0.shape[-1]
    h, c, rows = h0, c0, [None] * xproj.shape[0]
    steps = range(xproj.shape[0])
    for t in reversed(steps) if reverse else steps:
        pre = xproj[t] + h @ w_hh.T
        i, f, o = (pre[:, k * n : (k + 1) * n].sigmoid() for k in (0, 1, 3))
        g = pre[:, 2 * n : 3 * n].tanh()
        c = f * c + i * g
        h = o * c.tanh()
        rows[t] = torch.cat([h, c, i, f, g, o], -1)
    return torch.stack(rows)


def _lstm_samples(rng):
    steps, batch, n = 3, 2, 3
    return [
        Sample(
            (
                rand(rng, steps, batch, 4 * n),
                rand(rng, 4 * n, n),
                rand(rng, batch, n),
                rand(rng, batch, n),
            ),
            {"reverse": reverse},
        )  # fmt: skip
        for reverse in (False, True)
    ]


def _torch_cross_entropy_rows(x, target, ignore_index=-100):
    return F.cross_entropy(x, target, ignore_index=ignore_index, reduction="none")


def _cross_entropy_rows_samples(rng):
    t = np.array([0, 3, 1, 3, 2, 4], np.int64)
    return [
        Sample((rand(rng, 6, 5), t), label="plain"),
        Sample((rand(rng, 6, 5, low=-30, high=30), t), {"ignore_index": 3}, label="ignored rows"),
        Sample((rand(rng, 1, 2), np.array([1], np.int64)), label="one row"),
    ]


def _batch_norm(x, w, b, eps=1e-5):
    """Training-mode batch norm through the fused pair (statistics, then normalise)."""
    return batch_norm_train(x, batch_norm_stats(x), w, b, eps)


def _torch_batch_norm(x, w, b, eps=1e-5):
    return F.batch_norm(x, None, None, w, b, training=True, eps=eps)


def _batch_norm_samples(rng):
    def case(x, **kw):
        c = x[1]
        args = (rand(rng, *x), rand(rng, c, low=0.5, high=1.5), rand(rng, c))
        return Sample(args, kw, label=f"x{x}")

    return [
        case((4, 3, 2, 3)),
        case((5, 2), eps=1e-3),  # BatchNorm1d on (N, C)
        case((3, 2, 4)),  # (N, C, L)
    ]


def _torch_bce(p, t):
    return F.binary_cross_entropy(p, t, reduction="none")


def _bce_samples(rng):
    return [
        Sample((rng.uniform(0.05, 0.95, (3, 4)), rng.uniform(0, 1, (3, 4))), label="interior"),
        Sample((rng.uniform(0.05, 0.95, (5,)), rng.integers(0, 2, 5).astype(float)), label="0/1"),
    ]


SPECS = [
    OpSpec(
        "batch_norm_train",
        _batch_norm,
        _torch_batch_norm,
        _batch_norm_samples,
        prims=("BatchNormStats", "BatchNormTrain"),
        second_order=True,
    ),
    OpSpec(
        "lstm_sequence",
        lstm_sequence,
        _torch_lstm_sequence,
        _lstm_samples,
        prims=("LSTMSequence", "LSTMSequenceGrad"),
    ),
    OpSpec(
        "cross_entropy_rows",
        cross_entropy_rows,
        _torch_cross_entropy_rows,
        _cross_entropy_rows_samples,
        prims=("CrossEntropyRows",),
        second_order=True,
    ),
    OpSpec(
        "binary_cross_entropy_elementwise",
        binary_cross_entropy_elementwise,
        _torch_bce,
        _bce_samples,
        prims=("BinaryCrossEntropy",),
        second_order=True,
    ),
]
