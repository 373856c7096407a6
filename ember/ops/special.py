"""PyTorch's special functions: lgamma, digamma, polygamma, mvlgamma, erfc, erfinv, i0 (and
i1, its derivative), igamma and igammac.

Kernels run on the backend's special functions (SciPy, or CuPy's) when present and on the NumPy
series of ``special_kernels`` otherwise; either way in float64, rounded once to the input's
dtype, with PyTorch's values at the poles and infinities. Gradients follow the chain
lgamma → digamma → polygamma(1) → polygamma(2) …, so every order is available.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ember.arrays import backend_of
from ember.ops import special_kernels as kernels
from ember.ops.core import apply
from ember.ops.elementwise import (
    Binary,
    Unary,
    _float_operand,
    _inplace_method,
    as_tensor_like,
    exp,
    log,
    promote,
    where,
)
from ember.ops.extra import _tensors

__all__ = [
    "lgamma",
    "digamma",
    "polygamma",
    "mvlgamma",
    "erfc",
    "erfinv",
    "i0",
    "igamma",
    "igammac",
    "SpecialMethods",
]

_NO_LOWERING = "SciPy's or ember's own series, which no single libm call reproduces"


def _on_backend(
    xp: Any, arrays: tuple, scipy_name: str, fallback: Callable[..., Any], **params: Any
) -> Any:
    """``scipy_name`` of the backend's special functions on float64 copies of ``arrays``, or
    the NumPy ``fallback`` without SciPy; the result in the first array's dtype."""
    wide = [a.astype(np.float64, copy=False) for a in arrays]
    special = backend_of(arrays[0]).special()
    if special is None:
        out = fallback(xp, *wide, **params)
    else:
        out = getattr(special, scipy_name)(*params.values(), *wide)
    return out.astype(arrays[0].dtype, copy=False)


class _Special(Unary):
    abstract = True
    no_lowering = _NO_LOWERING
    quiet = True


class Lgamma(_Special):
    @staticmethod
    def forward(xp, x):
        out = _on_backend(xp, (x,), "gammaln", kernels.lgamma)
        return xp.where(xp.isinf(x), x.dtype.type(math.inf), out)  # SciPy: -inf at -inf

    @staticmethod
    def vjp(g, x, *, out):
        return (g * digamma(x),)


class Polygamma(_Special):
    """The n-th derivative of digamma (n = 0: digamma itself)."""

    @staticmethod
    def forward(xp, x, *, n):
        if n == 0:
            return _on_backend(xp, (x,), "psi", kernels.digamma)
        return _on_backend(xp, (x,), "polygamma", kernels.polygamma, n=n)

    @staticmethod
    def vjp(g, x, *, out, n):
        return (g * polygamma(n + 1, x),)


class Erfc(_Special):
    @staticmethod
    def forward(xp, x):
        return _on_backend(xp, (x,), "erfc", kernels.erfc)

    @staticmethod
    def vjp(g, x, *, out):
        return (g * exp(-(x * x)) * (-2.0 / math.sqrt(math.pi)),)


class Erfinv(_Special):
    uses_out = True

    @staticmethod
    def forward(xp, x):
        return _on_backend(xp, (x,), "erfinv", kernels.erfinv)

    @staticmethod
    def vjp(g, x, *, out):
        return (g * exp(out * out) * (math.sqrt(math.pi) / 2.0),)

    saved_inputs = staticmethod(lambda req: (False,))


class _BesselI(_Special):
    """PyTorch's i0 and i1 are NaN at ±infinity (SciPy's are infinite)."""

    abstract = True
    order: int

    @classmethod
    def forward(cls, xp, x):  # type: ignore[override]
        fallback = kernels.i1 if cls.order else kernels.i0
        out = _on_backend(xp, (x,), f"i{cls.order}", fallback)
        return xp.where(xp.isinf(x), x.dtype.type(math.nan), out)


class I0(_BesselI):
    order = 0

    @staticmethod
    def vjp(g, x, *, out):
        return (g * i1(x),)


class I1(_BesselI):
    order = 1
    uses_out = True

    @staticmethod
    def vjp(g, x, *, out):
        # I1'(x) = I0(x) - I1(x) / x, which is 1/2 at x = 0
        safe = where(x == 0, 1.0, x)
        return (g * (i0(x) - where(x == 0, 0.5, out / safe)),)


class Igamma(Binary):
    """The regularized incomplete gamma function: lower P(a, x), or upper Q(a, x)."""

    no_lowering = _NO_LOWERING
    quiet = True

    @staticmethod
    def forward(xp, a, x, *, upper):
        name = "gammaincc" if upper else "gammainc"
        fallback = lambda xp, a, x: kernels.igamma(xp, a, x, upper)  # noqa: E731
        return _on_backend(xp, (a, x), name, fallback)

    @staticmethod
    def vjp(g, a, x, *, out, upper):
        name = "igammac" if upper else "igamma"
        density = exp((a - 1.0) * log(x) - x - lgamma(a))
        return (no_derivative(name, "input"), -g * density if upper else g * density)


def no_derivative(op: str, argument: str) -> Callable[[], Any]:
    """A vjp entry for an argument PyTorch has no derivative for: raises when it is needed."""

    def needed() -> Any:
        raise NotImplementedError(
            f"the derivative of {op} with respect to its argument '{argument}' is not "
            "implemented (as in PyTorch)"
        )

    return needed


# -- public functions -----------------------------------------------------------------------
def lgamma(input: Any) -> Any:
    """log|Gamma(input)|."""
    return apply(Lgamma, _float_operand("lgamma", input))


def digamma(input: Any) -> Any:
    """The logarithmic derivative of Gamma (-inf at +0, +inf at -0, NaN at -1, -2, …)."""
    return apply(Polygamma, _float_operand("digamma", input), n=0)


def polygamma(n: int, input: Any) -> Any:
    """The ``n``-th derivative of digamma."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"polygamma: n must be an int, got {type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return apply(Polygamma, _float_operand("polygamma", input), n=int(n))


def mvlgamma(input: Any, p: int) -> Any:
    """The log of the multivariate gamma function of dimension ``p``:
    p(p-1)/4 log(pi) + sum over i < p of lgamma(input - i/2)."""
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)):
        raise TypeError(f"mvlgamma: p must be an int, got {type(p).__name__}")
    if p < 1:
        raise RuntimeError(f"mvlgamma: p has to be greater than or equal to 1, got {p}")
    x = _float_operand("mvlgamma", input)
    halves = as_tensor_like(-np.arange(p) / 2.0, x.dtype, x)
    return lgamma(x.unsqueeze(-1) + halves).sum(-1) + p * (p - 1) / 4.0 * math.log(math.pi)


def erfc(input: Any) -> Any:
    """1 - erf(input), accurate where erf is close to 1."""
    return apply(Erfc, _float_operand("erfc", input))


def erfinv(input: Any) -> Any:
    """The inverse of erf on [-1, 1] (±inf at ±1, NaN outside)."""
    return apply(Erfinv, _float_operand("erfinv", input))


def i0(input: Any) -> Any:
    """The modified Bessel function of the first kind, order 0."""
    return apply(I0, _float_operand("i0", input))


def i1(input: Any) -> Any:
    """The modified Bessel function of the first kind, order 1."""
    return apply(I1, _float_operand("i1", input))


def _igamma(op: str, input: Any, other: Any, upper: bool) -> Any:
    _tensors(op, input, other)
    a, x = promote(op, input, other)
    if not a.dtype.is_floating_point:
        raise TypeError(f"{op}: expected floating point tensors, got {a.dtype.name}")
    return apply(Igamma, a, x, upper=upper)


def igamma(input: Any, other: Any) -> Any:
    """The regularized lower incomplete gamma function P(input, other)."""
    return _igamma("igamma", input, other, upper=False)


def igammac(input: Any, other: Any) -> Any:
    """The regularized upper incomplete gamma function Q(input, other) = 1 - P."""
    return _igamma("igammac", input, other, upper=True)


def _polygamma_method(self: Any, n: int) -> Any:
    return polygamma(n, self)


class SpecialMethods:
    """Tensor methods of the special functions."""

    __slots__ = ()
    lgamma = lgamma
    digamma = digamma
    polygamma = _polygamma_method
    mvlgamma = mvlgamma
    erfc = erfc
    erfinv = erfinv
    i0 = i0
    igamma = igamma
    igammac = igammac

    lgamma_ = _inplace_method(lgamma, "lgamma_")
    digamma_ = _inplace_method(digamma, "digamma_")
    polygamma_ = _inplace_method(_polygamma_method, "polygamma_")
    mvlgamma_ = _inplace_method(mvlgamma, "mvlgamma_")
    erfc_ = _inplace_method(erfc, "erfc_")
    erfinv_ = _inplace_method(erfinv, "erfinv_")
    i0_ = _inplace_method(i0, "i0_")
    igamma_ = _inplace_method(igamma, "igamma_")
    igammac_ = _inplace_method(igammac, "igammac_")
