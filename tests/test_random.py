"""Random creation: shapes, dtypes, ranges and reproducibility with seeds and Generators."""

from __future__ import annotations

import numpy as np
import pytest

import ember


@pytest.mark.parametrize("fn", ["rand", "randn"])
def test_float_random_shapes_and_dtypes(fn: str) -> None:
    f = getattr(ember, fn)
    assert f(2, 3).shape == (2, 3) and f(2, 3).dtype is ember.float32
    assert f((4,)).shape == (4,)
    assert f(2, dtype=ember.float64).dtype is ember.float64
    assert f(3, requires_grad=True).requires_grad
    with pytest.raises(TypeError, match="random: expected a floating dtype, got int64"):
        f(2, dtype=ember.int64)


def test_rand_range_and_moments() -> None:
    u = ember.rand(20000).numpy()
    assert u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.01
    n = ember.randn(20000, dtype=ember.float64).numpy()
    assert abs(n.mean()) < 0.03 and abs(n.std() - 1.0) < 0.03


def test_randint() -> None:
    x = ember.randint(3, 7, (1000,))
    assert x.dtype is ember.int64 and x.shape == (1000,)
    assert set(x.tolist()) == {3, 4, 5, 6}
    y = ember.randint(5, (2, 3))  # torch's randint(high, size)
    assert y.shape == (2, 3) and 0 <= y.min().item() and y.max().item() < 5
    assert ember.randint(0, 2, (3,), dtype=ember.int32).dtype is ember.int32
    with pytest.raises(ValueError, match="randint: expected low < high, got low=3, high=3"):
        ember.randint(3, 3, (2,))


def test_randperm() -> None:
    p = ember.randperm(50)
    assert p.dtype is ember.int64 and sorted(p.tolist()) == list(range(50))
    assert ember.randperm(0).shape == (0,)
    with pytest.raises(ValueError, match="randperm: n must be non-negative, got -1"):
        ember.randperm(-1)


@pytest.mark.parametrize(
    "draw",
    [
        lambda g: ember.rand(5, generator=g),
        lambda g: ember.randn(5, generator=g),
        lambda g: ember.randint(0, 100, (5,), generator=g),
        lambda g: ember.randperm(10, generator=g),
    ],
    ids=["rand", "randn", "randint", "randperm"],
)
def test_reproducible_with_manual_seed_and_generator(draw) -> None:
    ember.manual_seed(123)
    a = draw(None)
    b = draw(None)
    ember.manual_seed(123)
    np.testing.assert_array_equal(draw(None).numpy(), a.numpy())
    assert not np.array_equal(a.numpy(), b.numpy())
    g1, g2 = ember.Generator().manual_seed(7), ember.Generator().manual_seed(7)
    np.testing.assert_array_equal(draw(g1).numpy(), draw(g2).numpy())


def test_explicit_generator_does_not_touch_global_stream() -> None:
    ember.manual_seed(0)
    expected = ember.rand(3).numpy()
    ember.manual_seed(0)
    ember.rand(3, generator=ember.Generator().manual_seed(1))
    np.testing.assert_array_equal(ember.rand(3).numpy(), expected)


def test_generator_state_round_trip() -> None:
    g = ember.Generator().manual_seed(3)
    ember.randn(3, generator=g)
    state = g.get_state()
    assert state.dtype is ember.uint8
    first = ember.randn(4, generator=g).numpy()
    g.set_state(state)
    np.testing.assert_array_equal(ember.randn(4, generator=g).numpy(), first)
    other = ember.Generator().set_state(state)
    np.testing.assert_array_equal(ember.randn(4, generator=other).numpy(), first)
    assert g.initial_seed() == 3
    with pytest.raises(ValueError, match="expected a 64-byte state, got 3"):
        g.set_state(ember.tensor([1, 2, 3], dtype=ember.uint8))


def test_global_rng_state_round_trip() -> None:
    state = ember.get_rng_state()
    a = ember.rand(3).numpy()
    ember.set_rng_state(state)
    np.testing.assert_array_equal(ember.rand(3).numpy(), a)


def test_like_variants() -> None:
    x = ember.zeros(2, 3, dtype=ember.float64)
    assert ember.rand_like(x).dtype is ember.float64 and ember.randn_like(x).shape == (2, 3)
    r = ember.randint_like(ember.zeros(4, dtype=ember.int32), 0, 3)
    assert r.dtype is ember.int32 and r.shape == (4,)


# draws differ by design (ember's generator is not torch's): shapes, dtypes and the support agree
RANDOM_CALLS = {
    "rand": lambda lib: lib.rand(2, 3, dtype=lib.float64),
    "randn": lambda lib: lib.randn((4,)),
    "randint": lambda lib: lib.randint(0, 1, (2, 2)),
    "randint_high": lambda lib: lib.randint(1, (3,), dtype=lib.int32),
    "rand_like": lambda lib: lib.rand_like(lib.zeros(2, dtype=lib.float64)),
    "randn_like": lambda lib: lib.randn_like(lib.zeros(1, 2)),
    "randint_like": lambda lib: lib.randint_like(lib.zeros(3, dtype=lib.int32), 5, 6),
    "randperm": lambda lib: lib.randperm(1),
    "normal": lambda lib: lib.normal(0.0, 0.0, (2, 3)),
    "normal_tensor": lambda lib: lib.normal(lib.ones(3), lib.zeros(3)),
    "bernoulli": lambda lib: lib.bernoulli(lib.tensor([[0.0, 1.0]])),
    "multinomial": lambda lib: lib.multinomial(lib.tensor([[0.0, 1.0], [1.0, 0.0]]), 1),
}


@pytest.mark.parametrize("name", RANDOM_CALLS)
def test_random_shapes_dtypes_and_degenerate_values_match_torch(name: str) -> None:
    """Each call's distribution is degenerate (one possible value) or only its shape and dtype
    are compared."""
    import torch

    e, t = RANDOM_CALLS[name](ember), RANDOM_CALLS[name](torch)
    assert (tuple(e.shape), e.dtype.name) == (tuple(t.shape), str(t.dtype).split(".")[-1])
    if not name.startswith(("rand_", "randn")) and name != "rand":
        np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_seed_functions_behave_like_torch() -> None:
    import torch

    for lib in (ember, torch):
        lib.manual_seed(5)
        assert lib.initial_seed() == 5
        state = lib.get_rng_state()
        a = lib.rand(3)
        lib.set_rng_state(state)
        np.testing.assert_array_equal(lib.rand(3).numpy(), a.numpy())
        assert isinstance(lib.seed(), int)
