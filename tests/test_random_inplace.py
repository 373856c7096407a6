"""In-place random draws, ``bernoulli``, ``multinomial``, ``binomial`` and ``poisson``: each
library's draws pass the same statistical checks (moments within six standard errors and a
Kolmogorov-Smirnov distance below its 0.1% critical value, fixed seeds), and shapes, dtypes,
generators and argument errors are compared with torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ember

N = 100_000
KS_LIMIT = 1.95 / math.sqrt(N)  # the KS distance exceeded with probability 0.001


def _erf(x: np.ndarray) -> np.ndarray:
    return np.vectorize(math.erf)(x)


def _normal_cdf(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    return 0.5 * (1 + _erf((x - mean) / (std * math.sqrt(2))))


_LOG_NORMAL_VAR = (math.exp(0.25) - 1) * math.exp(0.25)
CONTINUOUS = {  # method, args, (mean, variance) or None, CDF
    "uniform": ("uniform_", (2.0, 5.0), (3.5, 0.75), lambda x: np.clip((x - 2) / 3, 0, 1)),
    "normal": ("normal_", (1.0, 2.0), (1.0, 4.0), lambda x: _normal_cdf(x, 1.0, 2.0)),
    "exponential": ("exponential_", (2.0,), (0.5, 0.25), lambda x: 1 - np.exp(-2 * x)),
    "cauchy": ("cauchy_", (1.0, 0.5), None, lambda x: 0.5 + np.arctan((x - 1) / 0.5) / np.pi),
    "log_normal": (
        "log_normal_",
        (0.0, 0.5),
        (math.exp(0.125), _LOG_NORMAL_VAR),
        lambda x: _normal_cdf(np.log(x), 0.0, 0.5),
    ),
}


def _draw(
    lib: object, method: str, *args: object, dtype: str = "float64", n: int = N
) -> np.ndarray:
    lib.manual_seed(0)  # type: ignore[attr-defined]
    x = lib.empty(n, dtype=getattr(lib, dtype))  # type: ignore[attr-defined]
    out = getattr(x, method)(*args)
    assert out is x and out.dtype is getattr(lib, dtype)
    return x.numpy().astype(np.float64)


def _check_moments(values: np.ndarray, mean: float, var: float) -> None:
    assert abs(values.mean() - mean) < 6 * math.sqrt(var / len(values))
    assert abs(values.var() - var) < 0.05 * var


def _ks_distance(values: np.ndarray, cdf: object) -> float:
    x = np.sort(values)
    f = cdf(x)  # type: ignore[operator]
    n = len(x)
    return float(max((np.arange(1, n + 1) / n - f).max(), (f - np.arange(n) / n).max()))


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
@pytest.mark.parametrize("name", CONTINUOUS)
def test_continuous_distributions(name: str, lib: object) -> None:
    method, args, moments, cdf = CONTINUOUS[name]
    values = _draw(lib, method, *args)
    if moments is not None:
        _check_moments(values, *moments)
    assert _ks_distance(values, cdf) < KS_LIMIT


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_discrete_distributions(lib: object) -> None:
    geometric = _draw(lib, "geometric_", 0.25)
    assert geometric.min() >= 1 and np.all(geometric == np.round(geometric))
    _check_moments(geometric, 4.0, 0.75 / 0.25**2)  # trials up to the first success
    coin = _draw(lib, "bernoulli_", 0.3)
    assert set(np.unique(coin)) == {0.0, 1.0}
    _check_moments(coin, 0.3, 0.21)
    dice = _draw(lib, "random_", 1, 7, dtype="int64")
    assert set(np.unique(dice)) == set(range(1, 7))
    _check_moments(dice, 3.5, 35 / 12)
    below = _draw(lib, "random_", 5, dtype="int32")
    assert set(np.unique(below)) == set(range(5))


TOPS = [("float32", 2**24), ("float16", 2**11), ("uint8", 255), ("int8", 127), ("bool", 1)]


@pytest.mark.parametrize("dtype,top", TOPS)
def test_random_without_bounds_covers_the_exact_integers(dtype: str, top: int) -> None:
    for lib in (ember, torch):
        values = _draw(lib, "random_", dtype=dtype, n=20_000)
        assert values.min() >= 0 and values.max() <= top
        assert values.max() > top * 0.9  # the whole range is used


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_bernoulli_from_probabilities(lib: object) -> None:
    lib.manual_seed(0)  # type: ignore[attr-defined]
    p = lib.tensor([0.0, 0.2, 0.9, 1.0], dtype=lib.float64).repeat(20_000, 1)  # type: ignore[attr-defined]
    for out in (lib.bernoulli(p), p.bernoulli(), lib.empty(20_000, 4).bernoulli_(p)):  # type: ignore[attr-defined]
        values = out.numpy()
        assert out.shape == p.shape
        np.testing.assert_allclose(values.mean(0), [0.0, 0.2, 0.9, 1.0], atol=0.012)
    scalar = lib.ones(50_000).bernoulli(0.25)  # type: ignore[attr-defined]
    assert scalar.dtype is lib.float32 and abs(scalar.numpy().mean() - 0.25) < 0.012  # type: ignore[attr-defined]


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_multinomial_method_and_function(lib: object) -> None:
    lib.manual_seed(0)  # type: ignore[attr-defined]
    weights = lib.tensor([[1.0, 3.0, 0.0, 4.0], [0.0, 0.0, 1.0, 0.0]])  # type: ignore[attr-defined]
    draws = weights.multinomial(20_000, replacement=True)
    assert draws.shape == (2, 20_000) and draws.dtype is lib.int64  # type: ignore[attr-defined]
    shares = np.bincount(draws.numpy()[0], minlength=4) / 20_000
    np.testing.assert_allclose(shares, [0.125, 0.375, 0, 0.5], atol=0.012)
    assert (draws.numpy()[1] == 2).all()
    distinct = lib.multinomial(weights[:1], 3, replacement=False)  # type: ignore[attr-defined]
    assert sorted(distinct.numpy()[0].tolist()) == [0, 1, 3]


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_binomial_and_poisson(lib: object) -> None:
    lib.manual_seed(0)  # type: ignore[attr-defined]
    count = lib.full((N,), 10.0, dtype=lib.float64)  # type: ignore[attr-defined]
    prob = lib.full((N,), 0.3, dtype=lib.float64)  # type: ignore[attr-defined]
    successes = lib.binomial(count, prob)  # type: ignore[attr-defined]
    assert successes.dtype is lib.float64  # type: ignore[attr-defined]
    _check_moments(successes.numpy(), 3.0, 2.1)
    rates = lib.full((N,), 4.0)  # type: ignore[attr-defined]
    events = lib.poisson(rates)  # type: ignore[attr-defined]
    assert events.dtype is lib.float32 and np.all(events.numpy() == np.round(events.numpy()))  # type: ignore[attr-defined]
    _check_moments(events.numpy().astype(np.float64), 4.0, 4.0)
    zero = lib.poisson(lib.zeros(5))  # type: ignore[attr-defined]
    assert (zero.numpy() == 0).all()


def test_generators_make_draws_repeatable() -> None:
    g = ember.Generator().manual_seed(7)
    first = ember.empty(5).normal_(generator=g)
    g.manual_seed(7)
    np.testing.assert_array_equal(ember.empty(5).normal_(generator=g).numpy(), first.numpy())
    ember.manual_seed(7)
    a = ember.empty(5).uniform_()
    ember.manual_seed(7)
    np.testing.assert_array_equal(ember.empty(5).uniform_().numpy(), a.numpy())


ERRORS = [
    ("uniform_", (2.0, 1.0), RuntimeError, r"expects to return a \[from, to\) range"),
    ("normal_", (0.0, -1.0), RuntimeError, "normal expects std >= 0.0"),
    ("log_normal_", (1.0, 0.0), RuntimeError, "log_normal_ expects std > 0.0"),
    ("exponential_", (0.0,), RuntimeError, "exponential_ expects lambda > 0.0"),
    ("cauchy_", (0.0, -1.0), RuntimeError, "cauchy_ expects sigma > 0.0"),
    ("geometric_", (1.5,), RuntimeError, r"geometric_ expects p to be in \(0, 1\)"),
    ("bernoulli_", (1.5,), RuntimeError, r"to be in \[0, 1\]"),
    ("random_", (5, 5), RuntimeError, "random_ expects 'from' to be less than 'to'"),
    ("random_", (2.5,), TypeError, "random_"),
]


@pytest.mark.parametrize("method,args,error,match", ERRORS, ids=[f"{e[0]}{e[1]}" for e in ERRORS])
def test_argument_errors_match_torch(method: str, args: tuple, error: type, match: str) -> None:
    for lib in (ember, torch):
        with pytest.raises(error, match=match):
            getattr(lib.ones(3), method)(*args)


@pytest.mark.parametrize("method,error,match", [
    ("uniform_", NotImplementedError, "not implemented for"),
    ("normal_", NotImplementedError, "not implemented for"),
    ("exponential_", RuntimeError, "Exponential distribution is a continuous"),
    ("cauchy_", RuntimeError, "Cauchy distribution is a continuous"),
])  # fmt: skip
def test_continuous_draws_need_floats(method: str, error: type, match: str) -> None:
    for lib in (ember, torch):
        with pytest.raises(error, match=match):
            getattr(lib.ones(3, dtype=lib.int64), method)()


def test_in_place_draws_respect_autograd() -> None:
    for lib in (ember, torch):
        leaf = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            leaf.normal_()
        with lib.no_grad():
            leaf.uniform_(-1.0, 1.0)  # initialising a parameter
        assert leaf.requires_grad and leaf.is_leaf
        y = leaf * 2
        y.exponential_()
        y.sum().backward()
        np.testing.assert_array_equal(leaf.grad.numpy(), np.zeros(3))  # drawn values: no gradient


def test_binomial_and_poisson_errors() -> None:
    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="invalid Poisson rate"):
            lib.poisson(-lib.ones(2))
        with pytest.raises(ValueError, match="binomial only supports floating-point dtypes"):
            lib.binomial(lib.ones(2, dtype=lib.int64), lib.ones(2))


def _choice_rows(rng: np.random.Generator, rows: np.ndarray, k: int, replace: bool) -> np.ndarray:
    return np.stack([rng.choice(len(r), size=k, replace=replace, p=r / r.sum()) for r in rows])


@pytest.mark.parametrize("n", [1, 10, 65, 10_000])
@pytest.mark.parametrize("k, replacement", [(1, False), (1, True), (7, True), (3, False)])
def test_multinomial_draws_numpy_choice_stream(n: int, k: int, replacement: bool) -> None:
    """Each row draws what NumPy's choice would from the generator's stream, and leaves the
    stream where choice leaves it (float32 and float64 rows, a strided view, 1-D input)."""
    if not replacement and k > n:
        pytest.skip("more samples than categories")
    weights = np.random.default_rng(n).random((4, n)) ** 3
    if n > 1:
        weights[:, 0] = 0.0  # a category that is never drawn
    strided = ember.tensor(weights.T.copy()).T
    for probs in (ember.tensor(weights), strided, ember.tensor(weights[1], dtype=ember.float32)):
        gen = ember.Generator().manual_seed(n)
        rng = np.random.default_rng(np.random.PCG64(n))
        rows = np.asarray(probs.numpy(), dtype=np.float64).reshape(-1, n)
        got = ember.multinomial(probs, k, replacement, generator=gen)
        expected = _choice_rows(rng, rows, k, replacement).reshape(tuple(probs.shape[:-1]) + (k,))
        assert np.array_equal(got.numpy(), expected)
        assert gen.numpy.random() == rng.random()


def test_multinomial_rejects_a_row_whose_sum_overflows() -> None:
    probs = ember.tensor([1e308, 1e308], dtype=ember.float64)
    with pytest.raises(ValueError, match="each row of probs must have a positive, finite sum"):
        with pytest.warns(RuntimeWarning, match="overflow"):
            ember.multinomial(probs, 1)
