"""``torch.distributed.nn`` for ember: collectives as differentiable ops (``functional``)."""

from __future__ import annotations

from ember.distributed.nn import functional

__all__ = ["functional"]
