"""The native eager ``where`` (``ember.ops.where_native``): bit for bit NumPy's ``where`` on
every kernel variant and edge value, None (NumPy then) for the layouts it does not take, and
the NumPy forms without a compiler."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import ember
from ember.jit import native
from ember.ops import where_native
from ember.ops.elementwise import Where

needs_kernels = pytest.mark.skipif(where_native._library() is None, reason="needs a C compiler")
EDGES = [np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-40, -3.5, 2.0, 1e30]


def _bits(x: np.ndarray) -> np.ndarray:
    return x.view(f"u{x.itemsize}")


@needs_kernels
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("a_full,b_full", list(itertools.product([True, False], repeat=2)))
def test_every_kernel_copies_the_chosen_bits(dtype, a_full: bool, b_full: bool) -> None:
    rng = np.random.default_rng(0)
    n = 9001  # a vector remainder
    full = np.array(EDGES, dtype)[rng.integers(0, len(EDGES), n)]
    full[::7] = np.array(np.nan, dtype).view(f"u{np.dtype(dtype).itemsize}") | 5  # a payload
    a = full if a_full else np.array(-0.0, dtype)
    b = full[::-1].copy() if b_full else np.array(np.nan, dtype)
    c = rng.random(n) < 0.5
    got = where_native.native_where(c, a, b, (n,))
    assert got is not None and got.dtype == dtype
    np.testing.assert_array_equal(_bits(got), _bits(np.where(c, a, b)))


@needs_kernels
def test_other_layouts_are_left_to_numpy() -> None:
    x = np.ones((4, 6), np.float32)
    c = x > 0
    assert where_native.native_where(c[:, :1], x, x, (4, 6)) is None  # a broadcast condition
    assert where_native.native_where(c, x[:, :1], x, (4, 6)) is None  # a broadcast operand
    assert where_native.native_where(c, x, x[:1, :1], (4, 6)) is not None  # one element
    assert where_native.native_where(c, np.asfortranarray(x), x, (4, 6)) is None
    assert where_native.native_where(c, x.astype(np.int32), x.astype(np.int32), (4, 6)) is None
    assert where_native.native_where(c, x, x.astype(np.float64), (4, 6)) is None


@needs_kernels
def test_a_convolution_layout_is_read_and_kept_in_place() -> None:
    """(N, C, H, W) over (C, N, H, W) memory, as the native convolutions give it: one loop
    over memory, the result in that layout (as NumPy's where gives it)."""
    x = np.moveaxis(np.random.default_rng(2).standard_normal((3, 2, 4, 5)), 0, 1)
    c, zero = x > 0, np.zeros((), x.dtype)
    got = where_native.native_where(c, x, zero, x.shape)
    expected = np.where(c, x, zero)
    np.testing.assert_array_equal(got, expected)
    assert got.strides == expected.strides == x.strides
    # a mask in another layout than the operand: NumPy's
    assert where_native.native_where(c, np.ascontiguousarray(x), zero, x.shape) is None


def test_eager_where_matches_numpy_with_and_without_the_kernels(monkeypatch) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 32, 12)).astype(np.float32)  # above the native threshold
    expected = np.where(x > 0, x, np.float32(0.2) * x)
    t = ember.tensor(x)
    got = ember.nn.functional.leaky_relu(t, 0.2).numpy()
    np.testing.assert_array_equal(got, expected)
    where_native._library.cache_clear()
    monkeypatch.setattr(native, "compiler", lambda: None)
    try:
        with pytest.warns(UserWarning):  # the toolchain's one-line warning
            assert where_native._library() is None
        assert Where.forward(np, x > 0, x, x * np.float32(0.2)) is not None
        np.testing.assert_array_equal(ember.nn.functional.leaky_relu(t, 0.2).numpy(), expected)
    finally:
        where_native._library.cache_clear()
