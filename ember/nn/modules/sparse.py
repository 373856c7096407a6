"""``torch.nn.modules.sparse``: Embedding (the same classes as ``ember.nn``)."""

from __future__ import annotations

from ember.nn.layers.embedding import *  # noqa: F403
from ember.nn.layers.embedding import __all__  # noqa: F401
