"""Programs the distributed tests run on every rank (``mpiexec -n N python ranks.py NAME``).

Each checks its results itself (assert) and prints ``ok NAME rank R`` at the end, so that the
test only looks at exit statuses and that line.
"""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import sys
import time
from datetime import timedelta

import numpy as np

import ember
import ember.distributed as dist
from ember.nn.parallel import DistributedDataParallel as DDP


def data(rank: int, shape: tuple = (3, 4), dtype: str = "float64") -> np.ndarray:
    """Rank ``rank``'s input: different on every rank, the same on every run."""
    values = np.random.default_rng(rank).uniform(0.5, 2.0, shape)
    return values.astype(dtype) if dtype.startswith("float") else (values * 10).astype(dtype)


def collectives(rank: int, n: int) -> None:
    everyone = [data(r) for r in range(n)]
    expect = {
        dist.ReduceOp.SUM: np.sum(everyone, 0),
        dist.ReduceOp.AVG: np.mean(everyone, 0),
        dist.ReduceOp.PRODUCT: np.prod(everyone, 0),
        dist.ReduceOp.MIN: np.min(everyone, 0),
        dist.ReduceOp.MAX: np.max(everyone, 0),
    }
    for op, want in expect.items():
        t = ember.tensor(data(rank))
        dist.all_reduce(t, op)
        np.testing.assert_allclose(t.numpy(), want, rtol=1e-12)
        work = dist.all_reduce(u := ember.tensor(data(rank)), op, async_op=True)
        work.wait()
        assert work.is_completed()
        np.testing.assert_allclose(u.numpy(), want, rtol=1e-12)
        t = ember.tensor(data(rank))
        dist.reduce(t, dst=n - 1, op=op)
        if rank == n - 1:
            np.testing.assert_allclose(t.numpy(), want, rtol=1e-12)
        else:
            np.testing.assert_array_equal(t.numpy(), data(rank))
    for dtype in ("float32", "int64", "int32", "float16"):
        t = ember.tensor(data(rank, dtype=dtype))
        dist.all_reduce(t)
        want = np.sum([data(r, dtype=dtype) for r in range(n)], 0, dtype=np.float64)
        np.testing.assert_allclose(t.numpy(), want, rtol=2e-3 if dtype == "float16" else 1e-6)
        assert t.numpy().dtype == np.dtype(dtype)
    flags = ember.tensor(np.array([rank == 0, False, True]))
    dist.all_reduce(flags)  # bool SUM is a logical or
    assert flags.numpy().tolist() == [True, False, True]

    t = ember.tensor(data(rank))
    dist.broadcast(t, src=1)
    np.testing.assert_array_equal(t.numpy(), data(1))
    ints = ember.tensor(data(rank, dtype="int64"))
    dist.broadcast(ints, src=0, async_op=True).wait()
    np.testing.assert_array_equal(ints.numpy(), data(0, dtype="int64"))

    out = [ember.zeros(3, 4, dtype=ember.float64) for _ in range(n)]
    dist.all_gather(out, ember.tensor(data(rank)))
    for r in range(n):
        np.testing.assert_array_equal(out[r].numpy(), data(r))
    flat = ember.zeros(n * 3, 4, dtype=ember.float64)
    dist.all_gather_into_tensor(flat, ember.tensor(data(rank)))
    np.testing.assert_array_equal(flat.numpy(), np.concatenate(everyone))
    objects = [None] * n
    dist.all_gather_object(objects, {"rank": rank, "name": "x" * rank})
    assert objects == [{"rank": r, "name": "x" * r} for r in range(n)]
    listed = [f"from {rank}", rank] if rank == 1 else [None, None]
    dist.broadcast_object_list(listed, src=1)
    assert listed == ["from 1", 1]

    dst = n - 1
    gathered = [ember.zeros(3, 4, dtype=ember.float64) for _ in range(n)] if rank == dst else None
    dist.gather(ember.tensor(data(rank)), gathered, dst=dst)
    if rank == dst:
        for r in range(n):
            np.testing.assert_array_equal(gathered[r].numpy(), data(r))
    got = ember.zeros(3, 4, dtype=ember.float64)
    parts = [ember.tensor(data(10 + r)) for r in range(n)] if rank == 0 else None
    dist.scatter(got, parts, src=0)
    np.testing.assert_array_equal(got.numpy(), data(10 + rank))

    inputs = [ember.tensor(data(rank * n + i)) for i in range(n)]
    mine = ember.zeros(3, 4, dtype=ember.float64)
    dist.reduce_scatter(mine, inputs)
    want = np.sum([data(r * n + rank) for r in range(n)], 0)
    np.testing.assert_allclose(mine.numpy(), want, rtol=1e-12)
    block = ember.zeros(2, dtype=ember.float64)
    full = ember.tensor(np.arange(2 * n, dtype=np.float64) * (rank + 1))
    dist.reduce_scatter_tensor(block, full, op=dist.ReduceOp.AVG)
    scale = np.mean(np.arange(1, n + 1))
    np.testing.assert_allclose(block.numpy(), np.arange(2 * rank, 2 * rank + 2) * scale)

    # send/recv around a ring, blocking and not, and a receive from any rank
    right, left = (rank + 1) % n, (rank - 1) % n
    box = ember.zeros(3, 4, dtype=ember.float64)
    sending = dist.isend(ember.tensor(data(rank)), right)
    dist.irecv(box, left).wait()
    sending.wait()
    np.testing.assert_array_equal(box.numpy(), data(left))
    if rank == 0:
        senders = {dist.recv(box, tag=7) for _ in range(n - 1)}
        assert senders == set(range(1, n)), senders
    else:
        dist.send(ember.tensor(data(rank)), 0, tag=7)
    dist.barrier()

    # a group of the even ranks: ranks are global in src=, results only on members
    evens = dist.new_group(list(range(0, n, 2)))
    t = ember.tensor(data(rank))
    dist.all_reduce(t, group=evens)
    if rank % 2 == 0:
        assert dist.get_world_size(evens) == len(range(0, n, 2))
        np.testing.assert_allclose(t.numpy(), np.sum(everyone[::2], 0), rtol=1e-12)
    else:
        assert evens is dist.GroupMember.NON_GROUP_MEMBER and dist.get_rank(evens) == -1
        np.testing.assert_array_equal(t.numpy(), data(rank))

    # disagreeing ranks fail on every rank, naming both calls; the group stays usable
    bad = ember.zeros(3 + (rank == 1), dtype=ember.float32)
    try:
        dist.all_reduce(bad)
    except dist.DistBackendError as exc:
        assert "rank 0 called all_reduce(float32 tensor of shape (3,)" in str(exc), exc
        assert "rank 1 called all_reduce(float32 tensor of shape (4,)" in str(exc), exc
    else:
        raise AssertionError("mismatched shapes were not detected")
    try:
        if rank == 0:
            dist.broadcast(ember.zeros(2), src=0)
        else:
            dist.all_reduce(ember.zeros(2))
    except dist.DistBackendError as exc:
        assert "broadcast(" in str(exc) and "all_reduce(" in str(exc), exc
    else:
        raise AssertionError("different collectives were not detected")
    dist.barrier()


def functional(rank: int, n: int) -> None:
    """ember.distributed.nn.functional against NumPy: values and gradients (loss on rank r is
    sum(y * w_r), so x's gradient gathers every rank's w_r)."""
    from ember.distributed.nn import functional as F

    weights = [data(10 + r) for r in range(n)]
    for op, want, grad in [
        (dist.ReduceOp.SUM, np.sum([data(r) for r in range(n)], 0), np.sum(weights, 0)),
        (dist.ReduceOp.AVG, np.mean([data(r) for r in range(n)], 0), np.mean(weights, 0)),
    ]:
        x = ember.tensor(data(rank), requires_grad=True)
        y = F.all_reduce(x, op)
        (y * ember.tensor(weights[rank])).sum().backward()
        np.testing.assert_allclose(y.detach().numpy(), want, rtol=1e-12)
        np.testing.assert_allclose(x.grad.numpy(), grad, rtol=1e-12)
        np.testing.assert_array_equal(x.detach().numpy(), data(rank))  # not in place
    x = ember.tensor(data(rank), requires_grad=True)
    y = F.broadcast(x, src=n - 1)
    (y * ember.tensor(weights[rank])).sum().backward()
    np.testing.assert_array_equal(y.detach().numpy(), data(n - 1))
    expect = np.sum(weights, 0) if rank == n - 1 else np.zeros((3, 4))
    np.testing.assert_allclose(x.grad.numpy(), expect, rtol=1e-12)


def killed(rank: int, n: int) -> None:
    """Rank 1 dies; the others must stop with a clear error, not hang."""
    dist.barrier()
    if rank == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    for _ in range(100):
        dist.all_reduce(ember.ones(4))
        time.sleep(0.05)


def hung(rank: int, n: int) -> None:
    """Rank 1 hangs outside any collective; rank 0's watchdog must fire."""
    dist.barrier()
    if rank == 1:
        time.sleep(60)
    dist.all_reduce(ember.ones(4))


class WithSpare(ember.nn.Module):
    """A model with a layer it never calls: find_unused_parameters' case."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.body = mlp(seed)
        self.spare = ember.nn.Linear(3, 3)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        return self.body(x)


def mlp(seed: int) -> ember.nn.Module:
    ember.manual_seed(seed)
    return ember.nn.Sequential(ember.nn.Linear(8, 16), ember.nn.Tanh(), ember.nn.Linear(16, 4))


def train(model: ember.nn.Module, batches: list, accumulate: int = 1, ddp: object = None) -> None:
    """20 SGD steps; each batch in ``accumulate`` micro-batches, synchronised on the last."""
    opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for x, y in batches:
        opt.zero_grad()
        for i, (xs, ys) in enumerate(zip(x.chunk(accumulate), y.chunk(accumulate))):
            quiet = ddp is not None and i < accumulate - 1
            with ddp.no_sync() if quiet else contextlib.nullcontext():
                loss = ((model(xs) - ys) ** 2).mean() / accumulate
                loss.backward()
        opt.step()


def ddp(rank: int, n: int) -> None:
    """2 or 4 ranks x (128 / n) rows end where 1 process x 128 rows ends, within 1e-5."""
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(20, 128, 8)).astype(np.float32)
    ys = rng.normal(size=(20, 128, 4)).astype(np.float32)
    full = [(ember.tensor(x), ember.tensor(y)) for x, y in zip(xs, ys)]
    share = 128 // n
    mine = [(x[rank * share : (rank + 1) * share], y[rank * share : (rank + 1) * share])
            for x, y in full]  # fmt: skip
    reference = mlp(0)
    train(reference, full)
    want = {k: v.numpy() for k, v in reference.state_dict().items()}
    for accumulate, cap, unused in [(1, None, False), (2, 0.0005, False), (1, 0.0005, True)]:
        model = WithSpare(0) if unused else mlp(0)
        if rank:  # different start values: wrapping must broadcast rank 0's
            with ember.no_grad():
                for p in model.parameters():
                    p.add_(rank)
        wrapped = DDP(model, bucket_cap_mb=cap, find_unused_parameters=unused)
        assert (len(wrapped._bucket_list) > 1) == (cap is not None)
        train(wrapped, mine, accumulate, wrapped)
        got = wrapped.state_dict()
        for key, value in want.items():
            name = ("module.body." if unused else "module.") + key
            np.testing.assert_allclose(got[name].numpy(), value, atol=1e-5, rtol=0)
        if unused:
            assert model.spare.weight.grad is None


def normed(seed: int) -> ember.nn.Module:
    """``mlp`` with a BatchNorm (made SyncBatchNorm under DDP): buffers and statistics to sync."""
    ember.manual_seed(seed)
    return ember.nn.Sequential(
        ember.nn.Linear(8, 16), ember.nn.BatchNorm1d(16), ember.nn.Tanh(), ember.nn.Linear(16, 4)
    )


def ddp_jit(rank: int, n: int) -> None:
    """A training step compiled by ember.jit inside DDP: 2 or 4 ranks x (128 / n) rows end where
    1 eager process x 128 rows ends, within 1e-5, with the all-reduces as nodes of the graph."""
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(20, 128, 8)).astype(np.float32)
    ys = rng.normal(size=(20, 128, 4)).astype(np.float32)
    share = slice(rank * 128 // n, (rank + 1) * 128 // n)
    for build in (mlp, normed):
        reference = build(0)
        train(reference, [(ember.tensor(x), ember.tensor(y)) for x, y in zip(xs, ys)])
        model = build(0)
        if rank:
            with ember.no_grad():
                for p in model.parameters():
                    p.add_(rank)
        wrapped = DDP(ember.nn.SyncBatchNorm.convert_sync_batchnorm(model), bucket_cap_mb=0.0005)
        opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

        @ember.jit
        def step(x: ember.Tensor, y: ember.Tensor) -> ember.Tensor:
            opt.zero_grad()
            loss = ((wrapped(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            return loss.detach()

        for x, y in zip(xs, ys):
            step(ember.tensor(x[share]), ember.tensor(y[share]))
        nodes = [node.prim.name for node in step.graph.nodes]
        buckets = len(wrapped._bucket_list)
        assert buckets > 1 and nodes.count("AllReduce") >= buckets, nodes
        assert step.traces == 1, step.traces  # every step after the warm-up ran compiled
        got = wrapped.state_dict()
        for key, value in reference.state_dict().items():
            np.testing.assert_allclose(got["module." + key].numpy(), value.numpy(), atol=1e-5,
                                       rtol=0, err_msg=key)  # fmt: skip


def syncbn(rank: int, n: int) -> None:
    """SyncBatchNorm over n ranks' shares equals BatchNorm over the whole batch, both ways."""
    rng = np.random.default_rng(1)
    x = rng.normal(2.0, 3.0, size=(8 * n, 3, 5))
    g = rng.normal(size=x.shape)
    whole = ember.nn.BatchNorm1d(3, dtype=ember.float64)
    with ember.no_grad():
        whole.weight.copy_(ember.tensor([0.5, 1.5, 2.0]))
    sync = ember.nn.SyncBatchNorm.convert_sync_batchnorm(ember.nn.Sequential(copy.deepcopy(whole)))[
        0
    ]
    assert type(sync) is ember.nn.SyncBatchNorm
    xw = ember.tensor(x, requires_grad=True)
    expect = whole(xw)
    (expect * ember.tensor(g)).sum().backward()
    part = slice(8 * rank, 8 * rank + 8)
    xs = ember.tensor(x[part], requires_grad=True)
    out = sync(xs)
    (out * ember.tensor(g[part])).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), expect.detach().numpy()[part], atol=1e-10)
    np.testing.assert_allclose(xs.grad.numpy(), xw.grad.numpy()[part], atol=1e-10)
    # parameter gradients are per-rank sums: their all-reduce (DDP's job) is the whole batch's
    for a, b in [(sync.weight, whole.weight), (sync.bias, whole.bias)]:
        total = a.grad.clone()
        dist.all_reduce(total)
        np.testing.assert_allclose(total.numpy(), b.grad.numpy(), atol=1e-10)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(sync, name).numpy(), getattr(whole, name).numpy(),
                                   atol=1e-10)  # fmt: skip


SCENARIOS = {"collectives": collectives, "functional": functional, "killed": killed,
             "hung": hung, "ddp": ddp, "ddp_jit": ddp_jit, "syncbn": syncbn}  # fmt: skip


def main() -> None:
    name = sys.argv[1]
    timeout = timedelta(seconds=float(os.environ.get("TEST_DIST_TIMEOUT", "60")))
    dist.init_process_group("gloo", timeout=timeout)
    rank, n = dist.get_rank(), dist.get_world_size()
    SCENARIOS[name](rank, n)
    print(f"ok {name} rank {rank}", flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
