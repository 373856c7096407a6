"""``torch.nn.modules.conv``: convolution layers (the same classes as ``ember.nn``)."""

from __future__ import annotations

from ember.nn.layers.conv import *  # noqa: F403
from ember.nn.layers.conv import __all__  # noqa: F401
