"""``ember.backends.cuda.matmul.allow_tf32`` changes how CuPy multiplies float32 matrices.
Skips cleanly without CuPy or a GPU."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember

with warnings.catch_warnings():  # CuPy may warn at import (CUDA path, versions): not ours
    warnings.simplefilter("ignore")
    cupy = pytest.importorskip("cupy")
pytestmark = pytest.mark.skipif(not ember.cuda.is_available(), reason="no CUDA GPU")


def _error(allow_tf32: bool) -> float:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((512, 512)), rng.standard_normal((512, 512))
    exact = a @ b
    old = ember.backends.cuda.matmul.allow_tf32
    ember.backends.cuda.matmul.allow_tf32 = allow_tf32
    try:
        got = ember.tensor(a, device="cuda") @ ember.tensor(b, device="cuda")
        return float(np.abs(got.cpu().numpy() - exact).max() / np.abs(exact).max())
    finally:
        ember.backends.cuda.matmul.allow_tf32 = old


@pytest.mark.skipif(
    ember.cuda.is_available() and int(cupy.cuda.Device().compute_capability) < 80,
    reason="TF32 needs compute capability 8.0",
)
def test_allow_tf32_trades_float32_matmul_precision_for_speed() -> None:
    full, tf32 = _error(False), _error(True)
    assert full < 1e-5 < tf32 < 1e-2  # TF32 keeps 10 mantissa bits: errors near 1e-3
