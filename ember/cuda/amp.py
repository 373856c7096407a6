"""``torch.cuda.amp``: the deprecated CUDA spellings of ``ember.amp.GradScaler`` and
``ember.amp.autocast``; like PyTorch they warn (FutureWarning) and pass ``"cuda"``."""

from __future__ import annotations

import warnings
from typing import Any

from ember import amp
from ember.dtypes import float16

__all__ = ["GradScaler", "autocast"]


class GradScaler(amp.GradScaler):
    """``ember.amp.GradScaler("cuda", …)``: disables itself, with a warning, without CUDA."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn(
            "ember.cuda.amp.GradScaler(args...) is deprecated (as in PyTorch): use "
            "ember.amp.GradScaler('cuda', args...) instead",
            FutureWarning,
            stacklevel=2,
        )
        super().__init__("cuda", *args, **kwargs)


class autocast(amp.autocast):  # noqa: N801 - PyTorch's spelling
    """``ember.amp.autocast("cuda", …)``: disabled, with a warning, without CUDA."""

    def __init__(
        self, enabled: bool = True, dtype: Any = float16, cache_enabled: bool = True
    ) -> None:
        warnings.warn(
            "ember.cuda.amp.autocast(args...) is deprecated (as in PyTorch): use "
            "ember.amp.autocast('cuda', args...) instead",
            FutureWarning,
            stacklevel=2,
        )
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)
