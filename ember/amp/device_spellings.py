"""The deprecated per-device spellings ``torch.cuda.amp`` and ``torch.cpu.amp``: a
``GradScaler`` and an ``autocast`` bound to one device type, which warn (FutureWarning) as
PyTorch's do and pass that device type on."""

from __future__ import annotations

import warnings
from typing import Any

from ember.amp.autocast_mode import autocast as _autocast
from ember.amp.grad_scaler import GradScaler as _GradScaler
from ember.dtypes import dtype as _dtype

__all__ = ["device_amp"]


def _deprecated(spelling: str, device: str) -> None:
    warnings.warn(
        f"ember.{device}.amp.{spelling}(args...) is deprecated (as in PyTorch): use "
        f"ember.amp.{spelling}('{device}', args...) instead",
        FutureWarning,
        stacklevel=3,
    )


def device_amp(device: str, default_dtype: _dtype) -> tuple[type, type]:
    """(GradScaler, autocast) of ``ember.<device>.amp``."""

    class GradScaler(_GradScaler):
        __doc__ = f"``ember.amp.GradScaler('{device}', …)`` under its deprecated name."

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            _deprecated("GradScaler", device)
            super().__init__(device, *args, **kwargs)

    class autocast(_autocast):  # noqa: N801 - PyTorch's spelling
        __doc__ = f"``ember.amp.autocast('{device}', …)`` under its deprecated name."

        def __init__(
            self, enabled: bool = True, dtype: Any = default_dtype, cache_enabled: bool = True
        ) -> None:
            _deprecated("autocast", device)
            super().__init__(device, dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)

    return GradScaler, autocast
