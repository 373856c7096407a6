"""Process-wide switches torch exposes at top level, each with its effect in ember:
deterministic algorithms (``empty`` then fills memory with NaN or the largest integer, as
torch's does, so code that reads it shows), the float32 matmul precision (TF32 on CUDA:
``ember.backends.cuda.matmul.allow_tf32``), warn-always, and the thread settings ember has.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ember import dtypes

__all__ = [
    "use_deterministic_algorithms",
    "are_deterministic_algorithms_enabled",
    "is_deterministic_algorithms_warn_only_enabled",
    "get_deterministic_debug_mode",
    "set_deterministic_debug_mode",
    "get_float32_matmul_precision",
    "set_float32_matmul_precision",
    "set_flush_denormal",
    "get_num_interop_threads",
    "set_num_interop_threads",
    "init_num_threads",
    "set_warn_always",
    "is_warn_always_enabled",
]

_DETERMINISTIC = {"enabled": False, "warn_only": False}
_DEBUG_MODES = ("default", "warn", "error")
_PRECISIONS = ("highest", "high", "medium")
_STATE: dict[str, Any] = {"matmul_precision": "highest", "warn_always": False}


# -- deterministic algorithms -----------------------------------------------------------------
def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Ask for deterministic algorithms. ember's CPU ops already are; the visible effect is
    that ``empty`` fills its memory (NaN for floats, the largest value for integers) instead
    of handing out zeros that could hide a read of uninitialised data."""
    _DETERMINISTIC["enabled"] = bool(mode)
    _DETERMINISTIC["warn_only"] = bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    return _DETERMINISTIC["enabled"]


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _DETERMINISTIC["warn_only"]


def get_deterministic_debug_mode() -> int:
    """0 (off), 1 (deterministic, warn only) or 2 (deterministic)."""
    if not _DETERMINISTIC["enabled"]:
        return 0
    return 1 if _DETERMINISTIC["warn_only"] else 2


def set_deterministic_debug_mode(debug_mode: int | str) -> None:
    """``use_deterministic_algorithms`` by level: "default"/0 off, "warn"/1 warn only,
    "error"/2 on."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError(
                "invalid value of debug_mode, expected one of `default`, `warn`, `error`, but "
                f"got {debug_mode}"
            )
        debug_mode = _DEBUG_MODES.index(debug_mode)
    elif not isinstance(debug_mode, int) or isinstance(debug_mode, bool):
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode)}")
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(
            f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}"
        )
    use_deterministic_algorithms(debug_mode != 0, warn_only=debug_mode == 1)


def uninitialized_fill(dtype: dtypes.dtype) -> Any:
    """What ``empty`` fills memory with under deterministic algorithms (None: plain zeros)."""
    if not _DETERMINISTIC["enabled"]:
        return None
    if dtype.is_floating_point:
        return float("nan")
    if dtype is dtypes.bool_:
        return True
    return int(np.iinfo(dtype.np).max)


# -- matmul precision -------------------------------------------------------------------------
def set_float32_matmul_precision(precision: str) -> None:
    """ "highest": full float32 products; "high" and "medium": TF32 on CUDA (sets
    ``ember.backends.cuda.matmul.allow_tf32``). The CPU always multiplies in float32."""
    from ember.backends import cuda

    if precision not in _PRECISIONS:
        warnings.warn(
            f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
            "set_float32_matmul_precision call has no effect.",
            UserWarning,
            stacklevel=2,
        )
        return
    _STATE["matmul_precision"] = precision
    cuda.matmul.allow_tf32 = precision != "highest"


def get_float32_matmul_precision() -> str:
    """The precision set, as ``allow_tf32`` now stands (setting that flag changes it too)."""
    from ember.backends import cuda

    chosen = _STATE["matmul_precision"]
    if cuda.matmul.allow_tf32:
        return "high" if chosen == "highest" else chosen
    return "highest"


# -- threads and denormals --------------------------------------------------------------------
def set_flush_denormal(mode: bool) -> bool:
    """Whether flushing denormal floats to zero could be switched: never here (NumPy keeps
    the CPU's default and ember has no way to set it), so False, as torch answers on a CPU
    without the feature; nothing changes."""
    return False


def get_num_interop_threads() -> int:
    """1: ember runs one op at a time (no pool running independent ops side by side)."""
    return 1


def set_num_interop_threads(num: int) -> None:
    """Only 1 inter-op thread exists in ember (see ``get_num_interop_threads``)."""
    if int(num) < 1:
        raise RuntimeError(f"set_num_interop_threads: expected a positive number, got {num}")
    if int(num) != 1:
        raise RuntimeError(
            f"set_num_interop_threads: ember runs one op at a time, so it has 1 inter-op "
            f"thread, not {num}\nhint: set_num_threads sets the threads inside an op"
        )


def init_num_threads() -> None:
    """Give the calling thread the ``set_num_threads`` setting: already so, since ember's
    thread limits (threadpoolctl's, OpenMP's environment) hold for the whole process."""


# -- warnings ---------------------------------------------------------------------------------
def set_warn_always(b: bool, /) -> None:
    """Repeat warnings ember gives once (``ember.jit``'s retracing notice) every time."""
    _STATE["warn_always"] = bool(b)


def is_warn_always_enabled() -> bool:
    return _STATE["warn_always"]
