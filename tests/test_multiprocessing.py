"""ember.multiprocessing with real processes: shared tensors and modules seen by the parent and
by each other (Hogwild training in 2 processes), spawn's error reporting, and the tensors that
cannot cross. Each process is joined with a wall-clock timeout."""

from __future__ import annotations

import multiprocessing
import pickle
import subprocess
import sys
import time
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.multiprocessing

import ember
import ember.multiprocessing as mp

TIMEOUT = 120  # seconds for any child to start (it imports ember) and finish


def _join(processes: list, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    for p in processes:
        p.join(max(deadline - time.monotonic(), 0))
    alive = [p for p in processes if p.is_alive()]
    for p in alive:
        p.terminate()
        p.join()
    assert not alive, f"{len(alive)} process(es) still running after {timeout} s"
    assert [p.exitcode for p in processes] == [0] * len(processes)


# -- what the children run (module level: spawn imports them by name) ---------------------------
def _fill(t: ember.Tensor, value: float) -> None:
    assert t.is_shared()
    t.fill_(value)


def _add_rank(rank: int, t: ember.Tensor) -> None:
    t[rank].add_(rank + 1.0)


def _raise(rank: int) -> None:
    if rank == 1:
        raise ValueError("child 1 fails on purpose")


def _exit(rank: int) -> None:
    raise SystemExit(3)


def _echo(queue: Any, replies: Any) -> None:
    t = queue.get(timeout=TIMEOUT)
    t.mul_(2.0)
    replies.put(t.is_shared())


def _hogwild(rank: int, model: ember.nn.Module, steps: int) -> None:
    gen = np.random.default_rng(rank)
    true_w = np.arange(1.0, 5.0, dtype=np.float32)
    opt = ember.optim.SGD(model.parameters(), lr=0.05)
    for _ in range(steps):
        x = gen.standard_normal((16, 4)).astype(np.float32)
        y = x @ true_w + 0.5
        loss = ember.nn.functional.mse_loss(
            model(ember.tensor(x)).squeeze(1), ember.tensor(y.astype(np.float32))
        )
        opt.zero_grad()
        loss.backward()
        opt.step()


# -- the standard library's names ---------------------------------------------------------------
def test_every_name_of_multiprocessing_is_there() -> None:
    for name in multiprocessing.__all__:
        assert getattr(mp, name) is getattr(multiprocessing, name), name
    for name in ("spawn", "start_processes", "ProcessContext", "ProcessRaisedException"):
        assert hasattr(torch.multiprocessing, name) and hasattr(mp, name), name
    assert mp.get_sharing_strategy() in mp.get_all_sharing_strategies()
    mp.set_sharing_strategy("file_system")
    with pytest.raises(ValueError, match="'file_descriptor' is not one of ember's"):
        mp.set_sharing_strategy("file_descriptor")


# -- sharing in one process ---------------------------------------------------------------------
def test_share_memory_moves_the_tensor_and_its_views_keep_working() -> None:
    base = ember.arange(6.0)
    t = base.reshape(2, 3)
    assert not t.is_shared() and t.share_memory_() is t
    assert t.is_shared() and base.is_shared() and t[1].is_shared()
    t.add_(1.0)
    np.testing.assert_array_equal(base.numpy(), np.arange(1.0, 7.0))
    moved = ForkingPickler.loads(ForkingPickler.dumps(t))
    moved.mul_(10.0)  # the same memory, mapped again
    np.testing.assert_array_equal(t.numpy(), np.arange(10.0, 70.0, 10.0).reshape(2, 3))


def test_a_tensor_that_is_not_shared_is_sent_by_value() -> None:
    t = ember.ones(3)
    copy = ForkingPickler.loads(ForkingPickler.dumps(t))
    copy.add_(1.0)
    assert not copy.is_shared() and float(t.sum()) == 3.0


def test_module_share_memory_shares_parameters_gradients_and_buffers() -> None:
    model = ember.nn.Sequential(ember.nn.Linear(3, 2), ember.nn.BatchNorm1d(2))
    model(ember.randn(4, 3)).sum().backward()
    assert model.share_memory() is model
    assert all(p.is_shared() and p.grad.is_shared() for p in model.parameters())
    assert all(b.is_shared() for b in model.buffers() if b.is_floating_point())
    sent = ForkingPickler.loads(ForkingPickler.dumps(model))
    assert all(type(p) is ember.nn.Parameter for p in sent.parameters())
    with ember.no_grad():
        next(sent.parameters()).zero_()
    assert float(next(model.parameters()).abs().sum()) == 0.0


def test_a_non_leaf_that_requires_grad_is_refused_like_torch() -> None:
    e = ember.ones(2, requires_grad=True) * 2
    t = torch.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="refusing"):
        ForkingPickler.dumps(t)
    with pytest.raises(RuntimeError, match="refusing to send a tensor that requires grad"):
        ForkingPickler.dumps(e)
    ForkingPickler.dumps(e.detach())  # the data alone may go
    pickle.dumps(ember.ones(2, requires_grad=True))  # and leaves


# -- real processes -----------------------------------------------------------------------------
def _child_fills_shared_tensor(method: str) -> None:
    """A child started by ``method`` fills a shared tensor; the parent sees its writes."""
    context = mp.get_context(method)
    t = ember.zeros(2, 3).share_memory_()
    p = context.Process(target=_fill, args=(t, 7.0))
    p.start()
    _join([p])
    np.testing.assert_array_equal(t.numpy(), np.full((2, 3), 7.0))


def test_a_spawned_childs_writes_to_a_shared_tensor_are_seen_by_the_parent() -> None:
    _child_fills_shared_tensor("spawn")


def test_a_forked_childs_writes_to_a_shared_tensor_are_seen_by_the_parent() -> None:
    # forked from a fresh interpreter: a test worker that ran JAX (or any library with its own
    # threads) earlier cannot be forked safely, and its child may hang on a copied lock
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "import test_multiprocessing as t; t._child_fills_shared_tensor('fork')"
    )
    here = str(Path(__file__).resolve().parent)
    done = subprocess.run(
        [sys.executable, "-c", code, here], capture_output=True, text=True, timeout=TIMEOUT
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_spawned_processes_write_into_one_tensor() -> None:
    t = ember.zeros(2, 2).share_memory_()
    context = mp.spawn(_add_rank, args=(t,), nprocs=2, join=False)
    deadline = time.monotonic() + TIMEOUT
    while not context.join(timeout=1.0):
        assert time.monotonic() < deadline, "spawned processes did not finish"
    np.testing.assert_array_equal(t.numpy(), [[1.0, 1.0], [2.0, 2.0]])


def test_a_tensor_sent_on_a_queue_stays_shared() -> None:
    context = mp.get_context("spawn")
    queue, replies = context.Queue(), context.Queue()
    p = context.Process(target=_echo, args=(queue, replies))
    p.start()
    t = ember.ones(4).share_memory_()
    queue.put(t)
    assert replies.get(timeout=TIMEOUT) is True
    _join([p])
    np.testing.assert_array_equal(t.numpy(), np.full(4, 2.0))


def test_hogwild_training_in_two_processes_updates_the_parents_model() -> None:
    ember.manual_seed(0)
    model = ember.nn.Linear(4, 1)
    model.share_memory()
    before = model.weight.detach().numpy().copy()
    context = mp.get_context("spawn")
    processes = [context.Process(target=_hogwild, args=(rank, model, 60)) for rank in range(2)]
    for p in processes:
        p.start()
    _join(processes)
    after = model.weight.detach().numpy()
    assert not np.allclose(before, after)
    # both processes pushed the one shared model towards the true weights
    np.testing.assert_allclose(after[0], [1.0, 2.0, 3.0, 4.0], atol=0.2)
    np.testing.assert_allclose(float(model.bias.detach()), 0.5, atol=0.2)


def test_spawn_reports_a_childs_exception_with_its_traceback() -> None:
    with pytest.raises(mp.ProcessRaisedException, match="child 1 fails on purpose") as info:
        mp.spawn(_raise, nprocs=2)
    assert info.value.error_index == 1 and "Traceback" in str(info.value)


def test_spawn_reports_a_childs_exit_code() -> None:
    with pytest.raises(mp.ProcessExitedException, match="exit code 3") as info:
        mp.spawn(_exit, nprocs=1)
    assert info.value.exit_code == 3
