"""The CPU backend: NumPy arrays."""

from __future__ import annotations

from typing import Any

import numpy as np


class NumpyBackend:
    """Arrays on the host, computed by NumPy."""

    name = "cpu"
    xp = np

    def available(self) -> bool:
        return True

    def device(self, array: Any) -> Any:
        from ember.arrays import CPU_DEVICE

        return CPU_DEVICE

    def asarray(self, data: Any, dtype: Any = None) -> np.ndarray:
        return np.asarray(data, dtype=dtype)

    def to_host(self, array: Any) -> np.ndarray:
        return np.asarray(array)

    def sync(self) -> None:
        """NumPy is synchronous."""

    def scatter_add(self, target: np.ndarray, index: Any, values: Any) -> None:
        """``target[index] += values`` with repeated indices accumulating."""
        np.add.at(target, index, values)

    def special(self) -> Any:
        """``scipy.special`` (erf, …), or None when SciPy is not installed."""
        try:
            import scipy.special
        except ImportError:
            return None
        return scipy.special
