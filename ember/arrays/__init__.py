"""Array backends: where arrays live and the few operations that differ between NumPy and CuPy.

Kernels only ever see ``xp`` (numpy or cupy). Anything that is not spelled the same on both
(scatter-add, host transfer, synchronisation) is a Backend method, never an ``if`` in an op.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ember.arrays.numpy import NumpyBackend

__all__ = [
    "Backend",
    "Device",
    "device",
    "backend_of",
    "get_backend",
    "cuda_available",
    "get_default_device",
    "set_default_device",
]

Backend = NumpyBackend  # the protocol every backend implements; NumPy's is the reference

_CPU = NumpyBackend()
_cuda_backend: Any = None


class Device:
    """A device (``cpu`` or ``cuda[:i]``), printed and compared like ``torch.device``."""

    __slots__ = ("type", "index")

    def __init__(self, spec: str | Device = "cpu", index: int | None = None) -> None:
        if isinstance(spec, Device):
            self.type, self.index = spec.type, spec.index
            return
        kind, _, idx = str(spec).partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"device: unknown device type {spec!r}: expected 'cpu' or 'cuda'")
        self.type = kind
        self.index = int(idx) if idx else index

    def __repr__(self) -> str:
        return f"device(type='{self.type}'" + (
            f", index={self.index})" if self.index is not None else ")"
        )

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = Device(other)
        return (
            isinstance(other, Device)
            and self.type == other.type
            and (self.index == other.index or None in (self.index, other.index))
        )

    def __hash__(self) -> int:
        return hash(self.type)


device = Device
CPU_DEVICE = Device("cpu")


def cuda_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    try:
        return _get_cuda().available()
    except ImportError:
        return False


def _get_cuda() -> Any:
    global _cuda_backend
    if _cuda_backend is None:
        from ember.arrays.cupy import CupyBackend

        _cuda_backend = CupyBackend()
    return _cuda_backend


_default_device: Device | None = None  # None: the CPU


def set_default_device(device: str | Device | None) -> None:
    """The device of new tensors whose creation names none (None: back to the CPU)."""
    global _default_device
    if device is None:
        _default_device = None
        return
    chosen = Device(device)
    if chosen.type == "cuda" and not cuda_available():
        raise RuntimeError(
            f"set_default_device: no CUDA device is available for {str(chosen)!r}\n"
            "hint: CUDA needs CuPy and an NVIDIA GPU; use 'cpu'"
        )
    _default_device = None if chosen.type == "cpu" else chosen


def get_default_device() -> Device:
    """The device new tensors go to when their creation names none."""
    return _default_device or CPU_DEVICE


def get_backend(dev: str | Device | None) -> Any:
    """The backend that owns arrays of device ``dev`` (None: the default device)."""
    if dev is None:
        dev = _default_device
        if dev is None:
            return _CPU
    if not isinstance(dev, Device):
        dev = Device(dev)
    if dev.type == "cpu":
        return _CPU
    return _get_cuda()


def backend_of(array: Any) -> Any:
    """The backend an array belongs to (NumPy arrays → CPU, everything else → CUDA)."""
    if type(array) is np.ndarray:
        return _CPU
    return _get_cuda()
