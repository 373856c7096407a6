"""``torch.cuda`` for ember: device queries and seeding, answered through CuPy.

Without a GPU (or without CuPy) every name acts as on a CPU-only PyTorch build: queries
answer False or 0, ``manual_seed``/``manual_seed_all``/``empty_cache`` do nothing, and calls
that need a device (``current_device``, ``synchronize``, ``get_device_name``) raise.
"""

from __future__ import annotations

from typing import Any

from ember.arrays import Device, cuda_available, get_backend
from ember.cuda import amp

__all__ = [
    "amp",
    "is_available",
    "device_count",
    "current_device",
    "manual_seed",
    "manual_seed_all",
    "synchronize",
    "empty_cache",
    "get_device_name",
]


def is_available() -> bool:
    """True when CuPy imports and sees at least one GPU."""
    return cuda_available()


def _cupy(caller: str) -> Any:
    if not cuda_available():
        # PyTorch's CPU build raises AssertionError here too
        raise AssertionError(
            f"ember.cuda.{caller}: no CUDA GPU is available (ember runs on CUDA through "
            "CuPy: install cupy-cuda12x on a machine with an NVIDIA GPU)"
        )
    return get_backend("cuda").xp


def device_count() -> int:
    """The number of GPUs CuPy sees (0 without CUDA)."""
    return get_backend("cuda").xp.cuda.runtime.getDeviceCount() if cuda_available() else 0


def current_device() -> int:
    """The index of the current GPU."""
    return int(_cupy("current_device").cuda.runtime.getDevice())


def _index(device: Device | str | int | None) -> int:
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    index = Device(device).index
    return current_device() if index is None else index


def get_device_name(device: Device | str | int | None = None) -> str:
    """The GPU's name, e.g. ``'NVIDIA H100 80GB HBM3'``."""
    name = _cupy("get_device_name").cuda.runtime.getDeviceProperties(_index(device))["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def synchronize(device: Device | str | int | None = None) -> None:
    """Wait until the GPU has finished all queued work (for timing)."""
    _cupy("synchronize")
    get_backend("cuda").sync()


def empty_cache() -> None:
    """Return the GPU memory CuPy keeps cached to the driver; nothing without CUDA."""
    if cuda_available():
        xp = get_backend("cuda").xp
        xp.get_default_memory_pool().free_all_blocks()
        xp.get_default_pinned_memory_pool().free_all_blocks()


def manual_seed(seed: int) -> None:
    """Seed CUDA draws. ember draws on the host and copies to the GPU, so with a GPU this
    seeds the default generator; without one it does nothing, as on a CPU-only PyTorch."""
    if cuda_available():
        from ember.random import manual_seed as seed_default

        seed_default(seed)


def manual_seed_all(seed: int) -> None:
    """``manual_seed`` for every GPU: they all draw from the one default generator."""
    manual_seed(seed)
