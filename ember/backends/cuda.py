"""``torch.backends.cuda`` flags: ``matmul.allow_tf32`` and friends, at PyTorch's defaults.

ember's CUDA matmuls are CuPy's cuBLAS calls. ``matmul.allow_tf32`` sets CuPy's compute type
for float32 products (TF32 tensor cores, on GPUs of compute capability 8.0 and up) the moment
it is assigned, when CuPy is importable; without CuPy it is recorded, as PyTorch's CPU build
records it. The reduced-precision-reduction flags are recorded: cuBLAS's half and bfloat16
products already accumulate in float32 through CuPy.
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

    def __setattr__(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)
        if name == "allow_tf32":
            _set_tf32(bool(value))


def _set_tf32(on: bool) -> None:
    """CuPy's compute type for float32 products: TF32 or the default (full float32); nothing
    to set without a GPU."""
    from ember.arrays import cuda_available

    if not cuda_available():
        return
    import numpy as np
    from cupy._core import _routines_linalg as linalg

    kind = linalg.COMPUTE_TYPE_TF32 if on else linalg.COMPUTE_TYPE_DEFAULT
    linalg.set_compute_type(np.float32, kind)


matmul = _MatmulFlags()


def is_built() -> bool:
    """Whether ember can run on CUDA here: CuPy is installed (PyTorch: built with CUDA)."""
    return importlib.util.find_spec("cupy") is not None
