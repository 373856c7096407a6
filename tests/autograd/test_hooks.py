"""Tensor hooks and retain_grad."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember


def test_leaf_hook_modifies_gradient_and_can_be_removed() -> None:
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = x.register_hook(lambda g: g * 2)
    x.register_hook(lambda g: seen.append(g.tolist()))
    (x * 3).sum().backward()
    assert x.grad.tolist() == [6.0, 6.0] and seen == [[6.0, 6.0]]
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_non_leaf_hook_and_retain_grad_match_torch() -> None:
    results = []
    for m in (ember, torch):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        handle = y.register_hook(lambda g: g * 10)
        y.retain_grad()
        (y * y).sum().backward()
        results.append((x.grad.tolist(), y.grad.tolist()))
        handle.remove()
        x.grad = None
        z = x * 2
        (z * z).sum().backward()
        results.append((x.grad.tolist(),))
    assert results[:2] == results[2:]


def test_retain_grad() -> None:
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    assert not y.retains_grad
    y.retain_grad()
    assert y.retains_grad
    y.sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [1.0, 1.0])
    z = x.exp()
    z.sum().backward()
    assert z.grad is None
    with pytest.raises(RuntimeError, match="can't retain_grad on Tensor that has requires_grad"):
        ember.ones(2).retain_grad()


def test_hook_on_tensor_without_grad() -> None:
    with pytest.raises(RuntimeError, match="cannot register a hook on a tensor that doesn't"):
        ember.ones(2).register_hook(lambda g: g)
