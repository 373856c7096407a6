"""Adagrad: per-coordinate learning rates from the running sum of squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ember.creation import full_like
from ember.dtypes import float64
from ember.optim.optimizer import Optimizer, step_counter
from ember.tensor import Tensor

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (Duchi et al., 2011) with PyTorch's lr decay: lr / (1 + (step - 1) lr_decay)."""

    _non_negative = (
        ("lr", "learning rate"),
        ("lr_decay", "lr_decay value"),
        ("weight_decay", "weight_decay value"),
        ("initial_accumulator_value", "initial_accumulator_value value"),
        ("eps", "epsilon value"),
    )

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            eps=eps,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": step_counter(p), "sum": full_like(p, group["initial_accumulator_value"])}

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict) -> None:
        if group["maximize"]:
            grad = -grad
        if group["weight_decay"] != 0:
            grad = grad + p * group["weight_decay"]
        step = state["step"].add_(1).to(float64)
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        std = state["sum"].addcmul_(grad, grad).sqrt() + group["eps"]
        p.addcdiv_(grad, std, value=-clr)
