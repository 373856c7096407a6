"""The native LSTM recurrence (``ember.ops.lstm_native``): it agrees with the array code it
replaces on whole sequences both ways in time, forward and backward, including saturated
gates; its float32 gates are within a few ulp of float64 maths; and without a compiler (or
for float64) the array code runs instead. The op database compares both with PyTorch."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from ember.jit import native
from ember.ops import fused, lstm_native
from ember.ops.fused import LSTMSequence, LSTMSequenceGrad

needs_kernels = pytest.mark.skipif(
    lstm_native.native_cell(np, np.float32) is None,
    reason="needs a C compiler with vector libm",
)


@pytest.fixture
def rebuilt_library() -> Iterator[None]:
    """Forget the compiled library before and after a test that changes the toolchain."""
    lstm_native._library.cache_clear()
    yield
    lstm_native._library.cache_clear()


def _sequence(steps: int, batch: int, n: int, scale: float, seed: int) -> tuple:
    """xproj, w_hh, h0, c0 and an output gradient; ``scale`` spreads the pre-activations
    (large values saturate the gates and overflow exp(-x) inside the sigmoid)."""
    rng = np.random.default_rng(seed)
    f = np.float32
    xproj = (rng.standard_normal((steps, batch, 4 * n)) * scale).astype(f)
    w_hh = (rng.standard_normal((4 * n, n)) * 0.3).astype(f)
    h0, c0 = rng.standard_normal((2, batch, n)).astype(f)
    g = rng.standard_normal((steps, batch, 6 * n)).astype(f)
    return xproj, w_hh, h0, c0, g


def _run(xproj, w_hh, h0, c0, g, reverse: bool) -> tuple[np.ndarray, np.ndarray]:
    out = LSTMSequence.forward(np, xproj, w_hh, h0, c0, reverse=reverse)
    return out, LSTMSequenceGrad.forward(np, g, w_hh, c0, out, reverse=reverse)


@needs_kernels
@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("scale", [1.0, 60.0])
@pytest.mark.parametrize("batch", [3, 20])
def test_native_sequence_matches_array_code(
    monkeypatch, reverse: bool, scale: float, batch: int
) -> None:
    # n = 21: vector loops and 16 x 16 transpose blocks with remainders
    args = _sequence(6, batch, 21, scale, seed=int(scale) + reverse)
    out, res = _run(*args, reverse)
    monkeypatch.setattr(fused, "_cell", lambda xp, dtype: fused._ArrayCell(xp))
    want_out, want_res = _run(*args, reverse)
    np.testing.assert_allclose(out, want_out, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(res, want_res, rtol=1e-5, atol=1e-5)
    assert np.isfinite(out).all() and np.isfinite(res).all()


@needs_kernels
def test_native_gates_are_within_a_few_ulp_of_float64() -> None:
    xproj, w_hh, h0, c0, _ = _sequence(1, 4, 37, 4.0, seed=3)
    n = 37
    out = LSTMSequence.forward(np, xproj, w_hh, h0, c0, reverse=False)[0].astype(np.float64)
    # float64 maths on the same float32 pre-activations (the float32 GEMM rounds first; the
    # kernel runs it as W_hh · h0ᵀ)
    pre = (xproj[0] + (w_hh @ h0.T).T).astype(np.float64)
    i, f, o = (1 / (1 + np.exp(-pre[:, k * n : (k + 1) * n])) for k in (0, 1, 3))
    g = np.tanh(pre[:, 2 * n : 3 * n])
    c = f * c0 + i * g
    eps = np.finfo(np.float32).eps
    np.testing.assert_allclose(out[:, 2 * n :], np.concatenate([i, f, g, o], 1), rtol=8 * eps)
    scale = 1 + np.abs(c0)  # c and h add terms of this size: absolute error in its units
    assert np.all(np.abs(out[:, n : 2 * n] - c) <= 8 * eps * scale)
    assert np.all(np.abs(out[:, :n] - o * np.tanh(c)) <= 8 * eps * scale)


def test_float64_and_other_backends_keep_the_array_code() -> None:
    assert lstm_native.native_cell(np, np.float64) is None
    assert lstm_native.native_cell(object(), np.float32) is None
    assert isinstance(fused._cell(np, np.float64), fused._ArrayCell)


def test_without_a_compiler_the_array_code_runs(monkeypatch, rebuilt_library) -> None:
    args = _sequence(4, 2, 5, 1.0, seed=7)
    monkeypatch.setattr(native, "compiler", lambda: None)
    assert lstm_native.native_cell(np, np.float32) is None
    out, res = _run(*args, False)
    assert out.shape == (4, 2, 30) and res.shape == (4, 2, 25)
    monkeypatch.setattr(fused, "_cell", lambda xp, dtype: fused._ArrayCell(xp))
    want_out, want_res = _run(*args, False)
    np.testing.assert_array_equal(out, want_out)
    np.testing.assert_array_equal(res, want_res)
