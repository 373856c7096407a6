"""``torch.nn.modules.pooling``: pooling layers (the same classes as ``ember.nn``)."""

from __future__ import annotations

from ember.nn.layers.pooling import *  # noqa: F403
from ember.nn.layers.pooling import __all__  # noqa: F401
