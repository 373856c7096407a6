"""``where`` on large NumPy arrays takes a branch-free bitwise path: it must give np.where's
exact bits (NaN, inf, -0.0, every dtype) with broadcasting, and the usual gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from ember.ops import elementwise

SIZE = elementwise._BITWISE_WHERE_MIN  # the smallest output the bitwise path takes


@pytest.mark.parametrize(
    "dtype", [np.float32, np.float64, np.float16, np.int64, np.int32, np.int8, np.bool_]
)
def test_bitwise_path_matches_np_where_bit_for_bit(dtype) -> None:
    rng = np.random.default_rng(0)
    shape = (4, SIZE // 4, 3)
    cond = rng.random((SIZE // 4, 1)) > 0.5  # broadcast over the first and last dims
    a = (rng.standard_normal(shape) * 50).astype(dtype)
    b = np.array(-0.0).astype(dtype)  # a 0-d operand, -0.0 for the float types
    if np.issubdtype(dtype, np.floating):
        a.flat[:3] = [np.nan, np.inf, -np.inf]
    out = ember.where(ember.tensor(cond), ember.tensor(a), ember.tensor(b)).numpy()
    expected = np.where(cond, a, b)
    assert out.dtype == expected.dtype and out.shape == expected.shape
    assert np.array_equal(out.view(np.uint8), expected.view(np.uint8))


def test_small_outputs_keep_np_where(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple] = []
    monkeypatch.setattr(elementwise, "_bitwise_where", lambda *args: calls.append(args))
    ember.where(ember.ones(SIZE - 1) > 0, ember.ones(SIZE - 1), ember.zeros(()))
    assert calls == []


def test_large_where_gradients_match_torch() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, SIZE // 8)).astype(np.float32)
    y = rng.standard_normal((SIZE // 8,)).astype(np.float32)
    ours = [ember.tensor(v, requires_grad=True) for v in (x, y)]
    ref = [torch.tensor(v, requires_grad=True) for v in (x, y)]
    (ember.where(ours[0] > 0, ours[0] * 2, ours[1]) ** 2).sum().backward()
    (torch.where(ref[0] > 0, ref[0] * 2, ref[1]) ** 2).sum().backward()
    for mine, theirs in zip(ours, ref):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), rtol=1e-6, atol=1e-6)
