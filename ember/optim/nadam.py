"""NAdam: Adam with Nesterov momentum and a warming-up momentum schedule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ember.creation import zeros_like
from ember.dtypes import float64
from ember.optim.optimizer import Optimizer, decayed_grad, scalar_state, step_counter
from ember.tensor import Tensor

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam (Dozat, 2016): momentum ``beta1 * (1 - 0.5 * 0.96 ** (step * momentum_decay))``.

    ``decoupled_weight_decay`` shrinks the parameters as AdamW does (NAdamW) instead of adding
    an L2 term. ``foreach`` and ``capturable`` change nothing here (see
    ``ember.optim.optimizer``).
    """

    _scalar_state = ("step", "mu_product")
    _non_negative = (
        ("lr", "learning rate"),
        ("eps", "epsilon value"),
        ("weight_decay", "weight_decay value"),
        ("momentum_decay", "momentum_decay value"),
    )

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum_decay: float = 4e-3,
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
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {
            "step": step_counter(p),
            "mu_product": scalar_state(p, 1.0),
            "exp_avg": zeros_like(p),
            "exp_avg_sq": zeros_like(p),
        }

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict) -> None:
        beta1, beta2 = group["betas"]
        lr, decay = group["lr"], group["momentum_decay"]
        grad = decayed_grad(p, grad, group)
        step = state["step"].add_(1).to(float64)
        mu = beta1 * (1 - 0.5 * 0.96 ** (step * decay))
        mu_next = beta1 * (1 - 0.5 * 0.96 ** ((step + 1) * decay))
        # the product is float32 state, multiplied in float32 as PyTorch does
        product = state["mu_product"].mul_(mu.to(state["mu_product"].dtype)).to(float64)
        exp_avg = state["exp_avg"].lerp_(grad, 1 - beta1)
        exp_avg_sq = state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        denom = (exp_avg_sq / (1 - beta2**step)).sqrt() + group["eps"]
        p.addcdiv_(grad, denom, value=-lr * (1 - mu) / (1 - product))
        p.addcdiv_(exp_avg, denom, value=-lr * mu_next / (1 - product * mu_next))
