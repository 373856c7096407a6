"""The ``"mpi"`` backend (also used for ``"gloo"``): collectives over mpi4py on host arrays.

Every call is MPI's nonblocking form (``Iallreduce`` …) so that the caller can poll it with a
deadline; ember's watchdog lives in that polling, not in a thread. Data movement ships raw
bytes (any dtype); reductions use typed buffers, with float16/bfloat16 widened to float32
because MPI has no reduction for them.
"""

from __future__ import annotations

import os
import signal
from typing import Any

import numpy as np

from ember.distributed.common import DistBackendError, ReduceOp

__all__ = ["MPIBackend", "import_mpi", "launched_by_mpi"]

_NATIVE = {np.dtype(t) for t in ("f4", "f8", "i1", "i2", "i4", "i8", "u1")}
_MPI_ENV = ("PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK", "MPI_LOCALRANKID")


def launched_by_mpi() -> bool:
    """Whether an MPI launcher (mpiexec/mpirun) started this process."""
    return any(name in os.environ for name in _MPI_ENV)


def import_mpi() -> Any:
    """mpi4py's ``MPI`` module (initialises MPI), or an ImportError that says what to install."""
    try:
        from mpi4py import MPI
    except ImportError as exc:
        raise ImportError(
            "ember.distributed: backend 'mpi' (and 'gloo') needs mpi4py and an MPI library\n"
            "hint: pip install 'ember[distributed]' (mpi4py and the mpich wheel), or "
            "apt-get install python3-mpi4py"
        ) from exc
    return MPI


class PeerFailure(DistBackendError):
    """The MPI launcher reported that another rank's process failed."""


def _on_peer_failure(signum: int, frame: Any) -> None:
    raise PeerFailure(
        "ember.distributed: another rank's process failed (the MPI launcher signalled it); "
        "stopping this rank too\nhint: the failing rank's own error is printed above or below"
    )


class MPIBackend:
    """One MPI communicator; ``rank``/``size`` are positions within it."""

    name = "mpi"
    device = "cpu"

    def __init__(self, comm: Any) -> None:
        self.MPI = import_mpi()
        self.comm = comm
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        comm.Set_errhandler(self.MPI.ERRORS_RETURN)  # errors as Python exceptions
        MPI = self.MPI
        self.ops = {
            ReduceOp.SUM: MPI.SUM,
            ReduceOp.AVG: MPI.SUM,  # the caller divides by the group size
            ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MIN: MPI.MIN,
            ReduceOp.MAX: MPI.MAX,
            ReduceOp.BAND: MPI.BAND,
            ReduceOp.BOR: MPI.BOR,
            ReduceOp.BXOR: MPI.BXOR,
        }

    @classmethod
    def world(cls) -> MPIBackend:
        """COMM_WORLD; hydra (MPICH's launcher) tells survivors of a failed rank by SIGUSR1,
        which becomes a ``PeerFailure`` here instead of killing the process silently."""
        MPI = import_mpi()
        if signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL:
            try:
                signal.signal(signal.SIGUSR1, _on_peer_failure)
            except ValueError:  # not the main thread: keep the default
                pass
        return cls(MPI.COMM_WORLD)

    # -- buffers ------------------------------------------------------------------------------
    def stage(self, array: Any) -> np.ndarray:
        """A C-contiguous host array with ``array``'s values (the array itself when it is one)."""
        host = array if isinstance(array, np.ndarray) else _to_host(array)
        return np.ascontiguousarray(host)

    def empty(self, shape: tuple, dtype: np.dtype) -> np.ndarray:
        return np.empty(shape, dtype)

    def _bytes(self, a: np.ndarray | None) -> Any:
        return None if a is None else [a.view(np.uint8).reshape(-1), self.MPI.BYTE]

    def _op(self, op: ReduceOp, dtype: np.dtype) -> Any:
        if dtype == np.bool_:
            op = {ReduceOp.SUM: ReduceOp.MAX, ReduceOp.PRODUCT: ReduceOp.MIN}.get(op, op)
        return self.ops[op]

    @staticmethod
    def reducible(a: np.ndarray) -> np.ndarray:
        """``a`` in a dtype MPI reduces (bool as uint8; float16/bfloat16 widened to float32)."""
        if a.dtype == np.bool_:
            return a.view(np.uint8)
        return a if a.dtype in _NATIVE else a.astype(np.float32)

    # -- collectives (each returns MPI requests) ----------------------------------------------
    def allreduce(self, send: np.ndarray, recv: np.ndarray, op: ReduceOp) -> list:
        """``recv`` is ``send`` for an in-place reduction."""
        source = self.MPI.IN_PLACE if send is recv else send
        return [self.comm.Iallreduce(source, recv, self._op(op, send.dtype))]

    def reduce(self, send: np.ndarray, recv: np.ndarray, op: ReduceOp, root: int) -> list:
        return [self.comm.Ireduce(send, recv, self._op(op, send.dtype), root)]

    def reduce_scatter(self, send: np.ndarray, recv: np.ndarray, op: ReduceOp) -> list:
        return [self.comm.Ireduce_scatter_block(send, recv, self._op(op, send.dtype))]

    def broadcast(self, buf: np.ndarray, root: int) -> list:
        return [self.comm.Ibcast(self._bytes(buf), root)]

    def allgather(self, send: np.ndarray, recv: np.ndarray) -> list:
        return [self.comm.Iallgather(self._bytes(send), self._bytes(recv))]

    def gather(self, send: np.ndarray, recv: np.ndarray | None, root: int) -> list:
        return [self.comm.Igather(self._bytes(send), self._bytes(recv), root)]

    def scatter(self, send: np.ndarray | None, recv: np.ndarray, root: int) -> list:
        return [self.comm.Iscatter(self._bytes(send), self._bytes(recv), root)]

    def send(self, buf: np.ndarray, dst: int, tag: int) -> list:
        return [self.comm.Isend(self._bytes(buf), dst, tag)]

    def recv(self, buf: np.ndarray, src: int | None, tag: int) -> Any:
        source = self.MPI.ANY_SOURCE if src is None else src
        return _Receive(self.comm.Irecv(self._bytes(buf), source, tag), self.MPI.Status())

    def barrier(self) -> list:
        return [self.comm.Ibarrier()]

    def wait_source(self, request: _Receive) -> int:
        """The sender of a ``recv`` request whose Test returned True."""
        return request.status.Get_source()

    # -- groups -------------------------------------------------------------------------------
    def split(self, ranks: list[int]) -> MPIBackend | None:
        """A backend over ``ranks`` (positions in this one); None where this rank is not in it.
        Collective over this backend's ranks, as MPI_Comm_create_group's callers."""
        sub = self.comm.Create(self.comm.Get_group().Incl(ranks))
        return None if sub == self.MPI.COMM_NULL else MPIBackend(sub)

    def close(self) -> None:
        if self.comm != self.MPI.COMM_WORLD:
            self.comm.Free()


class _Receive:
    """A receive request that keeps its status (the sender), which a Test fills in."""

    def __init__(self, request: Any, status: Any) -> None:
        self.request, self.status, self.done = request, status, False

    def Test(self) -> bool:  # noqa: N802 - polled like an MPI request
        self.done = self.done or self.request.Test(self.status)  # once done, keep the status
        return self.done


def _to_host(array: Any) -> np.ndarray:
    from ember.arrays import backend_of

    return backend_of(array).to_host(array)
