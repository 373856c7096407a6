"""``torch.nn.modules.instancenorm``: InstanceNorm1d/2d/3d (the same classes as ``ember.nn``)."""

from __future__ import annotations

from ember.nn.layers.normalization import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"]
