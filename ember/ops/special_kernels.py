"""Special functions in plain NumPy (float64), for when SciPy is not installed.

Each kernel takes the backend module ``xp`` and float64 arrays and returns float64 arrays,
within a few units in the last place of the exact values (checked against mpmath), except
the incomplete gamma function: within about 2e-14, as its prefactor x^a e^-x / Gamma(a)
cancels large logarithms. They follow PyTorch's conventions at the edges (poles, infinities),
which ``ember.ops.special`` applies to SciPy's results too. The methods are the textbook
ones: shift the argument up with the recurrence, then an asymptotic (Stirling /
Euler–Maclaurin) series; power series and asymptotic expansions for the Bessel functions;
series and continued fraction for the incomplete gamma function; Halley's iteration on
erf/erfc for erfinv.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from ember.ops.elementwise import _erf_fallback

# the Bernoulli numbers B_2, B_4, … B_16
_BERNOULLI = [Fraction(n, d) for n, d in ((1, 6), (-1, 30), (1, 42), (-1, 30), (5, 66),
                                          (-691, 2730), (7, 6), (-3617, 510))]  # fmt: skip
# Stirling's series of lgamma: B_2k / (2k (2k - 1)) z^(1 - 2k)
_LGAMMA_TERMS = [float(b / (2 * k * (2 * k - 1))) for k, b in enumerate(_BERNOULLI, 1)]
# the asymptotic series of digamma: B_2k / (2k) z^(-2k)
_DIGAMMA_TERMS = [float(b / (2 * k)) for k, b in enumerate(_BERNOULLI, 1)]
# Euler–Maclaurin's tail of the Hurwitz zeta function: B_2k / (2k)!
_ZETA_TERMS = [float(b / math.factorial(2 * k)) for k, b in enumerate(_BERNOULLI, 1)]
_SHIFT = 10.0  # the asymptotic series are used from here up
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def _series(xp: Any, coefficients: list[float], t: Any) -> Any:
    """sum(c_k t^k for k >= 0) by Horner's rule."""
    out = xp.zeros_like(t)
    for c in reversed(coefficients):
        out = out * t + c
    return out


def _steps(xp: Any, x: Any, limit: float) -> int:
    """How many unit steps take every finite element of ``x`` to at least ``limit``."""
    finite = x[xp.isfinite(x)]
    return 0 if finite.size == 0 else max(0, math.ceil(limit - float(finite.min())))


def _abs_sinpi(xp: Any, x: Any) -> Any:
    """|sin(pi x)|, exactly 0 at the integers (the argument is reduced first)."""
    return xp.abs(xp.sin(math.pi * (x - xp.round(x))))


def lgamma(xp: Any, x: Any) -> Any:
    """log|Gamma(x)|: Stirling's series after shifting up; reflection for x <= 0."""
    reflect = x <= 0
    y = xp.where(reflect, 1.0 - x, x)
    z, product = y.copy(), xp.ones_like(y)
    for _ in range(_steps(xp, y, _SHIFT)):
        low = z < _SHIFT
        product = xp.where(low, product * z, product)
        z = xp.where(low, z + 1.0, z)
    r = 1.0 / z
    out = (z - 0.5) * xp.log(z) - z + _HALF_LOG_2PI + r * _series(xp, _LGAMMA_TERMS, r * r)
    out -= xp.log(product)
    out = xp.where(reflect, xp.log(math.pi / _abs_sinpi(xp, x)) - out, out)
    out = xp.where((x == 1) | (x == 2), 0.0, out)
    return xp.where(xp.isinf(x), math.inf, out)


def digamma(xp: Any, x: Any) -> Any:
    """d/dx lgamma(x): the asymptotic series after the recurrence psi(x) = psi(x+1) - 1/x;
    reflection for x <= 0 (-inf at +0, +inf at -0, NaN at the negative integers, as PyTorch)."""
    reflect = x <= 0
    z = xp.where(reflect, 1.0 - x, x)
    shift = xp.zeros_like(z)
    for _ in range(_steps(xp, z, _SHIFT)):
        low = z < _SHIFT
        shift = xp.where(low, shift + 1.0 / z, shift)
        z = xp.where(low, z + 1.0, z)
    r2 = 1.0 / (z * z)
    out = xp.log(z) - 0.5 / z - r2 * _series(xp, _DIGAMMA_TERMS, r2) - shift
    fraction = x - xp.round(x)
    out = xp.where(reflect, out - math.pi / xp.tan(math.pi * fraction), out)
    out = xp.where(x == 0, -xp.copysign(math.inf, x), out)
    return xp.where((x < 0) & (fraction == 0), math.nan, out)


def hurwitz_zeta(xp: Any, s: int, q: Any) -> Any:
    """zeta(s, q) = sum over k >= 0 of (q + k)^-s, for an integer s >= 2: the first terms
    summed until q + k reaches 10 + s, the rest by Euler–Maclaurin. Infinite at q = 0, -1, …"""
    limit = _SHIFT + s
    start = xp.where(q < -(2.0**52), math.nan, q)  # no fraction left: a pole (or no answer)
    a, head = start.copy(), xp.zeros_like(q)
    for _ in range(_steps(xp, start, limit)):
        low = a < limit
        head = xp.where(low, head + a ** (-s), head)
        a = xp.where(low, a + 1.0, a)
    power = a ** (-s)
    tail = a * power / (s - 1) + 0.5 * power
    factor = s * power / a  # s (s+1) … (s+2k-2) a^(-s-2k+1), for k = 1
    for k, c in enumerate(_ZETA_TERMS, 1):
        tail = tail + c * factor
        factor = factor * (s + 2 * k - 1) * (s + 2 * k) / (a * a)
    out = head + tail
    return xp.where((q <= 0) & (q == xp.floor(q)), math.inf, out)


def polygamma(xp: Any, x: Any, n: int) -> Any:
    """The n-th derivative of digamma: (-1)^(n+1) n! zeta(n+1, x) for n >= 1."""
    if n == 0:
        return digamma(xp, x)
    sign = 1.0 if n % 2 else -1.0
    return sign * math.factorial(n) * hurwitz_zeta(xp, n + 1, x)


def _bessel_i(xp: Any, x: Any, order: int) -> Any:
    """The modified Bessel function I_order(|x|) for order 0 or 1: the power series up to 30
    (summed until its terms stop counting), the asymptotic expansion
    e^x / sqrt(2 pi x) sum(...) above (NaN at infinity, as PyTorch)."""
    ax = xp.abs(x)
    out = xp.full_like(ax, math.nan)
    small, large = ax <= 30.0, (ax > 30.0) & ~xp.isinf(ax)
    s = ax[small]
    half2 = (s / 2) ** 2
    term = (s / 2) ** order
    total = term.copy()
    for k in range(1, 100):
        term = term * half2 / (k * (k + order))
        total = total + term
        if not bool((term > total * 1e-17).any()):
            break
    out[small] = total
    b = ax[large]
    mu = 4.0 * order * order
    term, series = xp.ones_like(b), xp.ones_like(b)
    for k in range(1, 30):
        term = -term * (mu - (2 * k - 1) ** 2) / (k * 8.0 * b)
        series = series + term
    half = xp.exp(b / 2)  # e^x as two halves, so that it overflows only when the result does
    out[large] = half * (half * series / xp.sqrt(2 * math.pi * b))
    return out


def i0(xp: Any, x: Any) -> Any:
    """The modified Bessel function of the first kind, order 0."""
    return _bessel_i(xp, x, 0)


def i1(xp: Any, x: Any) -> Any:
    """The modified Bessel function of the first kind, order 1 (odd in x)."""
    return xp.sign(x) * _bessel_i(xp, x, 1)


def _laplace_erfc(xp: Any, b: Any, terms: int) -> Any:
    """erfc(b) for b >= 1 by Laplace's continued fraction, with ``terms`` terms (200 reach
    full precision from b = 1 up, 60 from 2.5), and exp(-b^2) split so that b^2 rounds
    nowhere."""
    frac = b.copy()
    for k in range(terms, 0, -1):
        frac = b + (k / 2.0) / frac
    head = xp.round(b * 16.0) / 16.0  # head^2 is exact
    return xp.exp(-head * head) * xp.exp(-(b - head) * (b + head)) / (frac * math.sqrt(math.pi))


def erfc(xp: Any, x: Any) -> Any:
    """1 - erf(x), without cancellation for large x: the continued fraction from |x| = 1 up
    (below 1, 1 - erf loses less than a digit)."""
    ax = xp.abs(x)
    upper = xp.full_like(ax, math.nan)  # erfc(|x|); NaN stays NaN
    small, middle, large = ax < 1.0, (ax >= 1.0) & (ax < 2.5), ax >= 2.5
    upper[small] = 1.0 - _erf_fallback(xp, ax[small])
    upper[middle] = _laplace_erfc(xp, ax[middle], 200)
    upper[large] = _laplace_erfc(xp, xp.minimum(ax[large], 30.0), 60)  # 0 from about 27.3
    return xp.where(x < 0, 2.0 - upper, upper)


def erfinv(xp: Any, y: Any) -> Any:
    """The inverse of erf: Winitzki's closed-form guess (to 2e-3), then three Halley steps on
    erf(x) = |y| (on erfc(x) = 1 - |y| from |y| = 0.5 up, where 1 - |y| is exact)."""
    ay = xp.abs(y)
    inside = ay < 1
    ay_in = xp.where(inside, ay, 0.5)
    log_1my2 = xp.log((1.0 - ay_in) * (1.0 + ay_in))
    a = 0.147
    t = 2.0 / (math.pi * a) + log_1my2 / 2
    x = xp.sqrt(xp.sqrt(t * t - log_1my2 / a) - t)
    tails = ay_in >= 0.5
    residual = xp.empty_like(x)
    for _ in range(3):
        residual[tails] = (1.0 - ay_in[tails]) - erfc(xp, x[tails])
        residual[~tails] = _erf_fallback(xp, x[~tails]) - ay_in[~tails]
        step = residual / (2.0 / math.sqrt(math.pi) * xp.exp(-x * x))
        x = x - step / (1.0 + x * step)
    x = xp.where(inside, x, xp.where(ay == 1, math.inf, math.nan))
    return xp.copysign(x, y)


def _log_prefactor(xp: Any, a: Any, x: Any) -> Any:
    """log(x^a e^-x / Gamma(a))."""
    return a * xp.log(x) - x - lgamma(xp, a)


def _lower_series(xp: Any, a: Any, x: Any) -> Any:
    """P(a, x) = x^a e^-x / Gamma(a + 1) * sum over n of x^n / ((a+1) … (a+n)); x < a + 1."""
    term, total, denom = xp.ones_like(x), xp.ones_like(x), a.copy()
    for _ in range(100000):
        denom = denom + 1.0
        term = term * x / denom
        total = total + term
        if not bool((term > total * 1e-17).any()):
            break
    return xp.exp(_log_prefactor(xp, a, x) - xp.log(a)) * total


def _upper_fraction(xp: Any, a: Any, x: Any) -> Any:
    """Q(a, x) by its continued fraction (modified Lentz); x >= a + 1."""
    tiny = 1e-300
    b = x + 1.0 - a
    c = xp.full_like(x, 1.0 / tiny)
    d = 1.0 / b
    h = d.copy()
    done = xp.zeros(x.shape, dtype=bool)  # converged: later steps would only add rounding
    for i in range(1, 100000):
        an = -i * (i - a)
        b = b + 2.0
        d = an * d + b
        d = xp.where(xp.abs(d) < tiny, tiny, d)
        c = b + an / c
        c = xp.where(xp.abs(c) < tiny, tiny, c)
        d = 1.0 / d
        delta = xp.where(done, 1.0, d * c)
        h = h * delta
        done |= xp.abs(delta - 1.0) <= 1e-16
        if bool(done.all()):
            break
    return xp.exp(_log_prefactor(xp, a, x)) * h


def igamma(xp: Any, a: Any, x: Any, upper: bool) -> Any:
    """The regularized lower incomplete gamma function P(a, x) (Q = 1 - P when ``upper``), with
    PyTorch's values at the edges: NaN for a < 0, x < 0 or a = x = 0."""
    a, x = xp.broadcast_arrays(a, x)
    edge = ~((a > 0) & (x > 0) & xp.isfinite(a) & xp.isfinite(x))
    series = ~edge & (x < a + 1.0)
    fraction = ~edge & ~series
    lower, rest = xp.zeros_like(x), xp.zeros_like(x)  # P, and Q = 1 - P computed directly
    if series.any():
        lower[series] = _lower_series(xp, a[series], x[series])
        rest[series] = 1.0 - lower[series]
    if fraction.any():
        rest[fraction] = _upper_fraction(xp, a[fraction], x[fraction])
        lower[fraction] = 1.0 - rest[fraction]
    # the edges: P(0, x > 0) = 1, P(a, 0) = 0, P(a, inf) = 1, P(inf, x) = 0
    lower = xp.where(edge & (a == 0) & (x > 0), 1.0, lower)
    lower = xp.where(edge & (x == 0) & (a > 0), 0.0, lower)
    lower = xp.where(edge & (x == math.inf) & (a >= 0) & (a < math.inf), 1.0, lower)
    lower = xp.where(edge & (a == math.inf) & (x >= 0) & (x < math.inf), 0.0, lower)
    bad = (a < 0) | (x < 0) | ((a == 0) & (x == 0)) | xp.isnan(a) | xp.isnan(x)
    bad |= (a == math.inf) & (x == math.inf)
    lower = xp.where(bad, math.nan, lower)
    if not upper:
        return lower
    return xp.where(edge, 1.0 - lower, rest)
