"""``torch.nn.parallel`` for ember.

``DataParallel`` is a pass-through: ember runs a module on the one device its parameters are
on, so wrapping changes nothing but the names (``module.`` before every state_dict key, as in
PyTorch). ``DistributedDataParallel`` (ember.nn.parallel.distributed) averages gradients
across the ranks of ember.distributed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ember._unavailable import not_available
from ember.arrays import Device, cuda_available
from ember.nn.module import Module
from ember.nn.parallel.distributed import DistributedDataParallel, SyncBatchNorm

__all__ = ["DataParallel", "DistributedDataParallel", "SyncBatchNorm"]


class DataParallel(Module):
    """``module`` under the name ``module``; calls go straight to it (no batch splitting)."""

    def __init__(
        self,
        module: Module,
        device_ids: Sequence[int | str | Device] | None = None,
        output_device: int | str | Device | None = None,
        dim: int = 0,
    ) -> None:
        super().__init__()
        self.module = module
        if not cuda_available():  # PyTorch's CPU build: no devices, plain pass-through
            self.device_ids: list[int] = []
            return
        ids = [0] if device_ids is None else [_index(d) for d in device_ids]
        if len(ids) > 1:
            not_available(
                "ember.nn.DataParallel over several GPUs",
                "ember runs a module on one device; pass device_ids=[0] (or none)",
            )
        self.device_ids = ids
        self.output_device = ids[0] if output_device is None else output_device
        self.dim = dim

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        return self.module(*inputs, **kwargs)


def _index(device: int | str | Device) -> int:
    return device if isinstance(device, int) else (Device(device).index or 0)
