"""``torch.nn.modules.normalization``: LayerNorm and GroupNorm (the same classes as
``ember.nn``; batch norm is in ``batchnorm``, as in PyTorch)."""

from __future__ import annotations

from ember.nn.layers.normalization import GroupNorm, LayerNorm

__all__ = ["LayerNorm", "GroupNorm"]
