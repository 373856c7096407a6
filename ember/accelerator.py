"""``torch.accelerator`` for ember: the accelerator is CUDA (through CuPy) when a GPU is
present; without one, every answer is CPU-only PyTorch's (False, None, 0, or a RuntimeError
for calls that need a device)."""

from __future__ import annotations

from ember import cuda
from ember.arrays import Device, cuda_available

__all__ = [
    "is_available",
    "current_accelerator",
    "device_count",
    "current_device_index",
    "synchronize",
    "empty_cache",
]


def _require() -> None:
    if not cuda_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")


def is_available() -> bool:
    """True when a CUDA GPU is usable."""
    return cuda_available()


def current_accelerator(check_available: bool = False) -> Device | None:
    """``device('cuda')`` when a GPU is usable, else None (the only accelerator ember knows
    is CUDA, so ``check_available`` changes nothing)."""
    return Device("cuda") if cuda_available() else None


def device_count() -> int:
    return cuda.device_count()


def current_device_index() -> int:
    _require()
    return cuda.current_device()


def synchronize(device: Device | str | int | None = None) -> None:
    """Wait for the accelerator's queued work."""
    _require()
    cuda.synchronize(device)


def empty_cache() -> None:
    """Release cached accelerator memory."""
    _require()
    cuda.empty_cache()
