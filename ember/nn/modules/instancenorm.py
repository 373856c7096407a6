"""``torch.nn.modules.instancenorm``: InstanceNorm1d/2d (the same classes as ``ember.nn``)."""

from __future__ import annotations

from ember.nn.layers.normalization import InstanceNorm1d, InstanceNorm2d

__all__ = ["InstanceNorm1d", "InstanceNorm2d"]
