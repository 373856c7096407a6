"""``torch.distributed`` for ember: process groups and collectives on MPI (CPU) or NCCL (GPU).

``init_process_group("gloo")`` (or ``"mpi"``) joins the MPI job that ``ember run -n N`` or
``mpiexec`` started; ``"nccl"`` builds an NCCL communicator through CuPy. Collectives take
ember tensors and write results into them in place, like PyTorch's. Two things PyTorch's
backends leave to debug modes are always on here: every collective first exchanges a few
integers of metadata, so ranks that pass different shapes, dtypes or collectives fail with an
error naming both calls; and every wait has a deadline (``init_process_group(timeout=)``),
so a rank that dies or hangs turns into a ``DistBackendError`` on the others, never a silent
hang. See docs/distributed.md.
"""

from __future__ import annotations

import atexit
import functools
import os
import pickle
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from importlib.util import find_spec
from typing import Any

import numpy as np

from ember.distributed.common import DistBackendError, DistError, ReduceOp
from ember.tensor import Tensor

__all__ = [
    "Backend",
    "DistBackendError",
    "DistError",
    "GroupMember",
    "ProcessGroup",
    "ReduceOp",
    "Work",
    "all_gather",
    "all_gather_into_tensor",
    "all_gather_object",
    "all_reduce",
    "barrier",
    "broadcast",
    "broadcast_object_list",
    "destroy_process_group",
    "gather",
    "get_backend",
    "get_rank",
    "get_world_size",
    "group",
    "init_process_group",
    "irecv",
    "is_available",
    "is_gloo_available",
    "is_initialized",
    "is_mpi_available",
    "is_nccl_available",
    "isend",
    "new_group",
    "recv",
    "reduce",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "scatter",
    "send",
]

_DEFAULT_TIMEOUT = timedelta(minutes=10)
_GRACE_S = 1.0  # a failed rank waits this long before exiting: the launcher may then stop
# the others, which are printing their own errors
_PATIENT_S = 1.0  # poll (yielding the core between tests) this long, then sleep 1 ms between
# tests: MPI moves a nonblocking collective on only inside its calls, so a sleep stalls it


class Backend:
    """Backend names, as ``torch.distributed.Backend``; ``gloo`` runs on the MPI backend."""

    GLOO = "gloo"
    MPI = "mpi"
    NCCL = "nccl"


class ProcessGroup:
    """A set of ranks that run collectives together, over one backend communicator."""

    def __init__(self, impl: Any, ranks: list[int], timeout: float, backend: str) -> None:
        self.impl, self.ranks, self.timeout, self.backend = impl, ranks, timeout, backend
        self._meta: Any = None

    def meta_buffer(self) -> Any:
        """The buffer the ranks' call descriptions are gathered into, reused by every call
        (the check is waited for before the next collective starts)."""
        if self._meta is None:
            self._meta = self.impl.empty((self.size(), _META), np.int64)
        return self._meta

    def rank(self) -> int:
        """This process's rank within the group."""
        return self.impl.rank

    def size(self) -> int:
        return self.impl.size

    def local(self, global_rank: int, what: str) -> int:
        """The group rank of ``global_rank`` (src=/dst= arguments are global ranks, as in torch)."""
        if global_rank not in self.ranks:
            raise ValueError(
                f"ember.distributed: {what}={global_rank} is not in the group {self.ranks}"
            )
        return self.ranks.index(global_rank)

    def __repr__(self) -> str:
        return f"ProcessGroup({self.backend}, ranks={self.ranks}, rank={self.rank()})"


class GroupMember:
    """``WORLD`` is the default group; ``NON_GROUP_MEMBER`` is what ``new_group`` returns to
    ranks outside the new group (collectives on it do nothing, as in PyTorch)."""

    WORLD: ProcessGroup | None = None
    NON_GROUP_MEMBER = object()


group = GroupMember  # ``dist.group.WORLD``


class _State:
    groups: list[ProcessGroup] = []
    broken: str | None = None  # why the groups are unusable (a timeout), or None
    guarded = False


# -- availability and the default group --------------------------------------------------------
def is_mpi_available() -> bool:
    return find_spec("mpi4py") is not None


is_gloo_available = is_mpi_available


def is_nccl_available() -> bool:
    return find_spec("cupy") is not None


def is_available() -> bool:
    """Whether some backend's library is installed (mpi4py, or CuPy for NCCL)."""
    return is_mpi_available() or is_nccl_available()


def is_initialized() -> bool:
    return GroupMember.WORLD is not None


def _group(g: Any) -> ProcessGroup | None:
    """The group to use (the default for None); None for a rank outside ``g``."""
    if g is GroupMember.NON_GROUP_MEMBER:
        return None
    if g is None:
        if GroupMember.WORLD is None:  # a ValueError, as in torch 2.13
            raise ValueError(
                "ember.distributed: the default process group is not initialized\n"
                "hint: call ember.distributed.init_process_group('gloo') first"
            )
        return GroupMember.WORLD
    return g


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank in ``group`` (the default group: its global rank); -1 outside it."""
    g = _group(group)
    return -1 if g is None else g.rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    g = _group(group)
    return -1 if g is None else g.size()


def get_backend(group: ProcessGroup | None = None) -> str:
    """The backend name given to ``init_process_group`` (``"gloo"``, ``"mpi"`` or ``"nccl"``)."""
    g = _group(group)
    if g is None:
        raise ValueError("ember.distributed: get_backend on a group this rank is not in")
    return g.backend


def _backend_name(backend: str | None) -> str:
    from ember.arrays import cuda_available

    name = (backend or ("nccl" if cuda_available() else "gloo")).lower()
    if "," in name or ":" in name:  # "cpu:gloo,cuda:nccl": the GPU's when there is one
        choice = dict(part.split(":") for part in name.split(","))
        name = choice.get("cuda" if cuda_available() else "cpu") or next(iter(choice.values()))
    if name not in ("gloo", "mpi", "nccl"):
        raise ValueError(
            f"init_process_group: unknown backend {backend!r}: ember has 'gloo'/'mpi' (CPU, "
            "over MPI) and 'nccl' (GPU)"
        )
    return name


def _env_int(name: str, given: int) -> int | None:
    if given is not None and given >= 0:
        return given
    value = os.environ.get(name)
    return int(value) if value else None


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout: timedelta | None = None,
    world_size: int = -1,
    rank: int = -1,
    store: Any = None,
    group_name: str = "",
    pg_options: Any = None,
    device_id: Any = None,
) -> None:
    """Join the default process group.

    ``gloo``/``mpi``: the rank and size come from the MPI launch (``ember run``, ``mpiexec``);
    RANK/WORLD_SIZE (or ``rank=``/``world_size=``), when set, must agree with it. ``nccl``:
    from those variables (or the MPI launch), meeting at MASTER_ADDR:MASTER_PORT (or a
    ``tcp://`` init_method) to share NCCL's id. ``timeout`` bounds every collective's wait.
    """
    if GroupMember.WORLD is not None:
        raise RuntimeError(
            "init_process_group: the default process group is already initialized\n"
            "hint: call destroy_process_group() before initializing it again"
        )
    name = _backend_name(backend)
    seconds = (timeout or _DEFAULT_TIMEOUT).total_seconds()
    want_rank, want_size = _env_int("RANK", rank), _env_int("WORLD_SIZE", world_size)
    if name == "nccl":
        from ember.distributed.rendezvous import nccl_world

        impl = nccl_world(init_method, want_rank, want_size, seconds)
    else:
        impl = _mpi_world(want_rank, want_size)
    world = ProcessGroup(impl, list(range(impl.size)), seconds, name)
    GroupMember.WORLD = world
    _State.groups = [world]
    _State.broken = None
    _guard_exit()


def _mpi_world(want_rank: int | None, want_size: int | None) -> Any:
    from ember.distributed.mpi import MPIBackend

    impl = MPIBackend.world()
    if (want_size is not None and want_size != impl.size) or (
        want_rank is not None and want_rank != impl.rank
    ):
        raise ValueError(
            f"init_process_group: MPI started this process as rank {impl.rank} of {impl.size}, "
            f"but RANK/WORLD_SIZE (or rank=/world_size=) say rank {want_rank} of {want_size}\n"
            "hint: start all ranks with one MPI launch: `ember run -n N -- …` or "
            "`mpiexec -n N …`; processes started separately (torchrun) cannot join one MPI job"
        )
    return impl


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Release ``group``, or every group and the default one."""
    doomed = _State.groups if group is None or group is GroupMember.WORLD else [group]
    for g in doomed:
        if g is not GroupMember.NON_GROUP_MEMBER and _State.broken is None:
            g.impl.close()
    _State.groups = [g for g in _State.groups if g not in doomed]
    if GroupMember.WORLD in doomed:
        GroupMember.WORLD = None
        _stop_failure_signal()


def _stop_failure_signal() -> None:
    """Ignore MPICH's failure signal from now on: its launcher also sends it when another
    rank merely exits first, and a rank that has left the group has nothing to stop."""
    if signal.getsignal(signal.SIGUSR1) is not signal.SIG_DFL:
        try:
            signal.signal(signal.SIGUSR1, signal.SIG_IGN)
        except ValueError:  # not the main thread
            pass


def new_group(
    ranks: Sequence[int] | None = None,
    timeout: timedelta | None = None,
    backend: str | None = None,
    pg_options: Any = None,
    use_local_synchronization: bool = False,
    group_desc: str | None = None,
    device_id: Any = None,
) -> Any:
    """A group of ``ranks`` (global ranks; all by default). Every rank of the default group
    must call it, in the same order; ranks outside get ``GroupMember.NON_GROUP_MEMBER``."""
    world = _group(None)
    assert world is not None
    members = sorted(set(range(world.size()) if ranks is None else ranks))
    if not members or members[0] < 0 or members[-1] >= world.size():
        raise ValueError(f"new_group: ranks {list(ranks or [])} are not ranks of the world")
    impl = world.impl.split(members)
    if impl is None:
        return GroupMember.NON_GROUP_MEMBER
    seconds = timeout.total_seconds() if timeout is not None else world.timeout
    g = ProcessGroup(impl, members, seconds, world.backend)
    _State.groups.append(g)
    return g


# -- fault handling -----------------------------------------------------------------------------
def _guard_exit() -> None:
    """After a failure, leave without MPI_Finalize (it would wait on the lost ranks forever):
    the error is printed first, then the process exits with status 1."""
    if _State.guarded:
        return
    _State.guarded = True
    previous = sys.excepthook

    def hook(kind: type, value: BaseException, tb: Any) -> None:
        _State.broken = _State.broken or f"an uncaught {kind.__name__}"
        previous(kind, value, tb)

    sys.excepthook = hook

    def leave() -> None:
        world = GroupMember.WORLD
        if _State.broken and world is not None and world.size() > 1:
            sys.stdout.flush()
            sys.stderr.flush()
            time.sleep(_GRACE_S)
            os._exit(1)
        _stop_failure_signal()

    atexit.register(leave)


def _wait(g: ProcessGroup, name: str, requests: list, timeout: float | None = None) -> None:
    """Poll ``requests`` until all are done; the watchdog: past the deadline, fail loudly."""
    if _State.broken:
        raise DistBackendError(
            f"ember.distributed: {name}: the process group is unusable after {_State.broken}"
        )
    done = requests[0].Test if len(requests) == 1 else lambda: all(r.Test() for r in requests)
    if done():  # most small collectives: no clock, no loop
        return
    limit = g.timeout if timeout is None else timeout
    start = time.monotonic()
    while not done():
        waited = time.monotonic() - start
        if waited > limit:
            _State.broken = f"{name} timed out"
            if hasattr(g.impl, "abort"):
                g.impl.abort()
            raise DistBackendError(
                f"ember.distributed: {name} timed out after {limit:g} s on rank {get_rank()} "
                f"(group rank {g.rank()} of {g.size()}): at least one rank did not join it "
                "(it died, hangs, or is in a different collective)\n"
                "hint: init_process_group(timeout=timedelta(...)) sets the limit"
            )
        if waited > _PATIENT_S:  # a peer that late is hung or busy: stop taking a core
            time.sleep(1e-3)
        else:
            os.sched_yield()


class Work:
    """The handle of a collective started with ``async_op=True``. ``finish`` runs once the
    requests are done (it copies results into the tensors); it may return further requests
    to wait for (a receive whose sender was unknown)."""

    def __init__(
        self,
        g: ProcessGroup,
        name: str,
        requests: list,
        finish: Callable[[], list | None] | None = None,
        outputs: Sequence[Tensor] = (),
    ) -> None:
        self.group, self.name, self.requests, self.finish = g, name, requests, finish
        self.outputs = list(outputs)
        self.done = False

    def _advance(self) -> bool:
        while all(r.Test() for r in self.requests):
            more = self.finish() if self.finish is not None else None
            if not more:
                self.done = True
                return True
            self.requests = more
        return False

    def is_completed(self) -> bool:
        """Whether the operation has finished (results are in the tensors once True)."""
        return self.done or self._advance()

    def wait(self, timeout: timedelta | None = None) -> bool:
        """Block until done (at most the group's timeout, or ``timeout``)."""
        limit = None if timeout is None else timeout.total_seconds()
        while not self.done:
            _wait(self.group, self.name, self.requests, limit)
            self._advance()
        return True

    def is_success(self) -> bool:
        return self.done

    def result(self) -> list[Tensor]:
        return self.outputs


def _run(
    g: ProcessGroup,
    name: str,
    requests: list,
    finish: Any,
    async_op: bool,
    outputs: Sequence[Tensor] = (),
) -> Work | None:
    work = Work(g, name, requests, finish, outputs)
    if async_op:
        return work
    work.wait()
    return None


# -- metadata checks ----------------------------------------------------------------------------
_CALLS = (
    "all_reduce",
    "broadcast",
    "all_gather",
    "gather",
    "scatter",
    "reduce",
    "reduce_scatter",
    "send",
    "barrier",
    "object",
)
_DTYPES = (
    "bool",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
)
_OPS = list(ReduceOp)
_META = 12  # call, dtype, root or op, ndim, 8 dims


def _meta(call: str, t: Tensor | None, extra: int = -1) -> np.ndarray:
    """What this rank's collective call is, as the integers every rank compares."""
    if t is None:
        return _meta_vector(call, None, (), extra)
    return _meta_vector(call, t._data.dtype, t._data.shape, extra)


@functools.lru_cache(maxsize=256)
def _meta_vector(call: str, dtype: Any, shape: tuple, extra: int) -> np.ndarray:
    """``_meta``'s vector, made once per distinct call (read-only: it is shared)."""
    vec = np.full(_META, -1, np.int64)
    vec[0] = _CALLS.index(call)
    vec[2] = extra
    if dtype is not None:
        vec[1] = _DTYPES.index(dtype.name) if dtype.name in _DTYPES else 99
        vec[3] = len(shape)
        dims = shape[:8]
        vec[4 : 4 + len(dims)] = dims
    vec.flags.writeable = False
    return vec


def _describe(vec: np.ndarray) -> str:
    call = _CALLS[vec[0]] if 0 <= vec[0] < len(_CALLS) else "?"
    if vec[3] < 0:
        return f"{call}()"
    dtype = _DTYPES[vec[1]] if 0 <= vec[1] < len(_DTYPES) else "?"
    shape = tuple(int(d) for d in vec[4 : 4 + min(int(vec[3]), 8)])
    return f"{call}({dtype} tensor of shape {shape}, argument {int(vec[2])})"


def _check(g: ProcessGroup, name: str, vec: np.ndarray) -> None:
    """Fail on every rank, naming two disagreeing calls, unless all ranks passed ``vec``."""
    if g.size() == 1:
        return
    impl = g.impl
    recv = g.meta_buffer()
    _wait(g, name, impl.allgather(impl.stage(vec), recv))
    rows = _host(recv)
    if (rows == rows[0]).all():
        return
    for r in range(1, g.size()):
        if not np.array_equal(rows[r], rows[0]):
            raise DistBackendError(
                f"ember.distributed: {name}: the ranks' calls do not match: rank "
                f"{g.ranks[0]} called {_describe(rows[0])} but rank {g.ranks[r]} called "
                f"{_describe(rows[r])}\nhint: every rank must run the same collectives in the "
                "same order, with tensors of the same shape and dtype"
            )


# -- tensors ------------------------------------------------------------------------------------
def _host(a: Any) -> np.ndarray:
    if isinstance(a, np.ndarray):
        return a
    from ember.arrays import backend_of

    return backend_of(a).to_host(a)


def _stage(g: ProcessGroup, t: Tensor, what: str = "tensor") -> Any:
    if not isinstance(t, Tensor):
        raise TypeError(
            f"ember.distributed: {what} must be an ember Tensor, got {type(t).__name__}"
        )
    return g.impl.stage(t._data)


def _write(t: Tensor, values: Any) -> None:
    """Put ``values`` into ``t`` in place (a new version, as any in-place op)."""
    from ember.arrays import backend_of

    data = t._data
    if values is not data:
        data[...] = backend_of(data).asarray(values).reshape(data.shape)
    t._vc[0] += 1


def _reduce_prep(g: ProcessGroup, name: str, t: Tensor, op: ReduceOp) -> Any:
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{name}: op must be an ember.distributed.ReduceOp, got {op!r}")
    if op is ReduceOp.AVG and not t.is_floating_point():
        raise TypeError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got {t.dtype}")
    return g.impl.reducible(_stage(g, t))


def _averaged(g: ProcessGroup, op: ReduceOp, out: Any) -> Any:
    if op is ReduceOp.AVG:
        out /= g.size()
    return out


def _check_list(name: str, tensors: Sequence[Tensor], g: ProcessGroup, like: Tensor) -> None:
    if len(tensors) != g.size():
        raise ValueError(
            f"{name}: expected a list of {g.size()} tensors (one per rank), got {len(tensors)}"
        )
    for t in tensors:
        if tuple(t.shape) != tuple(like.shape) or t.dtype is not like.dtype:
            raise ValueError(
                f"{name}: every tensor of the list must have the shape and dtype of the "
                f"tensor argument {tuple(like.shape)} {like.dtype}, got {tuple(t.shape)} {t.dtype}"
            )


# -- collectives --------------------------------------------------------------------------------
def all_reduce(
    tensor: Tensor,
    op: ReduceOp = ReduceOp.SUM,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """Combine ``tensor`` across the ranks with ``op``; every rank gets the result in place."""
    g = _group(group)
    if g is None:
        return None
    send = _reduce_prep(g, "all_reduce", tensor, op)
    _check(g, "all_reduce", _meta("all_reduce", tensor, _OPS.index(op)))
    # in place when the tensor's own array can travel (contiguous, a dtype MPI reduces)
    recv = send if send is tensor._data else g.impl.empty(send.shape, send.dtype)

    def finish() -> None:
        _write(tensor, _averaged(g, op, recv))

    return _run(g, "all_reduce", g.impl.allreduce(send, recv, op), finish, async_op, [tensor])


def reduce(
    tensor: Tensor,
    dst: int = 0,
    op: ReduceOp = ReduceOp.SUM,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """Like ``all_reduce``, but only rank ``dst`` receives the result."""
    g = _group(group)
    if g is None:
        return None
    root = g.local(dst, "dst")
    send = _reduce_prep(g, "reduce", tensor, op)
    _check(g, "reduce", _meta("reduce", tensor, root * len(_OPS) + _OPS.index(op)))
    recv = g.impl.empty(send.shape, send.dtype)

    def finish() -> None:
        if g.rank() == root:
            _write(tensor, _averaged(g, op, recv))

    return _run(g, "reduce", g.impl.reduce(send, recv, op, root), finish, async_op, [tensor])


def broadcast(
    tensor: Tensor,
    src: int | None = None,
    group: ProcessGroup | None = None,
    async_op: bool = False,
    group_src: int | None = None,
) -> Work | None:
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every rank."""
    g = _group(group)
    if g is None:
        return None
    root = group_src if group_src is not None else g.local(0 if src is None else src, "src")
    buf = _stage(g, tensor)
    _check(g, "broadcast", _meta("broadcast", tensor, root))

    def finish() -> None:
        if g.rank() != root:
            _write(tensor, buf)

    return _run(g, "broadcast", g.impl.broadcast(buf, root), finish, async_op, [tensor])


def all_gather(
    tensor_list: list[Tensor],
    tensor: Tensor,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """Every rank's ``tensor``, into ``tensor_list[rank]`` on every rank."""
    g = _group(group)
    if g is None:
        return None
    _check_list("all_gather", tensor_list, g, tensor)
    return _gather_all(
        g,
        "all_gather",
        tensor,
        async_op,
        tensor_list,
        lambda recv: [_write(t, recv[i]) for i, t in enumerate(tensor_list)],
    )


def all_gather_into_tensor(
    output_tensor: Tensor,
    input_tensor: Tensor,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """Every rank's ``input_tensor`` stacked (or concatenated on dim 0) into ``output_tensor``."""
    g = _group(group)
    if g is None:
        return None
    if output_tensor.numel() != g.size() * input_tensor.numel():
        raise ValueError(
            f"all_gather_into_tensor: output has {output_tensor.numel()} elements, expected "
            f"world size {g.size()} x input's {input_tensor.numel()}"
        )
    return _gather_all(
        g,
        "all_gather",
        input_tensor,
        async_op,
        [output_tensor],
        lambda recv: _write(output_tensor, recv),
    )


def _gather_all(
    g: ProcessGroup,
    name: str,
    tensor: Tensor,
    async_op: bool,
    outputs: Sequence[Tensor],
    store: Callable[[Any], Any],
) -> Work | None:
    send = _stage(g, tensor)
    _check(g, name, _meta("all_gather", tensor))
    recv = g.impl.empty((g.size(), *send.shape), send.dtype)

    def finish() -> None:
        store(recv)

    return _run(g, name, g.impl.allgather(send, recv), finish, async_op, outputs)


def gather(
    tensor: Tensor,
    gather_list: list[Tensor] | None = None,
    dst: int = 0,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """Every rank's ``tensor`` into ``gather_list`` on rank ``dst``."""
    g = _group(group)
    if g is None:
        return None
    root = g.local(dst, "dst")
    mine = g.rank() == root
    if mine:
        _check_list("gather", gather_list or [], g, tensor)
    send = _stage(g, tensor)
    _check(g, "gather", _meta("gather", tensor, root))
    recv = g.impl.empty((g.size(), *send.shape), send.dtype) if mine else None

    def finish() -> None:
        for i, t in enumerate(gather_list if mine else []):
            _write(t, recv[i])

    out = gather_list if mine else []
    return _run(g, "gather", g.impl.gather(send, recv, root), finish, async_op, out)


def scatter(
    tensor: Tensor,
    scatter_list: list[Tensor] | None = None,
    src: int = 0,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """``scatter_list[rank]`` of rank ``src`` into ``tensor`` on every rank."""
    g = _group(group)
    if g is None:
        return None
    root = g.local(src, "src")
    send = None
    if g.rank() == root:
        _check_list("scatter", scatter_list or [], g, tensor)
        send = g.impl.stage(np.stack([_host(_stage(g, t)) for t in scatter_list or []]))
    _check(g, "scatter", _meta("scatter", tensor, root))
    recv = g.impl.empty(tuple(tensor.shape), tensor._data.dtype)
    return _run(
        g,
        "scatter",
        g.impl.scatter(send, recv, root),
        lambda: _write(tensor, recv),
        async_op,
        [tensor],
    )


def reduce_scatter(
    output: Tensor,
    input_list: list[Tensor],
    op: ReduceOp = ReduceOp.SUM,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """Reduce ``input_list`` elementwise across ranks; rank i gets entry i into ``output``."""
    g = _group(group)
    if g is None:
        return None
    _check_list("reduce_scatter", input_list, g, output)
    from ember.ops.movement import stack

    return reduce_scatter_tensor(output, stack(list(input_list)), op, group, async_op)


def reduce_scatter_tensor(
    output: Tensor,
    input: Tensor,
    op: ReduceOp = ReduceOp.SUM,
    group: ProcessGroup | None = None,
    async_op: bool = False,
) -> Work | None:
    """``input`` (world size x ``output``'s elements) reduced; rank i gets block i."""
    g = _group(group)
    if g is None:
        return None
    if input.numel() != g.size() * output.numel():
        raise ValueError(
            f"reduce_scatter: input has {input.numel()} elements, expected world size "
            f"{g.size()} x output's {output.numel()}"
        )
    send = _reduce_prep(g, "reduce_scatter", input, op)
    _check(g, "reduce_scatter", _meta("reduce_scatter", input, _OPS.index(op)))
    recv = g.impl.empty(send.size // g.size(), send.dtype)

    def finish() -> None:
        _write(output, _averaged(g, op, recv))

    return _run(
        g, "reduce_scatter", g.impl.reduce_scatter(send, recv, op), finish, async_op, [output]
    )


def barrier(
    group: ProcessGroup | None = None, async_op: bool = False, device_ids: Any = None
) -> Work | None:
    """Wait until every rank of the group has reached this call."""
    g = _group(group)
    if g is None:
        return None
    return _run(g, "barrier", g.impl.barrier(), None, async_op)


# -- point to point -----------------------------------------------------------------------------
def isend(tensor: Tensor, dst: int, group: ProcessGroup | None = None, tag: int = 0) -> Work | None:
    """Start sending ``tensor`` to rank ``dst``; a header with its shape and dtype goes first,
    so that the receiver can check its buffer."""
    g = _group(group)
    if g is None:
        return None
    peer = g.local(dst, "dst")
    header = g.impl.stage(_meta("send", tensor))
    payload = _stage(g, tensor)
    requests = g.impl.send(header, peer, 2 * tag) + g.impl.send(payload, peer, 2 * tag + 1)
    return Work(g, "send", requests, None, [tensor])


def irecv(
    tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None, tag: int = 0
) -> Work | None:
    """Start receiving into ``tensor`` from rank ``src`` (any rank when None): the header
    first, checked against ``tensor``, then the payload from the header's sender."""
    g = _group(group)
    if g is None:
        return None
    impl = g.impl
    header = impl.empty(_META, np.int64)
    first = impl.recv(header, None if src is None else g.local(src, "src"), 2 * tag)
    buf = impl.empty(tuple(tensor.shape), tensor._data.dtype)
    work = Work(g, "recv", [first], None, [tensor])
    work.source = src  # type: ignore[attr-defined]
    got_header = False

    def step() -> list | None:
        nonlocal got_header
        if got_header:
            _write(tensor, buf)
            return None
        got_header = True
        peer = g.local(src, "src") if src is not None else impl.wait_source(first)
        work.source = g.ranks[peer]  # type: ignore[attr-defined]
        theirs, mine = _host(header), _meta("send", tensor)
        if not np.array_equal(theirs, mine):
            raise DistBackendError(
                f"ember.distributed: recv: rank {g.ranks[peer]} sent {_describe(theirs)} but "
                f"this rank's buffer is for {_describe(mine)}"
            )
        return [impl.recv(buf, peer, 2 * tag + 1)]

    work.finish = step
    return work


def send(tensor: Tensor, dst: int, group: ProcessGroup | None = None, tag: int = 0) -> None:
    """Send ``tensor`` to rank ``dst`` and wait until it has left."""
    work = isend(tensor, dst, group, tag)
    if work is not None:
        work.wait()


def recv(
    tensor: Tensor, src: int | None = None, group: ProcessGroup | None = None, tag: int = 0
) -> int:
    """Receive into ``tensor`` from ``src`` (any rank when None); returns the sender's rank."""
    work = irecv(tensor, src, group, tag)
    if work is None:
        return -1
    work.wait()
    return work.source  # type: ignore[attr-defined]


# -- objects ------------------------------------------------------------------------------------
def _object_bytes(obj: Any) -> np.ndarray:
    return np.frombuffer(pickle.dumps(obj), np.uint8)


def all_gather_object(object_list: list, obj: Any, group: ProcessGroup | None = None) -> None:
    """Every rank's picklable ``obj`` into ``object_list[rank]`` (ranks must trust each other:
    the objects are unpickled)."""
    g = _group(group)
    if g is None:
        return
    if len(object_list) != g.size():
        raise ValueError(
            f"all_gather_object: object_list must have {g.size()} entries, got {len(object_list)}"
        )
    impl, data = g.impl, _object_bytes(obj)
    _check(g, "all_gather_object", _meta("object", None))
    sizes = impl.empty((g.size(), 1), np.int64)
    _wait(g, "all_gather_object", impl.allgather(impl.stage(np.array([data.size])), sizes))
    lengths = _host(sizes)[:, 0]
    padded = np.zeros(int(lengths.max()), np.uint8)
    padded[: data.size] = data
    recv = impl.empty((g.size(), padded.size), np.uint8)
    _wait(g, "all_gather_object", impl.allgather(impl.stage(padded), recv))
    rows = _host(recv)
    for r in range(g.size()):
        object_list[r] = pickle.loads(rows[r, : lengths[r]].tobytes())


def broadcast_object_list(
    object_list: list, src: int = 0, group: ProcessGroup | None = None, device: Any = None
) -> None:
    """Rank ``src``'s ``object_list`` entries into ``object_list`` on every rank."""
    g = _group(group)
    if g is None:
        return
    impl, root = g.impl, g.local(src, "src")
    data = _object_bytes(list(object_list)) if g.rank() == root else np.zeros(0, np.uint8)
    _check(g, "broadcast_object_list", _meta("object", None, root))
    size = impl.stage(np.array([data.size]))
    _wait(g, "broadcast_object_list", impl.broadcast(size, root))
    buf = impl.stage(data) if g.rank() == root else impl.empty(int(_host(size)[0]), np.uint8)
    _wait(g, "broadcast_object_list", impl.broadcast(buf, root))
    object_list[:] = pickle.loads(_host(buf).tobytes())
