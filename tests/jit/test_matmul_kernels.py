"""The matrix product cut across OpenMP threads while OpenBLAS is held at one
(``ember.jit.matmul_kernels``): equal to NumPy's product for every layout it covers
(transposed operands, broadcast and strided batches, row and column cuts), NumPy's own for
the rest, and a compiled convolution step that uses it agrees with eager mode."""

from __future__ import annotations

import numpy as np
import pytest
import threadpoolctl

import ember
import ember.nn.functional as F
from ember.jit import blas, matmul_kernels, native

pytestmark = [
    pytest.mark.skipif(native.compiler() is None, reason="needs a C compiler"),
    pytest.mark.skipif(blas.find() is None, reason="NumPy's BLAS has no CBLAS entry points"),
]


def _operands(rng, a_shape, b_shape, dtype, a_t, b_t):
    a = rng.standard_normal(a_shape[:-2] + a_shape[-2:][:: -1 if a_t else 1]).astype(dtype)
    b = rng.standard_normal(b_shape[:-2] + b_shape[-2:][:: -1 if b_t else 1]).astype(dtype)
    return (a.swapaxes(-1, -2) if a_t else a), (b.swapaxes(-1, -2) if b_t else b)


CASES = [  # (shapes, whether the cut product covers them)
    ((64, 200), (200, 300), True),  # columns cut
    ((300, 200), (200, 64), True),  # rows cut
    ((3, 50, 70), (3, 70, 40), True),  # batch over threads
    ((1, 80, 90), (90, 100), True),  # one batch, broadcast second operand
    ((2, 3, 40, 50), (2, 3, 50, 60), True),  # two batch dims that flatten
    ((2, 3, 40, 50), (1, 3, 50, 60), False),  # broadcast leading batch dim: NumPy's product
    ((5, 33), (33, 1000), True),  # wide, not a multiple of the cut
]


class _Spy:
    """Counts the compiled drivers' calls."""

    def __init__(self, lib):
        self.lib, self.calls = lib, 0

    def __getattr__(self, name):
        self.calls += 1
        return getattr(self.lib, name)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a_t, b_t", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("a_shape, b_shape, covered", CASES)
def test_held_product_equals_numpy(a_shape, b_shape, covered, a_t, b_t, dtype, monkeypatch):
    spy = _Spy(matmul_kernels._library())
    monkeypatch.setattr(matmul_kernels, "_library", lambda: spy)
    monkeypatch.setattr(matmul_kernels, "_MIN_FLOPS", 0)
    rng = np.random.default_rng(0)
    a, b = _operands(rng, a_shape, b_shape, dtype, a_t, b_t)
    want = np.matmul(a, b)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    with threadpoolctl.threadpool_limits(2, user_api="blas"), blas.hold(blas.find()) as threads:
        assert threads == 2 and blas.held() == 2
        got = matmul_kernels.matmul(np, a, b)
        out = np.full(want.shape, np.nan, dtype)
        into = matmul_kernels.matmul(np, a, b, out=out)
    assert blas.held() == 0
    assert into is out
    assert spy.calls == (2 if covered else 0)
    for res in (got, out):
        np.testing.assert_allclose(res, want, rtol=tol, atol=tol * np.abs(want).max())


def test_hold_restores_threads_and_nests():
    lib = blas.find()
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        with blas.hold(lib) as outer:
            assert lib.get_threads() == 1
            with blas.hold(lib) as inner:
                assert inner == outer == 2
            assert lib.get_threads() == 1
        assert lib.get_threads() == 2


def test_holds_overlapping_across_threads_restore_once_the_last_leaves():
    import threading

    lib = blas.find()
    inside, leave = threading.Event(), threading.Event()

    def other():
        with blas.hold(lib):
            inside.set()
            leave.wait(10)

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        worker = threading.Thread(target=other)
        worker.start()
        inside.wait(10)
        with blas.hold(lib) as threads:
            assert threads == 2 and lib.get_threads() == 1
        assert lib.get_threads() == 1  # the other thread still holds
        leave.set()
        worker.join()
        assert lib.get_threads() == 2 and blas.held() == 0


def test_compiled_conv_step_with_linear_head_at_two_threads_matches_eager():
    """A step with a convolution holds OpenBLAS; its linear layer's products (forward and
    both gradients) then go through the cut product and agree with eager mode."""
    rng = np.random.default_rng(1)
    x = ember.tensor(rng.standard_normal((32, 3, 12, 12)).astype(np.float32))
    w = ember.tensor(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), requires_grad=True)
    lin = ember.tensor(rng.standard_normal((10, 800)).astype(np.float32), requires_grad=True)

    def step(x, w, lin):
        h = F.relu(F.conv2d(x, w)).reshape(32, -1) @ lin.mT
        return ember.autograd.grad([(h * h).sum()], [w, lin])

    want = [g.numpy() for g in step(x, w, lin)]
    compiled = ember.jit(step)
    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        got = [[g.numpy() for g in compiled(x, w, lin)] for _ in range(2)]
    executor = compiled._last.executor
    assert executor.blas is not None
    assert executor.parallel_min == ember.config.jit_parallel_min_pooled
    plain = ember.jit(lambda x, lin: ((x.reshape(32, -1)[:, :400] @ lin[:, :400].mT) ** 2).sum())
    with ember.no_grad():
        plain(x, lin)
    assert plain._last.executor.parallel_min == ember.config.jit_parallel_min
    for run in got:
        for g, e in zip(run, want):
            np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4 * np.abs(e).max())


@pytest.mark.parametrize("threads", [1, 2])
def test_stack_times_matrix_is_one_product_of_its_rows(threads, monkeypatch):
    """A stack of matrices times one matrix: one product of all the rows (into a planned
    buffer too), equal to NumPy's product per matrix; a stack whose rows do not flatten to one
    stride keeps NumPy's."""
    rng = np.random.default_rng(2)
    calls = []
    real = matmul_kernels._product
    monkeypatch.setattr(
        matmul_kernels, "_product", lambda a, b, out: calls.append(a.shape) or real(a, b, out)
    )
    a = rng.standard_normal((6, 40, 30)).astype(np.float32)
    b = rng.standard_normal((30, 50)).astype(np.float32)
    sliced = a[:, :20]  # half of each matrix: the rows do not follow at one stride
    with threadpoolctl.threadpool_limits(threads, user_api="blas"), blas.hold(blas.find()):
        got = matmul_kernels.matmul(np, a, b)
        out = np.empty((6, 40, 50), np.float32)
        matmul_kernels.matmul(np, a, b, out=out)
        odd = matmul_kernels.matmul(np, sliced, b)
    assert calls == [(240, 30), (240, 30), (6, 20, 30)]
    for res, want in ((got, a @ b), (out, a @ b), (odd, sliced @ b)):
        np.testing.assert_allclose(res, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


def test_linear_on_a_sequence_weight_gradient_is_one_product(monkeypatch):
    """nn.Linear on (B, T, K): the weight's gradient is one product over all B * T rows (no
    stack of products summed afterwards), eager and compiled, equal to PyTorch's."""
    import torch

    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 9, 6)).astype(np.float32)
    w = rng.standard_normal((5, 6)).astype(np.float32)

    def step(x, w):
        return ember.autograd.grad([((x @ w.mT) ** 2).sum()], [w])[0]

    tx, tw = torch.tensor(x), torch.tensor(w, requires_grad=True)
    ((tx @ tw.mT) ** 2).sum().backward()
    want = tw.grad.numpy()
    compiled = ember.jit(step)
    for got in (step(ember.tensor(x), ember.tensor(w, requires_grad=True)),
                compiled(ember.tensor(x), ember.tensor(w, requires_grad=True))):  # fmt: skip
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    graph = compiled._last.executor.graph
    products = [graph.avals[n.out].shape for n in graph.nodes if n.prim.name == "MatMul"]
    assert (6, 5) in products or (5, 6) in products  # the weight's gradient, as one matrix
    assert not any(n.prim.name == "Sum" for n in graph.nodes)
