"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ember.optim.optimizer import Optimizer
from ember.tensor import Tensor

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD: ``p -= lr * d`` where d is the gradient, optionally through a momentum buffer.

    >>> import ember
    >>> w = ember.ones(2, requires_grad=True)
    >>> w.grad = ember.ones(2)
    >>> ember.optim.SGD([w], lr=0.5).step()
    >>> w
    tensor([0.5000, 0.5000], requires_grad=True)
    """

    _non_negative = (
        ("lr", "learning rate"),
        ("momentum", "momentum value"),
        ("weight_decay", "weight_decay value"),
    )

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening")

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict) -> None:
        d = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            d = d + p * group["weight_decay"]
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = d.clone()
            else:
                buf.mul_(momentum).add_(d, alpha=1 - group["dampening"])
            d = d + buf * momentum if group["nesterov"] else buf
        p.sub_(d * group["lr"])  # not alpha=: a jitted step passes lr as a 0-d tensor
