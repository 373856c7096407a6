"""``torch.nn.modules.transformer``: Transformer and its encoder/decoder stacks and layers (the
same classes as ``ember.nn``)."""

from __future__ import annotations

from ember.nn.layers.transformer import *  # noqa: F403
from ember.nn.layers.transformer import __all__  # noqa: F401
