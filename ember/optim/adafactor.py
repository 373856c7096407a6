"""Adafactor: a second moment factored into row and column means, and a relative step size."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ember.creation import zeros, zeros_like
from ember.dtypes import finfo, float64
from ember.optim.optimizer import Optimizer, step_counter
from ember.tensor import Tensor

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern, 2018) as PyTorch 2.13 defines it.

    Step ``t`` averages the squared gradient with weight ``t ** beta2_decay`` (the first step
    takes it whole). A parameter of two or more dimensions keeps only the means over its last
    dimension (``row_var``) and over the one before it (``col_var``); their outer product over
    the mean of the row factor (at least ``eps1``) stands in for the full second moment. A
    vector or a scalar keeps the full ``variance``. The update ``grad / sqrt(v)`` (v at least
    ``eps1 ** 2``) is scaled down to an RMS of at most ``d`` and applied with the relative step
    ``max(eps2, RMS(p)) * min(lr, 1 / sqrt(t))``. ``weight_decay`` shrinks p by
    ``1 - lr * weight_decay`` (decoupled), after its RMS is read. ``eps1=None`` means the
    machine epsilon of the parameter's dtype.

    ``lr`` only caps the relative step (and scales the weight decay). ``foreach`` changes
    nothing here (see ``ember.optim.optimizer``); the step count stays a tensor that the rule
    never reads on the host, so a compiled step takes the same rule.
    """

    _non_negative = ()  # _validate gives PyTorch's messages

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 1e-2,
        beta2_decay: float = -0.8,
        eps: tuple[float | None, float] = (None, 1e-3),
        d: float = 1.0,
        weight_decay: float = 0.0,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            beta2_decay=beta2_decay,
            eps=tuple(eps),
            d=d,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        lr, eps1, eps2 = group["lr"], *group["eps"]
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Adafactor: Tensor lr must be 1-element")
        checks = [
            (0.0 <= lr, f"Learning rate should be >= 0 but is: {lr}"),
            (
                0.0 >= group["beta2_decay"],
                f"beta2_decay should be <= 0 but is: {group['beta2_decay']}",
            ),
            (eps1 is None or 0.0 <= eps1, f"epsilon1 should be >= 0 but is: {eps1}"),
            (0.0 <= eps2, f"epsilon2 should be >= 0 but is: {eps2}"),
            (1.0 <= group["d"], f"Clipping threshold d should be >= 1 but is: {group['d']}"),
            (
                0.0 <= group["weight_decay"],
                f"weight_decay should be >= 0 but is: {group['weight_decay']}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"Adafactor: {message}")

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        if p.dim() < 2:
            return {"step": step_counter(p), "variance": zeros_like(p)}
        shape = tuple(p.shape)
        return {
            "step": step_counter(p),
            "row_var": zeros(shape[:-1] + (1,), dtype=p.dtype, device=p.device),
            "col_var": zeros(shape[:-2] + (1, shape[-1]), dtype=p.dtype, device=p.device),
        }

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict) -> None:
        lr, wd = group["lr"], group["weight_decay"]
        eps1, eps2 = group["eps"]
        if eps1 is None:
            eps1 = finfo(p.dtype).eps
        if group["maximize"]:
            grad = -grad
        step = state["step"].add_(1).to(float64)
        weight = step ** group["beta2_decay"]  # 1 - beta2_t, in float64 as the host would
        rho = (1 / step**0.5).clamp(max=lr)
        alpha = (p.norm().to(float64) / p.numel() ** 0.5).clamp(min=eps2) * rho
        if wd != 0:
            p.mul_(1 - lr * wd)
        squared = grad * grad
        if "variance" in state:
            var = state["variance"].lerp_(squared, weight).clone()
        else:
            row = state["row_var"].lerp_(squared.mean(dim=-1, keepdim=True), weight)
            col = state["col_var"].lerp_(squared.mean(dim=-2, keepdim=True), weight)
            var = (row @ col) / row.mean(dim=-2, keepdim=True).clamp(min=eps1)
        update = var.clamp(min=eps1 * eps1).rsqrt() * grad
        rms = update.norm().to(float64) / (update.numel() ** 0.5 * group["d"])
        p.sub_(update * (alpha / rms.clamp(min=1.0)))
