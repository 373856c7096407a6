"""ember.jit on a GPU: fused groups run as generated CUDA kernels (NVRTC), and a compiled
training step equals the eager one. Skips cleanly without CuPy, a GPU or NVRTC."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.jit import nvrtc
from ember.jit.executor import NATIVE

with warnings.catch_warnings():  # CuPy may warn at import (CUDA path, versions): not ours
    warnings.simplefilter("ignore")
    cupy = pytest.importorskip("cupy")
pytestmark = [
    pytest.mark.skipif(not ember.cuda.is_available(), reason="no CUDA GPU"),
    pytest.mark.skipif(not nvrtc.available(), reason="needs NVRTC (ember[cuda-compile])"),
]


def _model(dtype: ember.dtype) -> nn.Module:
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(20, 64), nn.GELU(), nn.LayerNorm(64), nn.Linear(64, 10)).to(
        device="cuda", dtype=dtype
    )


def _steps(jit: bool, dtype: ember.dtype, n: int = 5) -> tuple[list[float], list, object]:
    model = _model(dtype)
    opt = ember.optim.Adam(model.parameters(), lr=1e-2)

    def step(x: ember.Tensor, y: ember.Tensor) -> ember.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    run = ember.jit(step) if jit else step
    rng = np.random.default_rng(1)
    x = ember.tensor(rng.standard_normal((32, 20)), dtype=dtype, device="cuda")
    y = ember.tensor(rng.integers(0, 10, 32), device="cuda")
    losses = [float(run(x, y)) for _ in range(n)]
    return losses, [p.detach().cpu().numpy() for p in model.parameters()], run


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64])
def test_jitted_step_on_cuda_runs_generated_kernels_and_equals_eager(dtype) -> None:
    eager_losses, eager_params, _ = _steps(False, dtype)
    jit_losses, jit_params, run = _steps(True, dtype)
    executor = run._last.executor
    assert executor.gpu and any(kind == NATIVE for kind, *_ in executor.steps)
    tol = 1e-5 if dtype is ember.float32 else 1e-12
    np.testing.assert_allclose(jit_losses, eager_losses, rtol=tol, atol=tol)
    for a, b in zip(jit_params, eager_params):
        np.testing.assert_allclose(a, b, rtol=10 * tol, atol=10 * tol)


def test_rows_and_columns_sums_on_cuda_equal_numpy() -> None:
    rng = np.random.default_rng(2)
    data = rng.standard_normal((37, 300))

    @ember.jit
    def fn(x: ember.Tensor) -> tuple[ember.Tensor, ember.Tensor]:
        e = (x * 0.5).exp()
        return e.sum(1) / 3.0, (e + 1.0).sum(0)

    x = ember.tensor(data, dtype=ember.float64, device="cuda")
    rows, cols = fn(x)
    rows, cols = fn(x)  # compiled
    e = np.exp(data * 0.5)
    np.testing.assert_allclose(rows.cpu().numpy(), e.sum(1) / 3.0, rtol=1e-12)
    np.testing.assert_allclose(cols.cpu().numpy(), (e + 1.0).sum(0), rtol=1e-12)


def test_compiled_step_is_replayed_as_a_cuda_graph_and_equals_eager() -> None:
    eager_losses, eager_params, _ = _steps(False, ember.float32, n=8)
    jit_losses, jit_params, run = _steps(True, ember.float32, n=8)
    replayer = run._last.executor.replayer
    assert replayer is not None and replayer.graph is not None and not replayer.failed
    np.testing.assert_allclose(jit_losses, eager_losses, rtol=1e-5, atol=1e-6)
    for a, b in zip(jit_params, eager_params):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_moved_gradient_makes_the_graph_capture_again() -> None:
    model = _model(ember.float32)
    opt = ember.optim.SGD(model.parameters(), lr=0.1)

    @ember.jit
    def step(x: ember.Tensor) -> ember.Tensor:
        opt.zero_grad(set_to_none=False)
        loss = model(x).square().mean()
        loss.backward()
        opt.step()
        return loss

    x = ember.ones(4, 20, device="cuda")
    for _ in range(4):
        step(x)
    replayer = step._last.executor.replayer
    first = replayer.graph
    for p in model.parameters():
        p.grad = ember.zeros_like(p)  # new gradient buffers: new addresses
    step(x)
    assert replayer.graph is not first and not replayer.failed


def test_steps_that_draw_are_replayed_with_fresh_draws_equal_to_eager() -> None:
    def losses(jit: bool) -> list[float]:
        ember.manual_seed(0)
        model = nn.Sequential(nn.Linear(20, 20), nn.Dropout(0.5), nn.Linear(20, 1)).to("cuda")
        opt = ember.optim.SGD(model.parameters(), lr=0.1)

        def step(x: ember.Tensor) -> ember.Tensor:
            opt.zero_grad()
            loss = model(x).square().mean()
            loss.backward()
            opt.step()
            return loss

        run = ember.jit(step) if jit else step
        x = ember.ones(8, 20, device="cuda")
        out = [float(run(x)) for _ in range(6)]
        if jit:
            assert run._last.executor.replayer.graph is not None
        return out

    eager, replayed = losses(False), losses(True)
    assert len(set(replayed)) == len(replayed)  # a new dropout mask every step
    np.testing.assert_allclose(replayed, eager, rtol=1e-5)


def test_cuda_graphs_can_be_switched_off() -> None:
    with ember.config.override(jit_cuda_graphs=False):
        _, _, run = _steps(True, ember.float32, n=3)
    assert run._last.executor.replayer is None
