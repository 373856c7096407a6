"""``torch.backends.cuda`` flags: ``matmul.allow_tf32`` and friends, at PyTorch's defaults.

ember's CUDA matmuls are CuPy's, which do not use TF32 unless CuPy itself is configured to,
so these flags are recorded for scripts that set them and change nothing.
"""

from __future__ import annotations

import importlib.util

__all__ = ["matmul", "is_built"]


class _MatmulFlags:
    """``torch.backends.cuda.matmul``: only PyTorch's attribute names can be set."""

    __slots__ = (
        "allow_tf32",
        "allow_fp16_reduced_precision_reduction",
        "allow_bf16_reduced_precision_reduction",
    )

    def __init__(self) -> None:
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True


matmul = _MatmulFlags()


def is_built() -> bool:
    """Whether ember can run on CUDA here: CuPy is installed (PyTorch: built with CUDA)."""
    return importlib.util.find_spec("cupy") is not None
