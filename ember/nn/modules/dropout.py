"""``torch.nn.modules.dropout``: dropout layers (the same classes as ``ember.nn``)."""

from __future__ import annotations

from ember.nn.layers.dropout import *  # noqa: F403
from ember.nn.layers.dropout import __all__  # noqa: F401
