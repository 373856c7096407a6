"""Window functions vs torch: values for every length kind (0, 1, even, odd), periodic and
symmetric, their parameters, dtypes, requires_grad and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember

WINDOWS = ["hann_window", "hamming_window", "blackman_window", "bartlett_window", "kaiser_window"]
EXTRA = {  # each window's own parameters, positional after periodic
    "hamming_window": [(0.5, 0.4), (0.6,)],
    "kaiser_window": [(5.0,), (0.5,)],
}


def _compare(name: str, *args: object, dtype: str | None = None, rtol: float = 1e-6) -> None:
    e = getattr(ember, name)(*args, dtype=getattr(ember, dtype) if dtype else None)
    t = getattr(torch, name)(*args, dtype=getattr(torch, dtype) if dtype else None)
    assert e.dtype.name == str(t.dtype).removeprefix("torch.")
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("length", [0, 1, 2, 5, 8])
@pytest.mark.parametrize("name", WINDOWS)
def test_values_match_torch(name: str, length: int, periodic: bool) -> None:
    _compare(name, length, periodic)
    _compare(name, length, periodic, dtype="float64", rtol=1e-12)


@pytest.mark.parametrize("name", WINDOWS)
def test_default_is_periodic(name: str) -> None:
    _compare(name, 7)
    np.testing.assert_array_equal(
        getattr(ember, name)(7).numpy(), getattr(ember, name)(8, False).numpy()[:7]
    )


@pytest.mark.parametrize("name,extra", [(n, x) for n, xs in EXTRA.items() for x in xs])
def test_window_parameters(name: str, extra: tuple) -> None:
    _compare(name, 9, False, *extra)
    _compare(name, 6, True, *extra, dtype="float64", rtol=1e-12)


def test_follows_the_default_dtype_and_requires_grad() -> None:
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.hann_window(4).dtype is ember.float64
    finally:
        ember.set_default_dtype(ember.float32)
    e, t = (
        ember.blackman_window(4, requires_grad=True),
        torch.blackman_window(4, requires_grad=True),
    )
    assert e.requires_grad and t.requires_grad and e.is_leaf and t.is_leaf
    np.testing.assert_allclose(
        ember.kaiser_window(3, layout=ember.strided).numpy(),
        torch.kaiser_window(3, layout=torch.strided).numpy(),
        rtol=1e-6,
    )
    with pytest.raises(RuntimeError, match="only the strided layout"):
        ember.hann_window(3, layout="sparse")


@pytest.mark.parametrize("name", WINDOWS)
def test_errors_match_torch(name: str) -> None:
    message = f"{name} requires non-negative window_length, got window_length=-1"
    with pytest.raises(RuntimeError, match=message):
        getattr(torch, name)(-1)
    with pytest.raises(RuntimeError, match=message):
        getattr(ember, name)(-1)
    with pytest.raises(RuntimeError, match=f"{name} expects floating point dtypes"):
        getattr(torch, name)(4, dtype=torch.int64)
    with pytest.raises(RuntimeError, match=f"{name} expects floating point dtypes"):
        getattr(ember, name)(4, dtype=ember.int64)


def test_kaiser_beta_must_be_a_number_as_in_torch() -> None:
    for lib in (ember, torch):
        with pytest.raises(TypeError):
            lib.kaiser_window(5, beta="x")
    with pytest.raises(TypeError, match="kaiser_window: beta must be a real number, got str"):
        ember.kaiser_window(5, beta="x")
