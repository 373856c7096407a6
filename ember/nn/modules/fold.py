"""``torch.nn.modules.fold``: Fold, Unfold (the same classes as ``ember.nn``)."""

from __future__ import annotations

from ember.nn.layers.fold import *  # noqa: F403
from ember.nn.layers.fold import __all__  # noqa: F401
