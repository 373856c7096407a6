"""The weight gradient of ``x @ weight.mT`` (nn.Linear) arrives in the weight's row-major
layout: the same values as the plain ``x.mT @ g`` form and as PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import ember
from ember.ops.linalg import _grad_of_second

RNG = np.random.default_rng(0)
X = RNG.standard_normal((16, 7)).astype(np.float32)
W = RNG.standard_normal((5, 7)).astype(np.float32)
G = RNG.standard_normal((16, 5)).astype(np.float32)


def _weight_grad(module: Any, x: np.ndarray, w: np.ndarray) -> Any:
    w = module.tensor(w, requires_grad=True)
    (module.tensor(x) @ w.mT).backward(module.tensor(G))
    return w.grad


def test_a_transposed_operands_gradient_is_the_transpose_of_a_row_major_product() -> None:
    x, w, g = ember.tensor(X), ember.tensor(W), ember.tensor(G)
    got = _grad_of_second(g, x, w.mT)
    assert tuple(got.shape) == (7, 5) and got.mT.is_contiguous()  # W's layout once transposed
    np.testing.assert_array_equal(got.numpy(), (G.T @ X).T)  # the product it is computed as
    np.testing.assert_allclose(got.numpy(), X.T @ G, rtol=1e-6)  # the plain form
    plain = _grad_of_second(g, x, ember.tensor(W.T.copy()))  # a row-major operand: plain form
    assert plain.is_contiguous()
    np.testing.assert_array_equal(plain.numpy(), X.T @ G)


def test_linear_weight_grad_matches_torch() -> None:
    grad = _weight_grad(ember, X, W)
    assert grad.is_contiguous()
    np.testing.assert_allclose(grad.numpy(), _weight_grad(torch, X, W).numpy(), rtol=1e-5)


def test_nn_linear_and_other_operands_keep_their_gradients() -> None:
    """nn.Linear's weight; a row-major second operand and a batched first operand take the
    plain form: each matches PyTorch."""
    lin = ember.nn.Linear(7, 5)
    lin.weight.data = ember.tensor(W)
    lin(ember.tensor(X)).backward(ember.tensor(G))
    assert lin.weight.grad.is_contiguous()
    np.testing.assert_allclose(lin.weight.grad.numpy(), G.T @ X, rtol=1e-6)
    for x, b in ((X, W.T.copy()), (np.stack([X, 2 * X]), W.T.copy()), (np.stack([X, X]), W.T)):
        grads = []
        for m in (ember, torch):
            bt = m.tensor(b, requires_grad=True)
            (m.tensor(x) @ bt).sum().backward()
            grads.append(bt.grad.numpy())
        np.testing.assert_allclose(grads[0], grads[1], rtol=1e-5)
