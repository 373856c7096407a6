"""``torch.distributed`` placeholder: ember has no multi-process backend yet (it comes with
the distributed issue). ``is_available()`` and ``is_initialized()`` answer False, so scripts
that branch on them take the single-process path; every other function raises."""

from __future__ import annotations

from ember._unavailable import placeholder

__all__ = [
    "is_available",
    "is_initialized",
    "init_process_group",
    "destroy_process_group",
    "get_rank",
    "get_world_size",
    "get_backend",
    "new_group",
    "barrier",
    "broadcast",
    "all_reduce",
    "reduce",
    "all_gather",
    "gather",
    "scatter",
    "reduce_scatter",
]

_WHY = "ember has no distributed (multi-process) backend; run in a single process"


def is_available() -> bool:
    """False: ember cannot run collective communication."""
    return False


def is_initialized() -> bool:
    """False: no process group can exist."""
    return False


init_process_group = placeholder("ember.distributed.init_process_group", _WHY)
destroy_process_group = placeholder("ember.distributed.destroy_process_group", _WHY)
get_rank = placeholder("ember.distributed.get_rank", _WHY)
get_world_size = placeholder("ember.distributed.get_world_size", _WHY)
get_backend = placeholder("ember.distributed.get_backend", _WHY)
new_group = placeholder("ember.distributed.new_group", _WHY)
barrier = placeholder("ember.distributed.barrier", _WHY)
broadcast = placeholder("ember.distributed.broadcast", _WHY)
all_reduce = placeholder("ember.distributed.all_reduce", _WHY)
reduce = placeholder("ember.distributed.reduce", _WHY)
all_gather = placeholder("ember.distributed.all_gather", _WHY)
gather = placeholder("ember.distributed.gather", _WHY)
scatter = placeholder("ember.distributed.scatter", _WHY)
reduce_scatter = placeholder("ember.distributed.reduce_scatter", _WHY)
