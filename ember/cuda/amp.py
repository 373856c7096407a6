"""``torch.cuda.amp``: the deprecated CUDA spellings of ``ember.amp.GradScaler`` and
``ember.amp.autocast``; like PyTorch they warn (FutureWarning) and pass ``"cuda"``."""

from __future__ import annotations

from ember.amp.device_spellings import device_amp
from ember.dtypes import float16

__all__ = ["GradScaler", "autocast"]

GradScaler, autocast = device_amp("cuda", float16)
