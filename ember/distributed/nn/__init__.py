"""``torch.distributed.nn`` for ember: collectives as differentiable ops (``functional``, whose
functions are also here, as in torch)."""

from __future__ import annotations

from ember.distributed.nn import functional
from ember.distributed.nn.functional import all_reduce, broadcast

__all__ = ["functional", "all_reduce", "broadcast"]
