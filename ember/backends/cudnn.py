"""``torch.backends.cudnn`` flags. ember never calls cuDNN, so ``is_available()`` is False
(as on a CPU-only PyTorch) and the flags, kept at PyTorch's defaults, change nothing."""

from __future__ import annotations

__all__ = [
    "enabled",
    "benchmark",
    "benchmark_limit",
    "deterministic",
    "allow_tf32",
    "is_available",
    "version",
]

enabled: bool = True
benchmark: bool = False
benchmark_limit: int | None = None  # PyTorch answers None where cuDNN is unavailable
deterministic: bool = False  # ember's kernels give the same result on every run regardless
allow_tf32: bool = True


def is_available() -> bool:
    """False: ember's convolutions are its own NumPy/CuPy kernels, not cuDNN's."""
    return False


def version() -> int | None:
    """None: no cuDNN is loaded (PyTorch's answer on a build without it)."""
    return None
