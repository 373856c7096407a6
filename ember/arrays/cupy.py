"""The CUDA backend: CuPy arrays (imported lazily; CuPy is an optional extra)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _import_cupy() -> Any:
    try:
        import cupy
    except ImportError as exc:
        raise ImportError(
            "ember: the CUDA backend needs CuPy; install it with `pip install cupy-cuda12x`"
        ) from exc
    return cupy


class CupyBackend:
    """Arrays on an NVIDIA GPU, computed by CuPy."""

    name = "cuda"

    def __init__(self) -> None:
        self.xp = _import_cupy()

    def available(self) -> bool:
        try:
            return self.xp.cuda.runtime.getDeviceCount() > 0
        except Exception:  # noqa: BLE001 - no driver is the same as no GPU
            return False

    def device(self, array: Any) -> Any:
        from ember.arrays import Device

        return Device("cuda", array.device.id)

    def asarray(self, data: Any, dtype: Any = None) -> Any:
        return self.xp.asarray(data, dtype=dtype)

    def to_host(self, array: Any) -> np.ndarray:
        return self.xp.asnumpy(array)

    def sync(self) -> None:
        self.xp.cuda.get_current_stream().synchronize()

    def scatter_add(self, target: Any, index: Any, values: Any) -> None:
        """``target[index] += values`` with repeats accumulating (``cupyx.scatter_add`` is
        deprecated in favour of ``cupy.add.at``)."""
        self.xp.add.at(target, index, values)

    def special(self) -> Any:
        """``cupyx.scipy.special`` (erf, …), ships with CuPy."""
        import cupyx.scipy.special

        return cupyx.scipy.special
