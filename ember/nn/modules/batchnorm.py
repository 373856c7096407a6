"""``torch.nn.modules.batchnorm``: BatchNorm1d/2d/3d (the same classes as ``ember.nn``)."""

from __future__ import annotations

from ember.nn.layers.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]
