"""Rprop: per-coordinate step sizes that grow while the gradient keeps its sign."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ember.creation import ones_like, zeros_like
from ember.ops.elementwise import where
from ember.optim.optimizer import Optimizer, step_counter
from ember.tensor import Tensor

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Resilient backpropagation (Riedmiller & Braun, 1993), the variant PyTorch runs.

    Each step size is multiplied by ``etas[1]`` when the gradient keeps its sign, by
    ``etas[0]`` when it flips (and that coordinate then skips its move and forgets the
    gradient), and clamped to ``step_sizes``; the parameter moves by the step size against the
    gradient's sign. ``foreach`` and ``capturable`` change nothing here (see
    ``ember.optim.optimizer``).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            etas=tuple(etas),
            step_sizes=tuple(step_sizes),
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        minus, plus = group["etas"]
        if not 0.0 < minus < 1.0 < plus:
            raise ValueError(f"Rprop: Invalid eta values: {minus}, {plus}")

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {
            "step": step_counter(p),
            "prev": zeros_like(p),
            "step_size": zeros_like(p).fill_(group["lr"]),  # a traced 0-d lr too
        }

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict) -> None:
        minus, plus = group["etas"]
        if group["maximize"]:
            grad = -grad
        state["step"].add_(1)
        sign = (grad * state["prev"]).sign()
        factor = where(sign > 0, plus, where(sign < 0, minus, ones_like(sign)))
        step_size = state["step_size"].mul_(factor).clamp_(*group["step_sizes"])
        grad = where(sign < 0, 0.0, grad)
        p.addcmul_(grad.sign(), step_size, value=-1)
        state["prev"].copy_(grad)
