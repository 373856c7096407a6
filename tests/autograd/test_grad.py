"""autograd.grad: higher order via create_graph, allow_unused, grad_outputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ember
from ember import autograd


def _derivatives(fn, x0: float, order: int) -> list[float]:
    x = ember.tensor(x0, dtype=ember.float64, requires_grad=True)
    y, out = fn(x), []
    for k in range(order):
        (y,) = autograd.grad(y, x, create_graph=k < order - 1)
        out.append(y.item())
    return out


@pytest.mark.parametrize(
    "fn,analytic",
    [
        (lambda x: x**3, lambda x: [3 * x**2, 6 * x, 6.0]),
        (lambda x: x.sin(), lambda x: [math.cos(x), -math.sin(x), -math.cos(x)]),
        (lambda x: x.exp() * x, lambda x: [math.exp(x) * (x + k) for k in (1, 2, 3)]),
        (lambda x: x.tanh(), lambda x: _tanh_derivatives(x)),
        (lambda x: 1 / x, lambda x: [-(x**-2), 2 * x**-3, -6 * x**-4]),
    ],
    ids=["cube", "sin", "xexp", "tanh", "reciprocal"],
)
def test_higher_order_derivatives(fn, analytic) -> None:
    x0 = 0.7
    np.testing.assert_allclose(_derivatives(fn, x0, 3), analytic(x0), rtol=1e-10)


def _tanh_derivatives(x: float) -> list[float]:
    t = math.tanh(x)
    return [1 - t**2, -2 * t * (1 - t**2), (1 - t**2) * (6 * t**2 - 2)]


def test_create_graph_result_requires_grad_only_when_asked() -> None:
    x = ember.tensor(2.0, requires_grad=True)
    (g,) = autograd.grad(x**2, x)
    assert not g.requires_grad and x.grad is None
    (g,) = autograd.grad(x**2, x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None


def test_backward_create_graph_then_backward_through_grad() -> None:
    e = ember.tensor([0.3, -1.2], dtype=ember.float64, requires_grad=True)
    t = torch.tensor([0.3, -1.2], dtype=torch.float64, requires_grad=True)
    for x, grad in [(e, autograd.grad), (t, torch.autograd.grad)]:
        (g,) = grad((x.sin() * x).sum(), x, create_graph=True)
        (g * g).sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-12)


def test_allow_unused() -> None:
    x = ember.tensor(1.0, requires_grad=True)
    z = ember.tensor(1.0, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"input 1\) appears to not have been used"):
        autograd.grad(x * 2, [x, z])
    gx, gz = autograd.grad(x * 2, [x, z], allow_unused=True)
    assert gx.item() == 2.0 and gz is None
    _, gz = autograd.grad(x * 2, [x, z], materialize_grads=True)
    assert gz.item() == 0.0


def test_grad_outputs_and_multiple_outputs() -> None:
    vals, gv = [[1.0, 2.0], [3.0, 4.0]], [[1.0, 0.5], [-1.0, 2.0]]
    e = ember.tensor(vals, dtype=ember.float64, requires_grad=True)
    t = torch.tensor(vals, dtype=torch.float64, requires_grad=True)
    ge = autograd.grad(
        [e.exp(), e.sum()], e, grad_outputs=[ember.tensor(gv, dtype=ember.float64), None]
    )
    gt = torch.autograd.grad(
        [t.exp(), t.sum()], t, grad_outputs=[torch.tensor(gv, dtype=torch.float64), None]
    )
    np.testing.assert_allclose(ge[0].numpy(), gt[0].numpy(), rtol=1e-12)
    with pytest.raises(ValueError, match="grad: got 1 gradients for 2 outputs"):
        autograd.grad([e.exp(), e.sum()], e, grad_outputs=[ember.ones(2, 2)])


def test_grad_does_not_touch_dot_grad_and_checks_inputs() -> None:
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    autograd.grad((x * x).sum(), x)
    assert x.grad is None
    with pytest.raises(RuntimeError, match="grad: input 0 does not require grad"):
        autograd.grad((x * x).sum(), ember.ones(2))


def test_grad_with_respect_to_intermediate() -> None:
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    (gy,) = autograd.grad((y * y).sum(), y)
    assert gy.tolist() == [6.0, 12.0]
