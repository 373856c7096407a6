"""``torch.nn.modules.linear``: Identity, Linear, Bilinear (the same classes as ``ember.nn``)."""

from __future__ import annotations

from ember.nn.layers.linear import *  # noqa: F403
from ember.nn.layers.linear import __all__  # noqa: F401
