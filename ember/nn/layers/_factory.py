"""Helpers shared by the layer files (not public)."""

from __future__ import annotations

from typing import Any

from ember.creation import empty
from ember.nn.parameter import Parameter


def new_parameter(*shape: int, device: Any = None, dtype: Any = None) -> Parameter:
    """An uninitialised (zero) parameter; the layer's ``reset_parameters`` fills it."""
    return Parameter(empty(*shape, device=device, dtype=dtype))


def ntuple(value: Any, n: int) -> tuple:
    """``value`` repeated ``n`` times unless it already is a sequence (PyTorch's _ntuple)."""
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,) * n
