"""``ember train MODEL --distributed``: one run on N ranks (``ember run -n N`` or mpiexec).

Every rank builds the same job from the same seed and trains on its equal share of every
global batch (``BatchPlan.shard``); DistributedDataParallel averages the gradients, so N ranks
× B/N rows take the step one process takes on B rows. Rank 0 alone touches the run directory
(checkpoint, metrics, summary) and prints; what it reads or decides there (the checkpoint to
resume, an error) reaches the other ranks through ``on_rank0``. The training loop is the
``Trainer``'s, unchanged: only its plan, meter, evaluation and callbacks are adapted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from ember import distributed as dist
from ember.creation import tensor
from ember.nn.module import Module
from ember.train.trainer import Meter

__all__ = ["join", "leave", "world_size", "data_parallel", "on_rank0", "GlobalMeter"]

T = TypeVar("T")
_created: list[Any] = []  # the default process group ``join`` created, which ``leave`` ends


def join() -> tuple[int, int]:
    """Join the MPI job this process belongs to (a process started alone is a world of one);
    return (rank, world size). An existing default process group is reused."""
    if not dist.is_initialized():
        dist.init_process_group("mpi")
        _created[:] = [dist.group.WORLD]
    return dist.get_rank(), dist.get_world_size()


def leave() -> None:
    """The run is over on every rank: wait for all, then end the group ``join`` created, so
    that the ranks done first may exit (MPICH's launcher tells the others of an exit with the
    signal that also reports a failure, which a rank out of the group ignores)."""
    dist.barrier()
    if _created and _created[0] is dist.group.WORLD:
        dist.destroy_process_group()
    _created.clear()


def world_size() -> int:
    """Ranks in the default process group; 1 when there is none."""
    return dist.get_world_size() if dist.is_initialized() else 1


def data_parallel(module: Module) -> Module:
    """What a training step should call for ``module``: on several ranks, ``module`` with its
    BatchNorms made SyncBatchNorm (in place, so call this before building the optimizer: the
    statistics then cover the global batch, as in one process) wrapped in
    DistributedDataParallel, whose gradient hooks average across ranks in backward; alone,
    ``module`` itself."""
    if world_size() == 1:
        return module
    from ember.nn.parallel import DistributedDataParallel, SyncBatchNorm

    return DistributedDataParallel(SyncBatchNorm.convert_sync_batchnorm(module))


def on_rank0(fn: Callable[[], T]) -> T:
    """``fn()`` run by rank 0 alone, its result (or the exception it raised) handed to every
    rank: for work with side effects (the run directory) or one rank does for all."""
    if world_size() == 1:
        return fn()
    box: list[Any] = [None]
    if dist.get_rank() == 0:
        try:
            box[0] = (fn(), None)
        except Exception as exc:  # every rank fails alike, with rank 0's error
            box[0] = (None, exc)
    dist.broadcast_object_list(box, src=0)
    result, error = box[0]
    if error is not None:
        raise error
    return result


class GlobalMeter(Meter):
    """``meter`` with its epoch results over the global batches: every rank's share of every
    step has the same size, so the global means are the means of the ranks' means."""

    def __init__(self, meter: Meter) -> None:
        self.meter = meter

    def update(self, batch: Any, out: dict[str, Any]) -> dict[str, float]:
        return self.meter.update(batch, out)

    def result(self) -> dict[str, float]:
        local = self.meter.result()
        values = tensor(np.array(list(local.values()), dtype=np.float64))
        dist.all_reduce(values, dist.ReduceOp.AVG)
        return dict(zip(local, values.numpy().tolist()))

    def reset(self) -> None:
        self.meter.reset()

    def state_dict(self) -> dict[str, Any]:
        return self.meter.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.meter.load_state_dict(state)
