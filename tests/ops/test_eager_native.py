"""The native eager kernels (``ember.ops.eager_native``): ``where`` bit for bit NumPy's on
every kernel variant and edge value, None (NumPy then) for the layouts it does not take;
float32 ``erf`` within a few ulp of float64's and equal to the jit's fused erf; the NumPy
forms without a compiler."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import ember
from ember.jit import native
from ember.ops import eager_native
from ember.ops.elementwise import Where

needs_kernels = pytest.mark.skipif(eager_native._library() is None, reason="needs a C compiler")
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
    got = eager_native.native_where(c, a, b, (n,))
    assert got is not None and got.dtype == dtype
    np.testing.assert_array_equal(_bits(got), _bits(np.where(c, a, b)))


@needs_kernels
def test_other_layouts_are_left_to_numpy() -> None:
    x = np.ones((4, 6), np.float32)
    c = x > 0
    assert eager_native.native_where(c[:, :1], x, x, (4, 6)) is None  # a broadcast condition
    assert eager_native.native_where(c, x[:, :1], x, (4, 6)) is None  # a broadcast operand
    assert eager_native.native_where(c, x, x[:1, :1], (4, 6)) is not None  # one element
    assert eager_native.native_where(c, np.asfortranarray(x), x, (4, 6)) is None
    assert eager_native.native_where(c, x.astype(np.int32), x.astype(np.int32), (4, 6)) is None
    assert eager_native.native_where(c, x, x.astype(np.float64), (4, 6)) is None


@needs_kernels
def test_a_convolution_layout_is_read_and_kept_in_place() -> None:
    """(N, C, H, W) over (C, N, H, W) memory, as the native convolutions give it: one loop
    over memory, the result in that layout (as NumPy's where gives it)."""
    x = np.moveaxis(np.random.default_rng(2).standard_normal((3, 2, 4, 5)), 0, 1)
    c, zero = x > 0, np.zeros((), x.dtype)
    got = eager_native.native_where(c, x, zero, x.shape)
    expected = np.where(c, x, zero)
    np.testing.assert_array_equal(got, expected)
    assert got.strides == expected.strides == x.strides
    # a mask in another layout than the operand: NumPy's
    assert eager_native.native_where(c, np.ascontiguousarray(x), zero, x.shape) is None


def test_eager_where_matches_numpy_with_and_without_the_kernels(monkeypatch) -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 32, 12)).astype(np.float32)  # above the native threshold
    expected = np.where(x > 0, x, np.float32(0.2) * x)
    t = ember.tensor(x)
    got = ember.nn.functional.leaky_relu(t, 0.2).numpy()
    np.testing.assert_array_equal(got, expected)
    eager_native._library.cache_clear()
    monkeypatch.setattr(native, "compiler", lambda: None)
    try:
        with pytest.warns(UserWarning):  # the toolchain's one-line warning
            assert eager_native._library() is None
        assert Where.forward(np, x > 0, x, x * np.float32(0.2)) is not None
        np.testing.assert_array_equal(ember.nn.functional.leaky_relu(t, 0.2).numpy(), expected)
    finally:
        eager_native._library.cache_clear()


needs_vector_libm = pytest.mark.skipif(
    eager_native._library() is None or eager_native._library()[1] is None,
    reason="needs a C compiler with vector libm",
)


@needs_vector_libm
def test_native_erf_is_within_a_few_ulp_of_float64_on_every_range() -> None:
    rng = np.random.default_rng(3)
    x = (
        np.concatenate(
            [
                rng.standard_normal(20000) * 3,
                np.linspace(-6, 6, 3999),
                [0.0, -0.0, 1e-30, -1e-40],
            ]
        )
        .astype(np.float32)
        .reshape(-1, 7)[:, ::2]
    )  # a strided view: computed in C order
    got = eager_native.native_unary("erf", x)
    assert got.flags.c_contiguous and got.shape == x.shape
    want = np.vectorize(math.erf)(x.astype(np.float64))
    tiny = np.finfo(np.float32).tiny
    assert np.all(
        np.abs(got - want) <= 4 * np.finfo(np.float32).eps * np.maximum(np.abs(want), tiny)
    )
    np.testing.assert_array_equal(np.signbit(got), np.signbit(x))  # erf(-0.0) is -0.0
    special = eager_native.native_unary("erf", np.array([np.inf, -np.inf, np.nan], np.float32))
    np.testing.assert_array_equal(special, [1.0, -1.0, np.nan])
    assert eager_native.native_unary("erf", np.array(0.5, np.float32)).shape == ()  # 0-d stays 0-d
    assert (
        eager_native.native_unary("erf", x.astype(np.float64)) is None
    )  # float64 keeps SciPy/NumPy


@needs_vector_libm
def test_eager_gelu_uses_the_native_erf_and_matches_the_compiled_step() -> None:
    x = ember.tensor(np.random.default_rng(4).standard_normal((16, 64)).astype(np.float32))
    eager = ember.nn.functional.gelu(x).numpy()
    compiled = ember.jit(lambda t: ember.nn.functional.gelu(t) * 1.0)
    for _ in range(2):
        got = compiled(x).numpy()
    np.testing.assert_allclose(got, eager, rtol=2e-6, atol=1e-7)


@needs_vector_libm
def test_native_sigmoid_is_within_four_ulp_of_float64_and_keeps_the_layout() -> None:
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.standard_normal(30000) * 8, np.linspace(-104, 90, 2001)])
    x = x.astype(np.float32)[: 4 * 5 * 1600].reshape(4, 5, 1600)
    x = np.ascontiguousarray(x.transpose(1, 0, 2)).transpose(1, 0, 2)  # (C, N, L) memory
    got = eager_native.native_unary("sigmoid", x)
    assert got.strides == x.strides  # the input's layout, as NumPy's
    want = 1 / (1 + np.exp(-x.astype(np.float64)))
    ulp = np.spacing(np.abs(want).astype(np.float32)).astype(np.float64)
    tiny = np.finfo(np.float32).tiny  # below it exp(-x) overflows: 0, as NumPy's form gives
    assert np.all(np.abs(got - want) <= 4 * ulp + tiny)  # (NumPy's own form: 3 ulp)
    special = np.array([np.inf, -np.inf, np.nan, -0.0, 200.0, -200.0], np.float32)
    np.testing.assert_array_equal(
        eager_native.native_unary("sigmoid", special), [1.0, 0.0, np.nan, 0.5, 1.0, 0.0]
    )


@needs_vector_libm
def test_eager_sigmoid_uses_the_native_loop_and_matches_the_compiled_step() -> None:
    x = ember.tensor(np.random.default_rng(6).standard_normal((16, 64)).astype(np.float32) * 5)
    eager = ember.sigmoid(x).numpy()
    native = eager_native.native_unary("sigmoid", x.numpy())
    np.testing.assert_array_equal(eager, native)
    compiled = ember.jit(lambda t: ember.sigmoid(t * 1.0) * 1.0)
    for _ in range(2):
        np.testing.assert_array_equal(compiled(x).numpy(), eager)
