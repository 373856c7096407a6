"""What ``SummaryWriter`` accepts wherever torch takes a tensor: ember tensors, NumPy arrays,
Python numbers and lists, as host NumPy arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

from ember.tensor import Tensor

__all__ = ["to_numpy", "to_float"]


def to_numpy(value: Any) -> np.ndarray:
    """``value`` as a NumPy array on the host (a GPU tensor is copied, autograd is dropped)."""
    if isinstance(value, Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def to_float(value: Any) -> float:
    """A one-element ``value`` as a Python float."""
    arr = to_numpy(value)
    if arr.size != 1:
        raise ValueError(f"expected a single number, got an array of shape {arr.shape}")
    return float(arr.reshape(()))
