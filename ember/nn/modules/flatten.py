"""``torch.nn.modules.flatten``: Flatten and Unflatten (the same classes as ``ember.nn``)."""

from __future__ import annotations

from ember.nn.layers.flatten import *  # noqa: F403
from ember.nn.layers.flatten import __all__  # noqa: F401
