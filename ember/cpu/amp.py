"""``torch.cpu.amp``: the deprecated CPU spellings of ``ember.amp.GradScaler`` and
``ember.amp.autocast``; like PyTorch they warn (FutureWarning) and pass ``"cpu"``."""

from __future__ import annotations

from ember.amp.device_spellings import device_amp
from ember.dtypes import bfloat16

__all__ = ["GradScaler", "autocast"]

GradScaler, autocast = device_amp("cpu", bfloat16)
