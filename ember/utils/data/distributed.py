"""``torch.utils.data.distributed``: ember's DistributedSampler."""

from __future__ import annotations

from ember.data.sampler import DistributedSampler

__all__ = ["DistributedSampler"]
