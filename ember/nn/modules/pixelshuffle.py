"""``torch.nn.modules.pixelshuffle``: PixelShuffle, PixelUnshuffle (the same classes as
``ember.nn``)."""

from __future__ import annotations

from ember.nn.layers.pixelshuffle import *  # noqa: F403
from ember.nn.layers.pixelshuffle import __all__  # noqa: F401
