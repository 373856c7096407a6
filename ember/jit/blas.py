"""NumPy's own BLAS, for compiled kernels that call the matrix product themselves.

A native convolution runs im2col and the GEMM of each chunk of images inside one OpenMP
parallel loop, so that the copies and the products share one pool of threads. The GEMM is
NumPy's OpenBLAS, reached through its CBLAS entry point (``scipy_cblas_sgemm64_`` in NumPy's
wheels, 64-bit integers; ``cblas_sgemm`` elsewhere), whose address the kernels take as an
argument. While the kernels run in parallel, OpenBLAS is held at one thread: every OpenMP
thread then runs its own products, and OpenBLAS's spinning pool never competes with OpenMP's
for the cores (measured: mixing the two pools made steps 2-4x slower at two threads).
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

__all__ = ["Blas", "find", "gemm_declaration", "gemv_declaration", "hold", "held"]

# (symbol prefix, symbol suffix, C integer type): NumPy's wheels first
_FLAVOURS = (("scipy_", "64_", "long long"), ("", "64_", "long long"), ("", "", "int"))


class Blas(NamedTuple):
    """CBLAS entry points of the BLAS NumPy uses."""

    sgemm: int  # addresses of cblas_?gemm
    dgemm: int
    int_type: str  # the C type of its integer arguments
    get_threads: ctypes._CFuncPtr
    set_threads: ctypes._CFuncPtr
    sgemv: int  # addresses of cblas_?gemv
    dgemv: int


def _candidates() -> list[str]:
    """Shared libraries that may hold NumPy's BLAS: the ones bundled with the wheel, then the
    one threadpoolctl reports (a distribution's NumPy links the system's)."""
    where = os.path.dirname(np.__file__)
    paths = sorted(glob.glob(os.path.join(where + ".libs", "*openblas*.so*")))
    try:
        import threadpoolctl
    except ImportError:
        return paths
    info = threadpoolctl.threadpool_info()
    return paths + [lib["filepath"] for lib in info if lib.get("internal_api") == "openblas"]


@functools.cache
def find() -> Blas | None:
    """NumPy's OpenBLAS with CBLAS GEMMs and thread control, or None (kernels then leave the
    products to NumPy)."""
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix, int_type in _FLAVOURS:
            names = [f"{prefix}cblas_{t}{op}{suffix}" for op in ("gemm", "gemv") for t in "sd"]
            control = [f"{prefix}openblas_{op}_num_threads{suffix}" for op in ("get", "set")]
            if all(hasattr(lib, name) for name in names + control):
                get, put = (getattr(lib, name) for name in control)
                get.restype, get.argtypes = ctypes.c_int, []
                put.restype, put.argtypes = None, [ctypes.c_int]
                address = [ctypes.cast(getattr(lib, name), ctypes.c_void_p).value for name in names]
                return Blas(address[0], address[1], int_type, get, put, address[2], address[3])
    return None


def gemm_declaration(blas: Blas, ctype: str) -> str:
    """C typedef ``gemm_<ctype>`` of the row-major CBLAS GEMM taking ``ctype`` operands."""
    i = blas.int_type
    return (
        f"typedef void (*gemm_{ctype})(int, int, int, {i}, {i}, {i}, {ctype}, const {ctype} *, "
        f"{i}, const {ctype} *, {i}, {ctype}, {ctype} *, {i});"
    )


def gemv_declaration(blas: Blas, ctype: str) -> str:
    """C typedef ``gemv_<ctype>`` of the CBLAS GEMV taking ``ctype`` operands."""
    i = blas.int_type
    return (
        f"typedef void (*gemv_{ctype})(int, int, {i}, {i}, {ctype}, const {ctype} *, {i}, "
        f"const {ctype} *, {i}, {ctype}, {ctype} *, {i});"
    )


_held = 0  # the thread count the open holds gave (0: none is open)
_holders = 0  # holds open now, in any thread
_lock = threading.Lock()


@contextmanager
def hold(blas: Blas) -> Iterator[int]:
    """Hold OpenBLAS at one thread inside the block; gives the thread count it had, which the
    caller's parallel loops use instead. Holds nest and may overlap across threads: the first
    one sets OpenBLAS to one thread and the last one to leave restores it."""
    global _held, _holders
    with _lock:
        if not _holders:
            threads = blas.get_threads()
            if threads > 1:
                blas.set_threads(1)
            _held = threads
        _holders += 1
        threads = _held
    try:
        yield threads
    finally:
        with _lock:
            _holders -= 1
            if not _holders:
                if _held > 1:
                    blas.set_threads(_held)
                _held = 0


def held() -> int:
    """The thread count of the open holds (0 when none is open; 1 at one thread)."""
    return _held
