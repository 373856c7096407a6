"""The float32 erf that eager ``erf`` and exact GELU use on host arrays: accurate across the
whole float32 range against the correctly rounded double erf, exact at the special values,
and independent of SciPy."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ember
from ember.ops.elementwise import _erf_float32


def _points() -> np.ndarray:
    dense = np.linspace(-6, 6, 24001)
    tiny = np.logspace(-38, 1, 2000)
    return np.concatenate([dense, tiny, -tiny]).astype(np.float32)


def test_relative_error_is_within_two_ulp() -> None:
    x = _points()
    got = _erf_float32(np, x)
    want = np.array([math.erf(v) for v in x.astype(np.float64)])
    assert got.dtype == np.float32
    rel = np.abs(got - want) / np.maximum(np.abs(want), np.finfo(np.float64).tiny)
    assert rel.max() < 2.5e-7, f"worst at x={x[rel.argmax()]}: {rel.max():.3g}"


def test_special_values() -> None:
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 9.0, -9.0], np.float32)
    got = _erf_float32(np, x)
    np.testing.assert_array_equal(got, [np.nan, 1, -1, 0, -0.0, 1, -1])
    assert np.signbit(got[4]) and not np.signbit(got[3])


def test_erf_and_gelu_do_not_need_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    """float32 never asks the backend for SciPy's special functions."""
    from ember.arrays import backend_of

    backend = type(backend_of(np.zeros(1)))
    monkeypatch.setattr(backend, "special", lambda self: pytest.fail("SciPy was used"))
    x = ember.tensor(_points())
    np.testing.assert_array_equal(ember.erf(x).numpy(), _erf_float32(np, x.numpy()))
    ember.nn.functional.gelu(x)
