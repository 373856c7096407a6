"""Gradient clipping: rescale by the total norm, or clamp each value."""

from __future__ import annotations

from collections.abc import Iterable

from ember.autograd import no_grad
from ember.creation import tensor
from ember.ops.movement import stack
from ember.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad for p in params if p.grad is not None]


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    """Scale all gradients together so that their joint ``norm_type`` norm is <= ``max_norm``.

    Returns the total norm before clipping (a 0-d tensor).

    >>> import ember
    >>> from ember.nn.clip_grad import clip_grad_norm_
    >>> w = ember.zeros(2, requires_grad=True)
    >>> w.grad = ember.tensor([3.0, 4.0])
    >>> clip_grad_norm_([w], 1.0)
    tensor(5.)
    """
    grads = _grads(parameters)
    if not grads:
        return tensor(0.0)
    norm_type = float(norm_type)
    with no_grad():
        norms = [g.norm(norm_type) for g in grads]
        total = norms[0] if len(norms) == 1 else stack(norms).norm(norm_type)
        if error_if_nonfinite and not total.isfinite().item():
            raise RuntimeError(
                f"clip_grad_norm_: the total norm of order {norm_type} for gradients from "
                "`parameters` is non-finite, so it cannot be clipped\n"
                "hint: pass error_if_nonfinite=False to clip anyway (the gradients become NaN)"
            )
        coef = (max_norm / (total + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.to(g.dtype))
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient value into [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)
