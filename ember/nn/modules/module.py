"""``torch.nn.modules.module``: ``Module`` (the same class as ``ember.nn.Module``)."""

from __future__ import annotations

from ember.nn.module import Module

__all__ = ["Module"]
