"""ASGD: SGD with a decaying step size and a running (Polyak) average of the parameters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ember.creation import zeros_like
from ember.dtypes import float64
from ember.ops.elementwise import where
from ember.optim.optimizer import Optimizer, decayed_grad, scalar_state, step_counter
from ember.tensor import Tensor

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """Averaged SGD (Polyak & Juditsky, 1992) as PyTorch runs it.

    The step size is ``eta = lr / (1 + lambd * lr * step) ** alpha``, the parameters shrink by
    ``1 - lambd * eta``, and ``state["ax"]`` averages them from step ``t0`` on (before that it
    tracks them). ``eta`` and ``mu`` (the averaging weight) are float32 0-d tensors as in
    PyTorch. ``foreach`` and ``capturable`` change nothing here (see ``ember.optim.optimizer``).
    """

    _scalar_state = ("step", "eta", "mu")
    _non_negative = (("lr", "learning rate"), ("weight_decay", "weight_decay value"))

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0.0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            lambd=lambd,
            alpha=alpha,
            t0=t0,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {
            "step": step_counter(p),
            "eta": scalar_state(p, group["lr"]),
            "mu": scalar_state(p, 1.0),
            "ax": zeros_like(p),
        }

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict) -> None:
        lr, lambd = group["lr"], group["lambd"]
        eta, mu, ax = state["eta"], state["mu"], state["ax"]
        grad = decayed_grad(p, grad, group)
        step = state["step"].add_(1).to(float64)
        eta_now = eta.to(float64)
        p.mul_(1 - lambd * eta_now)
        p.sub_(grad * eta_now)
        # mu == 1 (before t0) copies p: ax + (p - ax) * 1 can differ from p by rounding
        ax.copy_(where(mu == 1, p, ax + (p - ax) * mu))
        eta.copy_(lr / (1 + lambd * lr * step) ** group["alpha"])
        mu.copy_(1 / (step - group["t0"]).clamp(min=1))
