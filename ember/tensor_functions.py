"""torch's function spellings of a few Tensor methods (``rsub``, ``numel``, ``detach``,
``fill``) and the legacy inclusive ``range``."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ember import dtypes
from ember.creation import from_host, full, zeros_like
from ember.ops.elementwise import sub, where
from ember.tensor import Tensor

__all__ = ["rsub", "numel", "detach", "fill", "range"]


def _check_tensor(op: str, input: Any) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(
            f"{op}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}"
        )


def rsub(input: Tensor, other: Any, alpha: Any = 1) -> Tensor:
    """``other - alpha * input`` (subtraction with the operands swapped)."""
    _check_tensor("rsub", input)
    return sub(other, input, alpha=alpha)


def numel(input: Tensor) -> int:
    """The number of elements of ``input``."""
    _check_tensor("numel", input)
    return input.numel()


def detach(input: Tensor) -> Tensor:
    """``input`` cut from the autograd graph (shares its memory)."""
    _check_tensor("detach", input)
    return input.detach()


def fill(input: Tensor, value: Any) -> Tensor:
    """A new tensor shaped and typed like ``input`` holding ``value`` (a number or a 0-d
    tensor); gradients reach ``value``, and ``input`` gets zeros."""
    _check_tensor("fill", input)
    if isinstance(value, Tensor) and value.ndim != 0:
        raise RuntimeError(
            f"fill: only supports a 0-dimension value tensor but got tensor with {value.ndim} "
            "dimensions."
        )
    if isinstance(value, Tensor):
        value = value.to(input.dtype)
    else:
        value = full((), value, dtype=input.dtype, device=input.device)
    return where(zeros_like(input, dtype=dtypes.bool_), input, value)


def range(  # noqa: A001 - torch's name
    start: float,
    end: float,
    step: float = 1,
    *,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """``start, start + step, …`` up to and including ``end`` (deprecated in torch too: it
    differs from Python's ``range``; use ``arange``). The default dtype is the default float."""
    warnings.warn(
        "ember.range is deprecated and will be removed in a future release because its "
        "behavior is inconsistent with Python's range builtin. Instead, use ember.arange, "
        "which produces values in [start, end).",
        UserWarning,
        stacklevel=2,
    )
    if step == 0:
        raise RuntimeError("range: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(
            "range: upper bound and lower bound inconsistent with step sign "
            f"(start={start}, end={end}, step={step})"
        )
    d = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
    n = int(np.floor((end - start) / step)) + 1
    values = start + np.arange(n, dtype=np.float64) * step
    return from_host(values.astype(d.np), dtype=d, device=device, requires_grad=requires_grad)
