"""CPU thread control: how many threads NumPy's BLAS (the matrix products) and the OpenMP
kernels that ``ember.jit`` compiles may use.

PyTorch-style ``set_num_threads``/``get_num_threads``. NumPy fixes its BLAS thread pool when
it loads, so changing it at run time goes through ``threadpoolctl`` (an optional extra,
``pip install threadpoolctl``); an OpenMP runtime that loads later (with the first compiled
kernel) reads ``OMP_NUM_THREADS``, which ``set_num_threads`` sets too. On a busy machine a
multi-threaded OpenBLAS spins while it waits for a core and large matrix products can become
ten times slower: one thread is the safe choice whenever other work shares the cores, which
is why ``ember train`` starts with ``free_cores()`` threads.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["set_num_threads", "get_num_threads", "free_cores"]

_limiter: Any = None


def _threadpoolctl() -> Any:
    try:
        import threadpoolctl
    except ImportError as exc:
        raise ImportError(
            "set_num_threads: changing BLAS threads at run time needs threadpoolctl "
            "(`pip install threadpoolctl`)\nhint: or set OPENBLAS_NUM_THREADS before starting "
            "Python"
        ) from exc
    return threadpoolctl


def set_num_threads(n: int) -> None:
    """Let NumPy's BLAS and ember's compiled kernels use ``n`` threads from now on (in this
    process)."""
    global _limiter
    if int(n) < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {n}")
    _limiter = _threadpoolctl().threadpool_limits(limits=int(n))  # BLAS and OpenMP loaded now
    os.environ["OMP_NUM_THREADS"] = str(int(n))  # an OpenMP runtime loaded later


def get_num_threads() -> int:
    """The number of threads NumPy's BLAS uses (the largest over loaded BLAS libraries)."""
    info = _threadpoolctl().threadpool_info()
    counts = [lib["num_threads"] for lib in info if lib.get("user_api") == "blas"]
    return max(counts, default=1)


def free_cores() -> int:
    """The cores this process may run on that are not busy now: the usable cores less the
    one-minute load average, at least 1. Measured on a 2-core machine training the cnn, two
    BLAS threads were 1.5x slower than one while the other core was busy, and within 10% of
    one when it was idle."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (usable or 1) - round(os.getloadavg()[0]))
