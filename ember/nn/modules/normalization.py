"""``torch.nn.modules.normalization``: LayerNorm, GroupNorm, RMSNorm and LocalResponseNorm (the
same classes as ``ember.nn``; batch norm is in ``batchnorm``, as in PyTorch)."""

from __future__ import annotations

from ember.nn.layers.normalization import GroupNorm, LayerNorm, LocalResponseNorm, RMSNorm

__all__ = ["LayerNorm", "GroupNorm", "RMSNorm", "LocalResponseNorm"]
