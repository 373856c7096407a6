"""Muon: momentum whose update is orthogonalised by a Newton–Schulz iteration (2-D params)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from ember.creation import zeros_like
from ember.dtypes import bfloat16
from ember.optim.optimizer import Optimizer
from ember.tensor import Tensor

__all__ = ["Muon"]

# the quintic's coefficients, its steps and eps from Keller Jordan's Muon (PyTorch's defaults)
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
NS_STEPS = 5
EPS = 1e-7
_ADJUST_LR_FNS = (None, "original", "match_rms_adamw")


def _bf16(x: Tensor) -> Tensor:
    """``x`` rounded to bfloat16, kept in float32 for the next product."""
    return x.to(bfloat16).float()


def orthogonalize(
    update: Tensor, ns_coefficients: tuple[float, float, float], ns_steps: int, eps: float
) -> Tensor:
    """About ``U Vᵀ`` of ``update = U S Vᵀ`` (in bfloat16): ``ns_steps`` quintic Newton–Schulz
    iterations on the matrix scaled to a Frobenius norm of at most 1, taken wide (more columns
    than rows) so the Gram matrix is the small one.

    The iteration runs in bfloat16 as PyTorch's does, each product and sum accumulated in
    float32 and rounded to bfloat16 once, as PyTorch's bfloat16 matmul kernels do.
    """
    a, b, c = ns_coefficients
    x = _bf16(update)
    tall = update.shape[0] > update.shape[1]
    if tall:
        x = x.T
    x = _bf16(x / _bf16(x.to(bfloat16).norm()).clamp(min=eps))
    for _ in range(ns_steps):
        gram = _bf16(x @ x.T)
        x = _bf16(a * x + _bf16(b * gram + c * (gram @ gram)) @ x)
    return (x.T if tall else x).to(bfloat16)


def _lr_ratio(adjust_lr_fn: str | None, shape: tuple[int, ...]) -> float:
    """The lr scale that gives the update a consistent RMS across matrix shapes: Keller
    Jordan's ``sqrt(max(1, rows / cols))`` or Moonshot's ``0.2 * sqrt(max(rows, cols))``
    (which matches AdamW's RMS, so AdamW's lr and weight decay carry over)."""
    rows, cols = shape[:2]
    if adjust_lr_fn == "match_rms_adamw":
        return 0.2 * math.sqrt(max(rows, cols))
    return math.sqrt(max(1, rows / cols))


class Muon(Optimizer):
    """Muon as PyTorch 2.13 defines it, for 2-D parameters (hidden layers' weights: train
    biases, embeddings and the like with e.g. AdamW).

    The momentum buffer moves towards the gradient (``buf ← buf + (1 - momentum)(g - buf)``);
    the update is that buffer (or with ``nesterov`` the gradient moved towards it by
    ``momentum``), orthogonalised by ``orthogonalize`` in bfloat16 (so Muon needs the
    bfloat16 dtype: ``pip install 'ember[bf16]'``). The parameter shrinks by
    ``1 - lr * weight_decay`` and steps by ``-lr * ratio`` along the update, ``ratio`` from
    ``adjust_lr_fn`` (None means ``"original"``).
    """

    _non_negative = ()  # _validate gives PyTorch's messages

    def __init__(
        self,
        params: Iterable[Any],
        lr: float | Tensor = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = NS_COEFFICIENTS,
        eps: float = EPS,
        ns_steps: int = NS_STEPS,
        adjust_lr_fn: str | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            weight_decay=weight_decay,
            momentum=momentum,
            nesterov=nesterov,
            ns_coefficients=ns_coefficients,
            eps=eps,
            ns_steps=ns_steps,
            adjust_lr_fn=adjust_lr_fn,
        )
        super().__init__(params, defaults)

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        lr = group["lr"]
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Muon: Tensor lr must be 1-element")
        checks = [
            (0.0 <= lr, f"Learning rate should be >= 0 but is: {lr}"),
            (0.0 <= group["momentum"], f"momentum should be >= 0 but is: {group['momentum']}"),
            (
                0.0 <= group["weight_decay"],
                f"weight decay should be >= 0 but is: {group['weight_decay']}",
            ),
            (
                group["adjust_lr_fn"] in _ADJUST_LR_FNS,
                f"Adjust learning rate function {group['adjust_lr_fn']} is not supported",
            ),
            (
                group["ns_steps"] < 100,
                "Number of steps must be less than 100 for computational efficiency",
            ),
            (
                len(group["ns_coefficients"]) == 3,
                "Coefficients must be a tuple of exactly 3 values",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"Muon: {message}")
        for p in group["params"]:
            if p.ndim != 2:
                raise ValueError(
                    "Muon: Muon only supports 2D parameters whereas we found a parameter with "
                    f"size: {tuple(p.shape)}"
                )

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"momentum_buffer": zeros_like(p)}

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict) -> None:
        lr, momentum = group["lr"], group["momentum"]
        buf = state["momentum_buffer"].lerp_(grad, 1 - momentum)
        update = grad.lerp(buf, momentum) if group["nesterov"] else buf
        update = orthogonalize(update, group["ns_coefficients"], group["ns_steps"], group["eps"])
        p.mul_(1 - lr * group["weight_decay"])
        p.sub_(update.to(p.dtype) * (lr * _lr_ratio(group["adjust_lr_fn"], tuple(p.shape))))
