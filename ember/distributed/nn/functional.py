"""``torch.distributed.nn.functional``: collectives that return new tensors and have gradients.

Each is a primitive, so ``ember.jit`` records it as one opaque node of the graph whose kernel
calls the process group on every replay: a compiled training step keeps its communication
(DistributedDataParallel's gradient all-reduce, SyncBatchNorm's statistics). Its vjp is a
collective too, so backward communicates as the forward does.
"""

from __future__ import annotations

from typing import Any

from ember import distributed as dist
from ember.distributed.common import ReduceOp
from ember.ops.core import OPAQUE, Aval, Primitive, apply
from ember.tensor import Tensor

__all__ = ["all_reduce", "broadcast"]

_DIFFERENTIABLE_OPS = (ReduceOp.SUM, ReduceOp.AVG)


class _Collective(Primitive):
    """A collective over ``group``: the result has the input's shape and dtype."""

    abstract = True
    kind = OPAQUE
    widens = False  # the backend reduces every dtype itself (float16 widened inside)

    saved_inputs = staticmethod(lambda req: (False,))  # the vjps read only the gradient

    @staticmethod
    def infer(x: Aval, **params: Any) -> Aval:
        return x


def _on_a_copy(x: Any, collective: Any, *args: Any) -> Any:
    """``collective(tensor, *args)`` run in place on a copy of the array ``x``; the copy."""
    out = Tensor._wrap(x.copy())
    collective(out, *args)
    return out._data


class AllReduce(_Collective):
    """``op`` of the ranks' ``x`` (SUM or AVG: the ones with a gradient); gradient: the same
    reduction of the ranks' output gradients."""

    @staticmethod
    def forward(xp: Any, x: Any, *, op: ReduceOp, group: Any) -> Any:
        return _on_a_copy(x, dist.all_reduce, op, group)

    @staticmethod
    def vjp(g: Tensor, x: Tensor, *, out: Tensor, op: ReduceOp, group: Any) -> tuple:
        return (apply(AllReduce, g, op=op, group=group),)


class Broadcast(_Collective):
    """Rank ``src``'s ``x`` on every rank; gradient: the sum of the ranks' output gradients
    for ``src``, zero for the others."""

    @staticmethod
    def forward(xp: Any, x: Any, *, src: int, group: Any) -> Any:
        return _on_a_copy(x, dist.broadcast, src, group)

    @staticmethod
    def vjp(g: Tensor, x: Tensor, *, out: Tensor, src: int, group: Any) -> tuple:
        total = apply(AllReduce, g, op=ReduceOp.SUM, group=group)  # every rank must join
        return (total if dist.get_rank() == src else total * 0,)


def _tensor(name: str, tensor: Any) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(
            f"ember.distributed.nn.functional.{name}: expected an ember Tensor, got "
            f"{type(tensor).__name__}"
        )


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group: Any = None) -> Tensor:
    """``op`` of every rank's ``tensor``, as a new tensor (``tensor`` is left as it is)."""
    _tensor("all_reduce", tensor)
    if op not in _DIFFERENTIABLE_OPS:
        raise ValueError(
            f"ember.distributed.nn.functional.all_reduce: op {op!r} has no gradient; "
            "expected ReduceOp.SUM or ReduceOp.AVG (ember.distributed.all_reduce takes any op)"
        )
    return apply(AllReduce, tensor, op=op, group=_world(group))


def broadcast(tensor: Tensor, src: int, group: Any = None) -> Tensor:
    """Rank ``src``'s ``tensor`` on every rank, as a new tensor."""
    _tensor("broadcast", tensor)
    return apply(Broadcast, tensor, src=src, group=_world(group))


def _world(group: Any) -> Any:
    """``group``, with None as the default group (checked now, not inside a compiled step)."""
    dist.get_rank(group)  # the clear error when there is no default group
    return dist.group.WORLD if group is None else group
