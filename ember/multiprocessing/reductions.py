"""How ember tensors cross process boundaries through ``multiprocessing`` (the arguments of a
spawned ``Process``, a ``Queue``): a tensor in shared memory (``share_memory_``) is sent as
the name of its shared file and mapped again on arrival, so both sides see the same memory;
any other tensor is sent by value, as ``pickle`` sends it."""

from __future__ import annotations

from multiprocessing.reduction import ForkingPickler

from ember.arrays import shared
from ember.nn.parameter import Buffer, Parameter, _rebuild_parameter
from ember.tensor import Tensor, _rebuild

__all__ = ["init_reductions", "reduce_tensor", "rebuild_shared"]

_REBUILD = {Tensor: _rebuild, Parameter: _rebuild_parameter, Buffer: _rebuild}


def rebuild_shared(kind: type, segment: shared.Segment, requires_grad: bool) -> Tensor:
    """The receiving side: ``kind`` (Tensor or Parameter) over the mapped shared memory."""
    return _REBUILD[kind](shared.attach(segment), requires_grad)


def reduce_tensor(t: Tensor) -> tuple:
    """The sending side: by shared-file name when ``t`` is shared, else by value."""
    if t.requires_grad and t.node is not None:
        raise RuntimeError(
            "ember.multiprocessing: refusing to send a tensor that requires grad and is not a "
            "leaf: autograd graphs do not cross process boundaries\nhint: send t.detach() to "
            "transfer the data"
        )
    if t.is_cuda:
        raise RuntimeError(
            "ember.multiprocessing: CUDA tensors cannot be sent to another process (PyTorch "
            "uses CUDA IPC, which ember does not have)\nhint: send t.cpu(), or share a CPU "
            "tensor with share_memory_()"
        )
    segment = shared.segment_of(t._data)
    if segment is None:
        return t.__reduce_ex__(2)
    return rebuild_shared, (type(t), segment, t.requires_grad)


def init_reductions() -> None:
    """Register ``reduce_tensor`` with multiprocessing's pickler (idempotent)."""
    for kind in _REBUILD:
        ForkingPickler.register(kind, reduce_tensor)
