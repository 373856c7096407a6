"""``prelu`` and ``hardshrink``: the activations that are also Tensor methods in torch, so they
live below ``Tensor`` (``ember.nn.functional`` re-exports them)."""

from __future__ import annotations

from typing import Any

from ember.ops import core
from ember.ops.elementwise import where

__all__ = ["prelu", "hardshrink"]


def _check_tensor(op: str, x: Any) -> None:
    if not isinstance(x, core._Tensor):
        raise TypeError(f"{op}: expected input to be an ember.Tensor, got {type(x).__name__}")


def prelu(input: Any, weight: Any) -> Any:
    """leaky_relu with a learned slope per channel (dim 1) or one shared slope."""
    _check_tensor("prelu", input)
    n = weight.numel()
    if n != 1 and (input.ndim < 2 or input.shape[1] != n):
        raise ValueError(
            f"prelu: weight has {n} slopes but input of shape {tuple(input.shape)} has "
            f"{input.shape[1] if input.ndim >= 2 else 1} channels (dim 1)"
        )
    slope = weight.reshape(n, *([1] * (input.ndim - 2))) if n != 1 else weight.reshape(())
    return where(input > 0, input, input * slope)


def hardshrink(input: Any, lambd: float = 0.5) -> Any:
    """x where |x| > lambd, else 0."""
    _check_tensor("hardshrink", input)
    return where(input.abs() > lambd, input, 0.0)


class ShrinkMethods:
    """Tensor methods of this family."""

    __slots__ = ()
    prelu = prelu
    hardshrink = hardshrink
