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
    """float32 never asks the backend for SciPy's special functions (it takes the native loop
    of ``ember.ops.eager_native`` where one is built, else ``_erf_float32``: within 4 ulp of
    each other)."""
    from ember.arrays import backend_of

    backend = type(backend_of(np.zeros(1)))
    monkeypatch.setattr(backend, "special", lambda self: pytest.fail("SciPy was used"))
    x = ember.tensor(_points())
    eps, tiny = np.finfo(np.float32).eps, np.finfo(np.float32).tiny
    np.testing.assert_allclose(
        ember.erf(x).numpy(), _erf_float32(np, x.numpy()), rtol=4 * eps, atol=tiny
    )
    ember.nn.functional.gelu(x)


@pytest.mark.parametrize("scale", [0.05, 0.5, 1.0, 3.0, 100.0])
@pytest.mark.parametrize("layout", ["contiguous", "strided", "transposed"])
def test_each_element_takes_its_form_whichever_form_runs_on_the_whole(
    scale: float, layout: str
) -> None:
    """``_erf_float32`` runs the form most elements need on the whole array and the other on
    the rest: bit for bit what both forms on every element, picked per element, give."""
    from ember.ops.elementwise import _erf_series, _erf_tail

    rng = np.random.default_rng(0)
    x = (rng.standard_normal((6, 50, 40)) * scale).astype(np.float32)
    x[0, 0, :6] = [np.nan, np.inf, -np.inf, -0.0, 1.0, -1.0]
    x = {"contiguous": x, "strided": x[:, ::3], "transposed": x.transpose(2, 0, 1)}[layout]
    z = np.minimum(np.abs(x), np.float32(4))
    want = np.where(z < 1, _erf_series(np, x), _erf_tail(np, x, z))
    got = _erf_float32(np, x)
    assert got.shape == x.shape and got.dtype == np.float32
    np.testing.assert_array_equal(got.view(np.int32), want.view(np.int32))


@pytest.mark.parametrize("shape", [(), (0,), (1,), (3, 0)])
def test_scalar_and_empty_inputs(shape: tuple) -> None:
    x = np.full(shape, 0.5, np.float32)
    got = _erf_float32(np, x)
    assert got.shape == shape
    np.testing.assert_array_equal(got, np.full(shape, math.erf(0.5), np.float32))
