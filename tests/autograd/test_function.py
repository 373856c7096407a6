"""Custom autograd.Function and gradcheck / gradgradcheck."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import autograd


class ScaledCube(autograd.Function):
    """y = scale * x**3 with a non-tensor argument; backward in ember ops (differentiable)."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return scale * x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * ctx.scale * x**2, None


class WrongSquare(autograd.Function):
    """A deliberately wrong backward (2x + 1 instead of 2x) that gradcheck must catch."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (2 * x + 1)


class WrongSecondOrder(autograd.Function):
    """Correct first derivative of x**3, but backward detaches x: second order is wrong."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x.detach() ** 2


class Mul(autograd.Function):
    """Records which inputs need a gradient."""

    seen: tuple = ()

    @staticmethod
    def forward(ctx, a, b):
        Mul.seen = ctx.needs_input_grad
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return (g * b if ctx.needs_input_grad[0] else None), (
            g * a if ctx.needs_input_grad[1] else None
        )


def _x(values=(0.5, -1.0, 2.0)) -> ember.Tensor:
    return ember.tensor(list(values), dtype=ember.float64, requires_grad=True)


def test_custom_function_forward_backward() -> None:
    x = _x()
    y = ScaledCube.apply(x, 2.0)
    assert y.grad_fn is not None and "ScaledCube" in repr(y.grad_fn)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 6.0 * x.detach().numpy() ** 2)


def test_custom_function_double_backward() -> None:
    x = _x()
    (g,) = autograd.grad(ScaledCube.apply(x, 2.0).sum(), x, create_graph=True)
    (gg,) = autograd.grad(g.sum(), x)
    np.testing.assert_allclose(gg.numpy(), 12.0 * x.detach().numpy())
    assert autograd.gradcheck(lambda t: ScaledCube.apply(t, 2.0), (_x(),))
    assert autograd.gradgradcheck(lambda t: ScaledCube.apply(t, 2.0), (_x(),))


def test_needs_input_grad() -> None:
    a, b = _x(), ember.tensor([1.0, 2.0, 3.0], dtype=ember.float64)
    Mul.apply(a, b).sum().backward()
    assert Mul.seen == (True, False)
    np.testing.assert_allclose(a.grad.numpy(), b.numpy())


def test_function_without_grad_inputs_records_nothing() -> None:
    y = ScaledCube.apply(ember.ones(2, dtype=ember.float64), 1.0)
    assert not y.requires_grad and y.grad_fn is None


def test_gradcheck_catches_wrong_backward() -> None:
    assert autograd.gradcheck(lambda t: t.sin() * t, (_x(),))
    with pytest.raises(
        RuntimeError, match="gradcheck: Jacobian mismatch for differentiable input 0"
    ):
        autograd.gradcheck(WrongSquare.apply, (_x(),))
    assert not autograd.gradcheck(WrongSquare.apply, (_x(),), raise_exception=False)


def test_gradgradcheck_catches_wrong_second_order() -> None:
    assert autograd.gradcheck(WrongSecondOrder.apply, (_x(),))
    with pytest.raises(RuntimeError, match="gradcheck: Jacobian mismatch"):
        autograd.gradgradcheck(WrongSecondOrder.apply, (_x(),))


def test_saved_tensor_modified_in_place() -> None:
    x = _x()
    h = x * 1.0
    y = ScaledCube.apply(h, 1.0)
    with ember.no_grad():
        h.mul_(2)
    with pytest.raises(RuntimeError, match="saved with save_for_backward was modified by an"):
        y.sum().backward()


def test_forward_must_return_tensor() -> None:
    class Bad(autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return [x]

    with pytest.raises(TypeError, match="Bad.forward must return a single Tensor, got list"):
        Bad.apply(_x())
