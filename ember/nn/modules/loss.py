"""``torch.nn.modules.loss``: loss modules (the same classes as ``ember.nn``)."""

from __future__ import annotations

from ember.nn.layers.loss import *  # noqa: F403
from ember.nn.layers.loss import __all__  # noqa: F401
