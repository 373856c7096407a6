"""A stack of matrices times one matrix runs as one product of all the rows (one BLAS call):
the values of NumPy's per-matrix product, an array of its own, the gradient as before."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from ember.ops.linalg import MatMul

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("lead", [(3,), (2, 3), (1,), (0,)])
def test_forward_matches_the_per_matrix_product(lead: tuple, dtype: type) -> None:
    a = (RNG.standard_normal((*lead, 5, 7)) * 4).astype(dtype)
    b = (RNG.standard_normal((7, 6)) * 4).astype(dtype)
    got = MatMul.forward(np, a, b)
    want = np.matmul(a, b)
    assert got.shape == want.shape and got.dtype == want.dtype and got.base is None
    np.testing.assert_array_equal(got, want)


def test_transposed_weight_and_non_contiguous_stack() -> None:
    a = RNG.standard_normal((4, 8, 5)).astype(np.float32)
    w = RNG.standard_normal((6, 5)).astype(np.float32)
    np.testing.assert_array_equal(MatMul.forward(np, a, w.T), np.matmul(a, w.T))
    strided = a[:, ::2]  # not contiguous: NumPy's own loop over the matrices
    np.testing.assert_array_equal(MatMul.forward(np, strided, w.T), np.matmul(strided, w.T))


def test_linear_on_a_sequence_matches_torch_forward_and_backward() -> None:
    x = RNG.standard_normal((3, 10, 8)).astype(np.float32)
    w = RNG.standard_normal((4, 8)).astype(np.float32)
    outs, grads = [], []
    for m in (ember, torch):
        xt, wt = m.tensor(x, requires_grad=True), m.tensor(w, requires_grad=True)
        y = m.nn.functional.linear(xt, wt)
        (y * y).sum().backward()
        outs.append(y.detach().numpy())
        grads.append((xt.grad.numpy(), wt.grad.numpy()))
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-5)
    for g, want in zip(grads[0], grads[1]):
        np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-4)
