"""The ``"nccl"`` backend: collectives over NCCL through CuPy (``cupy.cuda.nccl``) on GPU arrays.

Each call is enqueued on the current CUDA stream and returns an event to poll, so the same
deadline loop as MPI's is the watchdog; on a timeout the communicator is aborted. NCCL has
no gather/scatter: they are grouped sends and receives. Not exercised by ember's CI (no GPU
there); see docs/distributed.md.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ember.distributed.common import ReduceOp

__all__ = ["NCCLBackend", "import_nccl"]


def import_nccl() -> Any:
    """``cupy.cuda.nccl``, or an ImportError that says what is missing."""
    try:
        import cupy
        from cupy.cuda import nccl
    except ImportError as exc:
        raise ImportError(
            "ember.distributed: backend 'nccl' needs CuPy with NCCL support and a GPU\n"
            "hint: pip install 'ember[cuda]' (CuPy), then pip install nvidia-nccl-cu12 or "
            "`python -m cupyx.tools.install_library --library nccl`; on CPUs use backend='gloo'"
        ) from exc
    if not getattr(nccl, "available", True) or not cupy.cuda.runtime.getDeviceCount():
        raise ImportError("ember.distributed: backend 'nccl' found no NCCL library or no GPU")
    return nccl


class _Event:
    """A point on the stream: done once every NCCL call enqueued before it has finished."""

    def __init__(self, stream: Any) -> None:
        import cupy

        self.event = cupy.cuda.Event(disable_timing=True)
        self.event.record(stream)

    def Test(self) -> bool:  # noqa: N802 - polled like an MPI request
        return bool(self.event.done)


class NCCLBackend:
    """One NCCL communicator over ``size`` ranks, one GPU each."""

    name = "nccl"
    device = "cuda"

    def __init__(self, size: int, unique_id: tuple, rank: int) -> None:
        import cupy

        self.nccl = import_nccl()
        self.cupy = cupy
        self.unique_id, self.rank, self.size = unique_id, rank, size
        self.comm = self.nccl.NcclCommunicator(size, unique_id, rank)

    @staticmethod
    def new_id() -> tuple:
        return import_nccl().get_unique_id()

    # -- buffers ------------------------------------------------------------------------------
    def stage(self, array: Any) -> Any:
        return self.cupy.ascontiguousarray(self.cupy.asarray(array))

    def empty(self, shape: tuple, dtype: np.dtype) -> Any:
        return self.cupy.empty(shape, dtype)

    def reducible(self, a: Any) -> Any:
        return a.view(np.uint8) if a.dtype == np.bool_ else a

    def _dtype(self, dtype: np.dtype) -> int:
        n = self.nccl
        table = {
            np.dtype("f2"): n.NCCL_FLOAT16,
            np.dtype("f4"): n.NCCL_FLOAT32,
            np.dtype("f8"): n.NCCL_FLOAT64,
            np.dtype("i1"): n.NCCL_INT8,
            np.dtype("u1"): n.NCCL_UINT8,
            np.dtype("i4"): n.NCCL_INT32,
            np.dtype("i8"): n.NCCL_INT64,
        }
        if dtype not in table:
            raise TypeError(f"ember.distributed (nccl): NCCL cannot reduce {dtype} tensors")
        return table[dtype]

    def _op(self, op: ReduceOp, dtype: np.dtype) -> int:
        n = self.nccl
        if dtype == np.bool_:
            op = {ReduceOp.SUM: ReduceOp.MAX, ReduceOp.PRODUCT: ReduceOp.MIN}.get(op, op)
        table = {
            ReduceOp.SUM: n.NCCL_SUM,
            ReduceOp.AVG: n.NCCL_SUM,  # the caller divides by the group size
            ReduceOp.PRODUCT: n.NCCL_PROD,
            ReduceOp.MIN: n.NCCL_MIN,
            ReduceOp.MAX: n.NCCL_MAX,
        }
        if op not in table:
            raise ValueError(f"ember.distributed (nccl): NCCL has no {op.name} reduction")
        return table[op]

    def _stream(self) -> int:
        return self.cupy.cuda.get_current_stream().ptr

    def _done(self) -> list:
        return [_Event(self.cupy.cuda.get_current_stream())]

    # -- collectives --------------------------------------------------------------------------
    def allreduce(self, send: Any, recv: Any, op: ReduceOp) -> list:
        self.comm.allReduce(
            send.data.ptr,
            recv.data.ptr,
            send.size,
            self._dtype(send.dtype),
            self._op(op, send.dtype),
            self._stream(),
        )
        return self._done()

    def reduce(self, send: Any, recv: Any, op: ReduceOp, root: int) -> list:
        self.comm.reduce(
            send.data.ptr,
            recv.data.ptr,
            send.size,
            self._dtype(send.dtype),
            self._op(op, send.dtype),
            root,
            self._stream(),
        )
        return self._done()

    def reduce_scatter(self, send: Any, recv: Any, op: ReduceOp) -> list:
        self.comm.reduceScatter(
            send.data.ptr,
            recv.data.ptr,
            recv.size,
            self._dtype(send.dtype),
            self._op(op, send.dtype),
            self._stream(),
        )
        return self._done()

    def broadcast(self, buf: Any, root: int) -> list:
        self.comm.bcast(buf.data.ptr, buf.nbytes, self.nccl.NCCL_UINT8, root, self._stream())
        return self._done()

    def allgather(self, send: Any, recv: Any) -> list:
        self.comm.allGather(
            send.data.ptr, recv.data.ptr, send.nbytes, self.nccl.NCCL_UINT8, self._stream()
        )
        return self._done()

    def gather(self, send: Any, recv: Any | None, root: int) -> list:
        self.nccl.groupStart()
        if self.rank == root:
            for r in range(self.size):
                self._recv_bytes(recv[r], r)
        self._send_bytes(send, root)
        self.nccl.groupEnd()
        return self._done()

    def scatter(self, send: Any | None, recv: Any, root: int) -> list:
        self.nccl.groupStart()
        if self.rank == root:
            for r in range(self.size):
                self._send_bytes(send[r], r)
        self._recv_bytes(recv, root)
        self.nccl.groupEnd()
        return self._done()

    def _send_bytes(self, buf: Any, peer: int) -> None:
        self.comm.send(buf.data.ptr, buf.nbytes, self.nccl.NCCL_UINT8, peer, self._stream())

    def _recv_bytes(self, buf: Any, peer: int) -> None:
        self.comm.recv(buf.data.ptr, buf.nbytes, self.nccl.NCCL_UINT8, peer, self._stream())

    def send(self, buf: Any, dst: int, tag: int) -> list:
        self._send_bytes(buf, dst)
        return self._done()

    def recv(self, buf: Any, src: int | None, tag: int) -> Any:
        if src is None:
            raise ValueError("ember.distributed (nccl): recv needs src= (NCCL has no any-source)")
        self._recv_bytes(buf, src)
        return self._done()[0]

    def wait_source(self, request: Any) -> int:
        raise AssertionError("nccl receives always name their source")

    def barrier(self) -> list:
        one = self.cupy.ones(1, np.float32)
        return self.allreduce(one, one, ReduceOp.SUM)

    # -- groups -------------------------------------------------------------------------------
    def split(self, ranks: list[int]) -> NCCLBackend | None:
        """A communicator over ``ranks``: its first rank makes the NCCL id and broadcasts it
        over this one (so every rank here takes part, as in new_group)."""
        uid = np.asarray(self.new_id() if self.rank == ranks[0] else [0] * 128, np.int64)
        buf = self.stage(uid)
        self._wait(self.broadcast(buf, ranks[0]))
        if self.rank not in ranks:
            return None
        return NCCLBackend(len(ranks), tuple(int(v) for v in buf.get()), ranks.index(self.rank))

    def _wait(self, events: list) -> None:
        for e in events:
            e.event.synchronize()

    def abort(self) -> None:
        self.comm.abort()

    def close(self) -> None:
        self.comm.destroy()
