"""RAdam: Adam whose adaptive step is switched on, and rectified, once its variance is bounded."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ember.creation import zeros_like
from ember.dtypes import float64
from ember.ops.elementwise import where
from ember.optim.optimizer import Optimizer, decayed_grad, step_counter
from ember.tensor import Tensor

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam (Liu et al., 2020): plain momentum SGD while the approximated SMA length
    ``rho_t`` is at most 5, then Adam scaled by the variance rectification term.

    ``decoupled_weight_decay`` shrinks the parameters as AdamW does instead of adding an L2
    term. ``foreach`` and ``capturable`` change nothing here (see ``ember.optim.optimizer``);
    the switch is a ``where`` on the step tensor, so a compiled step takes it too.
    """

    _non_negative = (
        ("lr", "learning rate"),
        ("eps", "epsilon value"),
        ("weight_decay", "weight_decay value"),
    )

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            decoupled_weight_decay=decoupled_weight_decay,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": step_counter(p), "exp_avg": zeros_like(p), "exp_avg_sq": zeros_like(p)}

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict) -> None:
        beta1, beta2 = group["betas"]
        grad = decayed_grad(p, grad, group)
        step = state["step"].add_(1).to(float64)
        exp_avg = state["exp_avg"].lerp_(grad, 1 - beta1)
        exp_avg_sq = state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        update = exp_avg / (1 - beta1**step) * group["lr"]
        rho_inf = 2 / (1 - beta2) - 1
        if rho_inf > 5:  # else rho_t < rho_inf stays at most 5: never rectified
            correction2 = 1 - beta2**step
            rho_t = rho_inf - 2 * step * beta2**step / correction2
            ratio = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            rect = ratio.clamp(min=0) ** 0.5  # negative only where rho_t <= 5 (unused there)
            adaptive = correction2**0.5 / (exp_avg_sq.sqrt() + group["eps"])
            update = where(rho_t > 5, update * adaptive * rect, update)
        p.sub_(update)
