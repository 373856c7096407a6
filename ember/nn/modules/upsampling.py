"""``torch.nn.modules.upsampling``: Upsample (the same classes as ``ember.nn``)."""

from __future__ import annotations

from ember.nn.layers.upsampling import *  # noqa: F403
from ember.nn.layers.upsampling import __all__  # noqa: F401
