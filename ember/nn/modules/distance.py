"""``torch.nn.modules.distance``: CosineSimilarity, PairwiseDistance (the same classes as
``ember.nn``)."""

from __future__ import annotations

from ember.nn.layers.distance import *  # noqa: F403
from ember.nn.layers.distance import __all__  # noqa: F401
