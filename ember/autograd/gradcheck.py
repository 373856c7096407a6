"""Finite-difference gradient checks (central differences, float64)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["gradcheck", "gradgradcheck", "numerical_jacobian"]


def _tensors(inputs: Any) -> tuple:
    return tuple(inputs) if isinstance(inputs, (list, tuple)) else (inputs,)


def _flat_outputs(fn: Callable, inputs: tuple) -> list:
    out = fn(*inputs)
    return list(out) if isinstance(out, (list, tuple)) else [out]


def numerical_jacobian(fn: Callable, inputs: Sequence[Any], eps: float = 1e-6) -> list:
    """J[i][o] = d output o / d input i, by central differences, as (out.numel, in.numel)."""
    from ember.autograd.grad_mode import no_grad

    inputs = tuple(inputs)
    jac = []
    with no_grad():
        n_out = sum(o.numel() for o in _flat_outputs(fn, inputs))
        for x in inputs:
            if not getattr(x, "requires_grad", False):
                jac.append(None)
                continue
            data = x._data  # perturbed in place by index: reshape(-1) copies a strided array
            cols = []
            for k in np.ndindex(data.shape):
                orig = data[k].item()
                data[k] = orig + eps
                plus = [o._data.astype(np.float64).ravel() for o in _flat_outputs(fn, inputs)]
                data[k] = orig - eps
                minus = [o._data.astype(np.float64).ravel() for o in _flat_outputs(fn, inputs)]
                data[k] = orig
                cols.append(np.concatenate([(p - m) / (2 * eps) for p, m in zip(plus, minus)]))
            jac.append(np.stack(cols, axis=1) if cols else np.zeros((n_out, 0)))
    return jac


def _analytical_jacobian(fn: Callable, inputs: tuple) -> list:
    from ember.autograd import grad
    from ember.creation import zeros_like

    outs = [o for o in _flat_outputs(fn, inputs)]
    diff = [x for x in inputs if getattr(x, "requires_grad", False)]
    sizes = [o.numel() for o in outs]
    rows: list[list[np.ndarray]] = [[] for _ in diff]
    for oi, o in enumerate(outs):
        for k in range(sizes[oi]):
            if not o.requires_grad:
                for r, x in zip(rows, diff):
                    r.append(np.zeros(x.numel()))
                continue
            seed = zeros_like(o)
            seed._data.reshape(-1)[k] = 1
            gs = grad([o], diff, grad_outputs=[seed], retain_graph=True, allow_unused=True)
            for r, x, g in zip(rows, diff, gs):
                r.append(np.zeros(x.numel()) if g is None else g._data.astype(np.float64).ravel())
    return [np.stack(r, axis=0) if r else np.zeros((0, x.numel())) for r, x in zip(rows, diff)]


def gradcheck(
    fn: Callable,
    inputs: Any,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Compare autograd's Jacobian of ``fn`` at ``inputs`` with central differences."""
    inputs = _tensors(inputs)
    for x in inputs:
        if getattr(x, "requires_grad", False) and x.dtype.name != "float64":
            import warnings

            warnings.warn(
                f"gradcheck: input of dtype {x.dtype.name} is not float64; finite "
                "differences will be inaccurate",
                stacklevel=2,
            )
    numeric = [j for j in numerical_jacobian(fn, inputs, eps) if j is not None]
    analytic = _analytical_jacobian(fn, inputs)
    for i, (n, a) in enumerate(zip(numeric, analytic)):
        if n.shape != a.shape or not np.allclose(a, n, atol=atol, rtol=rtol):
            if raise_exception:
                worst = np.max(np.abs(a - n)) if n.shape == a.shape else float("nan")
                raise RuntimeError(
                    f"gradcheck: Jacobian mismatch for differentiable input {i}: max abs "
                    f"difference {worst:.3g}\nnumerical:\n{n}\nanalytical:\n{a}"
                )
            return False
    return True


def gradgradcheck(
    fn: Callable,
    inputs: Any,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """gradcheck of the first derivative (a fixed random vector-Jacobian product)."""
    from ember.autograd import grad
    from ember.creation import from_host

    inputs = _tensors(inputs)
    outs = _flat_outputs(fn, inputs)
    rng = np.random.default_rng(seed)
    cotangents = [from_host(rng.standard_normal(o.shape).astype(o._data.dtype)) for o in outs]
    diff_idx = [i for i, x in enumerate(inputs) if getattr(x, "requires_grad", False)]

    def first_derivative(*xs: Any) -> tuple:
        from ember.autograd.grad_mode import enable_grad, is_grad_enabled

        outer_grad = is_grad_enabled()  # off while gradcheck perturbs inputs numerically
        with enable_grad():
            ys = _flat_outputs(fn, xs)
            gs = grad(
                ys,
                [xs[i] for i in diff_idx],
                grad_outputs=cotangents,
                create_graph=outer_grad,
                allow_unused=True,
                materialize_grads=True,
            )
        return tuple(gs)

    return gradcheck(
        first_derivative, inputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception
    )
