"""``torch.backends.mps``: ember has no Apple-GPU (Metal) backend, so both answers are False."""

from __future__ import annotations

__all__ = ["is_available", "is_built"]


def is_available() -> bool:
    """False: ember runs on NumPy (CPU) or CuPy (NVIDIA GPUs) only."""
    return False


def is_built() -> bool:
    """False: no Metal backend is part of ember."""
    return False
