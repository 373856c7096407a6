"""``torch.nn.modules.activation``: activation layers and MultiheadAttention, which PyTorch
keeps here (the same classes as ``ember.nn``)."""

from __future__ import annotations

from ember.nn.layers.activation import *  # noqa: F403
from ember.nn.layers.activation import __all__ as _activation_all
from ember.nn.layers.attention import MultiheadAttention

__all__ = [*_activation_all, "MultiheadAttention"]
