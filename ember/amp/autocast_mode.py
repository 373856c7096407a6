"""``torch.autocast``: the context manager (and decorator) that enables the per-op precision
policy of ``ember.ops.autocast`` for one device type."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

from ember.arrays import cuda_available
from ember.dtypes import as_dtype
from ember.ops import autocast as policy

__all__ = ["autocast", "is_autocast_available"]


def is_autocast_available(device_type: str) -> bool:
    """Whether ``device_type`` has an autocast policy (cpu and cuda do)."""
    return device_type in policy.DEVICE_TYPES


class autocast:  # noqa: N801 - PyTorch's spelling
    """``with ember.autocast("cpu", dtype=ember.bfloat16):``: inside, ops on PyTorch's lists
    run in ``dtype`` (matrix products, convolutions, linear), in float32 (losses …) or in their
    inputs' widest dtype (cat, stack); see ``ember.ops.autocast``. Regions nest; each restores
    the settings it found. Also usable as a decorator."""

    def __init__(
        self,
        device_type: str,
        dtype: Any = None,
        enabled: bool = True,
        cache_enabled: bool | None = None,
    ) -> None:
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.device = policy.check_device_type(device_type, "autocast")
        self.fast_dtype = (
            policy.get_autocast_dtype(device_type) if dtype is None else as_dtype(dtype)
        )
        self._cache_enabled = (
            policy.is_autocast_cache_enabled() if cache_enabled is None else bool(cache_enabled)
        )
        name = device_type.upper()
        if enabled and device_type == "cuda" and not cuda_available():
            warnings.warn("CUDA is not available. Disabling autocast.", stacklevel=2)
            enabled = False
        elif enabled and self.fast_dtype not in policy.SUPPORTED_DTYPES:
            warnings.warn(
                f"In {name} autocast, but the target dtype is not supported. Disabling "
                f"autocast.\n{name} Autocast only supports dtypes of "
                + ", ".join(str(d) for d in policy.SUPPORTED_DTYPES)
                + " currently.",
                stacklevel=2,
            )
            enabled = False
        self._enabled = bool(enabled)

    def __enter__(self) -> autocast:
        self._prev = (
            policy.is_autocast_cache_enabled(),
            policy.is_autocast_enabled(self.device),
            policy.get_autocast_dtype(self.device),
        )
        policy.set_autocast_enabled(self.device, self._enabled)
        policy.set_autocast_dtype(self.device, self.fast_dtype)
        policy.autocast_increment_nesting()
        policy.set_autocast_cache_enabled(self._cache_enabled)
        return self

    def __exit__(self, *exc: object) -> None:
        if policy.autocast_decrement_nesting() == 0:
            policy.clear_autocast_cache()
        cache_enabled, enabled, dtype = self._prev
        policy.set_autocast_enabled(self.device, enabled)
        policy.set_autocast_dtype(self.device, dtype)
        policy.set_autocast_cache_enabled(cache_enabled)

    def __call__(self, fn: Callable) -> Callable:
        if not callable(fn):
            raise TypeError(
                f"autocast()(func) requires a callable, but got {type(fn).__name__}\nhint: "
                "to use autocast as a context manager, write `with ember.autocast(...):`"
            )

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)

        return wrapper
