"""``torch.nn.modules.channelshuffle``: ChannelShuffle (the same classes as ``ember.nn``)."""

from __future__ import annotations

from ember.nn.layers.channelshuffle import *  # noqa: F403
from ember.nn.layers.channelshuffle import __all__  # noqa: F401
