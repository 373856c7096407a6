"""DistributedDataParallel and SyncBatchNorm: data-parallel training over ember.distributed.

DDP keeps one replica of the model per rank. Wrapping broadcasts rank 0's parameters and
buffers; during backward each parameter's post-accumulate-grad hook marks it ready, and a
bucket (parameters in reverse registration order, about ``bucket_cap_mb`` each) is all-reduced
asynchronously as soon as all its gradients are in, in bucket order on every rank, while
backward goes on with the layers below. The last hook waits for the buckets and writes the
averaged gradients back into ``.grad``. Inside ``ember.jit`` each bucket's all-reduce is a node
of the compiled step instead (``ember.distributed.nn.functional.all_reduce``), run in place of
the asynchronous one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ember import distributed as dist
from ember.autograd.grad_mode import STATE, no_grad
from ember.distributed.nn import functional
from ember.nn.layers.normalization import _BatchNorm
from ember.nn.module import Module
from ember.tensor import Tensor

__all__ = ["DistributedDataParallel", "SyncBatchNorm"]


class _Bucket:
    """Parameters whose gradients travel in one all-reduce."""

    def __init__(self, params: list[Tensor]) -> None:
        self.params = params
        self.sizes = [p.numel() for p in params]
        self.ready: set[int] = set()
        self.flat: Tensor | None = None
        self.work: Any = None
        self.nbytes = sum(p.numel() * p._data.itemsize for p in params)
        self.launched = self.completed = 0.0  # perf_counter times of its last all-reduce


def _buckets(params: Sequence[Tensor], cap_bytes: int) -> list[_Bucket]:
    """Consecutive parameters of one dtype, at most ``cap_bytes`` a bucket (one if larger)."""
    buckets: list[list[Tensor]] = []
    size = 0
    for p in params:
        nbytes = p.numel() * p._data.itemsize
        if not buckets or size + nbytes > cap_bytes or buckets[-1][0].dtype is not p.dtype:
            buckets.append([])
            size = 0
        buckets[-1].append(p)
        size += nbytes
    return [_Bucket(b) for b in buckets]


def _flatten(tensors: Sequence[Tensor | None], like: Sequence[Tensor]) -> np.ndarray:
    """The tensors' values end to end, on the host (zeros for a missing gradient)."""
    from ember.arrays import backend_of

    parts = [
        backend_of(t._data).to_host(t._data).ravel()
        if t is not None
        else np.zeros(p.numel(), p._data.dtype)
        for t, p in zip(tensors, like)
    ]
    return np.concatenate(parts) if parts else np.zeros(0)


def _unflatten_into(flat: np.ndarray, tensors: Sequence[Tensor]) -> None:
    from ember.arrays import backend_of

    offset = 0
    for t in tensors:
        n = t.numel()
        t._data[...] = backend_of(t._data).asarray(flat[offset : offset + n]).reshape(t._data.shape)
        offset += n


def _leaves(outputs: Any) -> set[int]:
    """ids of the leaf tensors that ``outputs``' autograd graph reaches."""
    stack: list[Any] = []
    todo = [outputs]
    while todo:
        item = todo.pop()
        if isinstance(item, Tensor):
            if item.node is not None:
                stack.append(item.node)
        elif isinstance(item, (list, tuple)):
            todo.extend(item)
        elif isinstance(item, dict):
            todo.extend(item.values())
    seen: set[int] = set()
    found: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for edge in node.edges:
            if isinstance(edge, Tensor):
                found.add(id(edge))
            elif edge is not None:
                stack.append(edge)
    return found


class DistributedDataParallel(Module):
    """``module`` replicated on every rank, its gradients averaged across ranks in backward."""

    def __init__(
        self,
        module: Module,
        device_ids: Sequence[Any] | None = None,
        output_device: Any = None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        process_group: Any = None,
        bucket_cap_mb: float | None = None,
        find_unused_parameters: bool = False,
        check_reduction: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
    ) -> None:
        super().__init__()
        if not dist.is_initialized():
            raise RuntimeError(
                "DistributedDataParallel: the default process group is not initialized\n"
                "hint: call ember.distributed.init_process_group('gloo') first"
            )
        self.module = module
        self.process_group = process_group
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.require_backward_grad_sync = True
        self.device_ids = list(device_ids or [])
        group = self._group()
        self._world = dist.get_world_size(group)
        self._root = group.ranks[0] if group is not None else 0
        self._params = [p for p in module.parameters() if p.requires_grad]
        self._check_same_model()
        self._sync(list(module.parameters()) + self._buffers_list())
        cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 2**20)
        self._bucket_list = _buckets(self._params[::-1], cap)
        self._bucket_of = {id(p): b for b in self._bucket_list for p in b.params}
        self._launched = 0
        self.backward_end = 0.0  # when the last gradient hook of the last backward ran
        for p in self._params:
            p.register_post_accumulate_grad_hook(self._grad_ready)

    def _group(self) -> Any:
        return self.process_group if self.process_group is not None else dist.GroupMember.WORLD

    def _buffers_list(self) -> list[Tensor]:
        return [b for b in self.module.buffers() if b is not None]

    def _check_same_model(self) -> None:
        """Fail on every rank, naming the first difference, unless all wrap the same model."""
        state = self.module.state_dict()
        mine = [(k, tuple(v.shape), str(v.dtype)) for k, v in state.items()]
        everyone: list[Any] = [None] * self._world
        dist.all_gather_object(everyone, mine, group=self.process_group)
        for rank, theirs in enumerate(everyone):
            if theirs != everyone[0]:
                diff = next((a, b) for a, b in zip(everyone[0] + [None], theirs + [None]) if a != b)
                raise RuntimeError(
                    f"DistributedDataParallel: the ranks wrap different models: rank "
                    f"{self._group().ranks[0]} has {diff[0]} where rank "
                    f"{self._group().ranks[rank]} has {diff[1]}"
                )

    def _sync(self, tensors: list[Tensor]) -> None:
        """Rank 0's values into ``tensors`` on every rank, one broadcast per dtype (inside
        ``ember.jit``, one recorded broadcast per tensor)."""
        if STATE.tracer is not None:
            with no_grad():
                for t in tensors:
                    t.copy_(functional.broadcast(t, self._root, self.process_group))
            return
        for dtype in dict.fromkeys(t.dtype for t in tensors):
            group = [t for t in tensors if t.dtype is dtype]
            flat = Tensor._wrap(_flatten(group, group))
            dist.broadcast(flat, src=self._root, group=self.process_group)
            _unflatten_into(flat._data, group)

    # -- forward ------------------------------------------------------------------------------
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if any(b.ready for b in self._bucket_list):
            raise RuntimeError(
                "DistributedDataParallel: expected to have finished the gradient reduction of "
                "the previous iteration before starting a new one: some parameters got no "
                "gradient in backward\nhint: pass find_unused_parameters=True to "
                "DistributedDataParallel if parts of the model are not used in every step"
            )
        if self.broadcast_buffers and self._buffers_list():
            self._sync(self._buffers_list())
        out = self.module(*inputs, **kwargs)
        if self.find_unused_parameters and self.require_backward_grad_sync and STATE.grad_enabled:
            used = _leaves(out)
            for p in self._params:
                if id(p) not in used:
                    self._grad_ready(p)
        return out

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside accumulate gradients locally, without communicating; the
        first backward after it averages the accumulated gradients."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # -- backward -----------------------------------------------------------------------------
    def _grad_ready(self, p: Tensor) -> None:
        if not self.require_backward_grad_sync:
            return
        self._bucket_of[id(p)].ready.add(id(p))
        buckets = self._bucket_list
        while self._launched < len(buckets) and len(buckets[self._launched].ready) == len(
            buckets[self._launched].params
        ):
            if STATE.tracer is None:
                self._launch(buckets[self._launched])
            else:
                self._reduce_in_graph(buckets[self._launched])
            self._launched += 1
        for b in buckets[: self._launched]:
            if b.work is not None and not b.completed and b.work.is_completed():
                b.completed = time.perf_counter()  # MPI progresses only inside its calls
        if self._launched == len(buckets):
            self._finish()

    def communication(self) -> list[tuple[int, float, float]]:
        """Each bucket's (bytes, all-reduce start, completion) in the last synchronised
        backward, as ``time.perf_counter`` values to compare with ``backward_end``: how much
        of the communication overlapped backward (``ember bench --distributed``). A
        completion is seen when ember polls, at a gradient hook or the final wait."""
        return [(b.nbytes, b.launched, b.completed) for b in self._bucket_list]

    def _reduce_in_graph(self, b: _Bucket) -> None:
        """Inside ``ember.jit``: the bucket's average as ops the trace records (an AllReduce
        node that calls the process group on every replay), written into ``.grad`` in place.
        It completes before backward goes on: the compiled step runs its nodes in order."""
        from ember.ops.movement import cat

        if any(p.grad is None for p in b.params):
            STATE.tracer.unsupported(
                "DistributedDataParallel: a parameter got no gradient in backward, which "
                "find_unused_parameters handles with a value read on the host",
                "run a step whose parameters are not all used eagerly",
            )
            return
        with no_grad():
            flat = cat([p.grad.reshape(-1) for p in b.params]) / self._world
            reduced = functional.all_reduce(flat, group=self.process_group)
            offset = 0
            for p, n in zip(b.params, b.sizes):
                p.grad.copy_(reduced[offset : offset + n].reshape(p.shape))
                offset += n

    def _launch(self, b: _Bucket) -> None:
        flat = _flatten([p.grad for p in b.params], b.params)
        flat /= self._world  # averaged as the sum of pre-divided gradients, like PyTorch
        b.flat = Tensor._wrap(flat)
        b.work = dist.all_reduce(b.flat, group=self.process_group, async_op=True)
        b.launched, b.completed = time.perf_counter(), 0.0

    def _finish(self) -> None:
        from ember.creation import zeros_like

        self.backward_end = time.perf_counter()
        for b in self._bucket_list:
            if b.work is None:  # reduced inside ember.jit's trace
                b.ready.clear()
                continue
            b.work.wait()
            b.completed = b.completed or time.perf_counter()
            reduced = b.flat._data
            offset = 0
            for p, n in zip(b.params, b.sizes):
                part = reduced[offset : offset + n]
                offset += n
                if p.grad is None:
                    if not part.any():  # unused on every rank: keep None, as PyTorch
                        continue
                    p.grad = zeros_like(p).detach()
                _unflatten_into(part, [p.grad])
            b.ready.clear()
            b.flat = b.work = None
        self._launched = 0


DDP = DistributedDataParallel


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation whose batch statistics cover the batches of all ranks (in training;
    evaluation uses the running statistics, as BatchNorm does). Input: (N, C, ...)."""

    _ndims = (2, 3, 4, 5)

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group: Any = None,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def forward(self, input: Tensor) -> Tensor:
        use_batch = self.training or self.running_mean is None
        if not (
            use_batch and dist.is_initialized() and dist.get_world_size(self.process_group) > 1
        ):
            return super().forward(input)
        from ember.ops.movement import cat

        self._check_input_dim(input)
        momentum = self._momentum()
        c = input.shape[1]
        dims = (0, *range(2, input.ndim))
        count = Tensor._wrap(input._data.dtype.type(input.numel() // c).reshape(1)).to(input.device)
        stats = functional.all_reduce(
            cat([input.sum(dims), (input * input).sum(dims), count]), group=self.process_group
        )
        n = stats[2 * c]
        mean = stats[:c] / n
        var = stats[c : 2 * c] / n - mean * mean
        shape = (1, c) + (1,) * (input.ndim - 2)
        out = (input - mean.reshape(shape)) / (var.reshape(shape) + self.eps).sqrt()
        if self.weight is not None:
            out = out * self.weight.reshape(shape)
        if self.bias is not None:
            out = out + self.bias.reshape(shape)
        if self.training and self.track_running_stats:
            with no_grad():
                unbiased = var * (n / (n - 1).clamp(min=1))  # on tensors: ember.jit traces it
                self.running_mean.mul_(1 - momentum).add_(mean.detach() * momentum)
                self.running_var.mul_(1 - momentum).add_(unbiased.detach() * momentum)
        return out

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """``module`` with every BatchNorm*d replaced by a SyncBatchNorm holding its state."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            like = module.weight if module.weight is not None else module.running_mean
            sync = cls(
                module.num_features, module.eps, module.momentum, module.affine,
                module.track_running_stats, process_group,
                dtype=None if like is None else like.dtype,
                device=None if like is None else like.device,
            )  # fmt: skip
            sync.load_state_dict(module.state_dict())
            if module.weight is not None:
                sync.weight.requires_grad_(module.weight.requires_grad)
            sync.train(module.training)
            return sync
        for name, child in list(module.named_children()):
            setattr(module, name, cls.convert_sync_batchnorm(child, process_group))
        return module
