"""``torch.nn.modules.padding``: Reflection/Replication/Zero/ConstantPad 1d/2d/3d (the same
classes as ``ember.nn``)."""

from __future__ import annotations

from ember.nn.layers.padding import *  # noqa: F403
from ember.nn.layers.padding import __all__  # noqa: F401
