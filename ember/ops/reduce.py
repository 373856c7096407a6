"""Reductions over dimensions: sum, max/min, prod, arg-reductions, cumulative sums, all/any.

mean, var, std, logsumexp are composites of these (so they get double backward for free).
"""

from __future__ import annotations

import builtins
from collections import namedtuple
from typing import Any

from ember import dtypes
from ember.ops import core
from ember.ops.autocast import autocast_op
from ember.ops.core import (
    REDUCTION,
    Aval,
    Primitive,
    apply,
    in_float32,
    normalize_dim,
    normalize_dims,
)
from ember.ops.elementwise import Div, Exp, Sub

__all__ = [
    "sum",
    "mean",
    "prod",
    "amax",
    "amin",
    "max",
    "min",
    "argmax",
    "argmin",
    "var",
    "std",
    "var_mean",
    "std_mean",
    "logsumexp",
    "softmax",
    "log_softmax",
    "norm",
    "all",
    "any",
    "cumsum",
    "count_nonzero",
    "nansum",
    "nanmean",
    "ReduceMethods",
]

values_indices = namedtuple("values_indices", ["values", "indices"])


def reduced_shape(shape: tuple[int, ...], dims: tuple[int, ...], keepdim: bool) -> tuple:
    """``shape`` with ``dims`` removed (or set to 1 when ``keepdim``)."""
    if keepdim:
        return tuple(1 if i in dims else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in dims)


def _keep(g: Any, shape: tuple[int, ...], dims: tuple[int, ...], keepdim: bool) -> Any:
    """``g`` reshaped so that it broadcasts against the unreduced ``shape``."""
    return g if keepdim else g.reshape(reduced_shape(shape, dims, True))


class Reduction(Primitive):
    """Reduce ``dims`` (a sorted tuple of axes) of one input, optionally keeping them as 1s."""

    abstract = True
    kind = REDUCTION

    @classmethod
    def infer(cls, x: Aval, *, dims: tuple, keepdim: bool) -> Aval:  # type: ignore[override]
        return Aval(reduced_shape(x.shape, dims, keepdim), x.dtype)


class Sum(Reduction):
    @staticmethod
    def forward(xp, x, *, dims, keepdim):
        return x.sum(axis=dims, keepdims=keepdim)  # the method skips NumPy's wrapper

    @staticmethod
    def vjp(g, x, *, out, dims, keepdim):
        return (_keep(g, x.shape, dims, keepdim).expand(*x.shape),)

    saved_inputs = staticmethod(lambda req: (False,))


class _Extremum(Reduction):
    """amax/amin: the gradient is shared evenly among tied extreme elements (as PyTorch)."""

    abstract = True
    uses_out = True

    @staticmethod
    def vjp(g, x, *, out, dims, keepdim):
        mask = (x == _keep(out, x.shape, dims, keepdim)).to(g.dtype)
        count = mask.sum(dim=dims, keepdim=True)
        return (_keep(g, x.shape, dims, keepdim) * mask / count,)


class Amax(_Extremum):
    @staticmethod
    def forward(xp, x, *, dims, keepdim):
        return x.max(axis=dims, keepdims=keepdim)  # the method skips NumPy's wrapper


class Amin(_Extremum):
    @staticmethod
    def forward(xp, x, *, dims, keepdim):
        return x.min(axis=dims, keepdims=keepdim)


class Prod(Reduction):
    @staticmethod
    def forward(xp, x, *, dims, keepdim):
        return xp.prod(x, axis=dims, keepdims=keepdim)

    @staticmethod
    def vjp(g, x, *, out, dims, keepdim):
        # d out / d x_i = product of the others, computed without dividing by zero. ``s`` is
        # the sum of the zero entries: 0 in value, but it carries their derivative, so the
        # gradient stays right under double backward with one or two zeros in a slice.
        from ember.ops.elementwise import where

        g = _keep(g, x.shape, dims, keepdim)
        is_zero = x == 0
        zeros = is_zero.to(x.dtype).sum(dim=dims, keepdim=True)
        safe = where(is_zero, 1.0, x)
        p = apply(Prod, safe, dims=dims, keepdim=True)
        s = where(is_zero, x, 0.0).sum(dim=dims, keepdim=True)
        at_nonzero = p / safe * where(zeros == 0, 1.0, where(zeros == 1, s, 0.0))
        at_zero = where(zeros == 1, p, where(zeros == 2, p * (s - x), 0.0))
        return (g * where(is_zero, at_zero, at_nonzero),)


class _ArgReduction(Primitive):
    abstract = True
    kind = REDUCTION
    differentiable = False

    @staticmethod
    def infer(x: Aval, *, dim: int | None, keepdim: bool) -> Aval:  # type: ignore[override]
        if dim is None:
            shape = (1,) * len(x.shape) if keepdim else ()
        else:
            shape = reduced_shape(x.shape, (dim,), keepdim)
        return Aval(shape, dtypes.int64)


class ArgMax(_ArgReduction):
    @staticmethod
    def forward(xp, x, *, dim, keepdim):
        return xp.argmax(x, axis=dim, keepdims=keepdim).astype(xp.int64, copy=False)


class ArgMin(_ArgReduction):
    @staticmethod
    def forward(xp, x, *, dim, keepdim):
        return xp.argmin(x, axis=dim, keepdims=keepdim).astype(xp.int64, copy=False)


class _BoolReduction(Reduction):
    abstract = True
    differentiable = False

    @classmethod
    def infer(cls, x: Aval, *, dims: tuple, keepdim: bool) -> Aval:  # type: ignore[override]
        return Aval(reduced_shape(x.shape, dims, keepdim), dtypes.bool_)


class All(_BoolReduction):
    @staticmethod
    def forward(xp, x, *, dims, keepdim):
        return xp.all(x, axis=dims, keepdims=keepdim)


class Any_(_BoolReduction):
    @staticmethod
    def forward(xp, x, *, dims, keepdim):
        return xp.any(x, axis=dims, keepdims=keepdim)


class CumSum(Primitive):
    """Running sum along ``dim``; its gradient is the reversed running sum."""

    @staticmethod
    def infer(x: Aval, *, dim: int) -> Aval:  # type: ignore[override]
        return x

    @staticmethod
    def forward(xp, x, *, dim):
        return xp.cumsum(x, axis=dim, dtype=x.dtype)

    @staticmethod
    def vjp(g, x, *, out, dim):
        return (g.flip(dim).cumsum(dim).flip(dim),)

    saved_inputs = staticmethod(lambda req: (False,))


class Norm(Reduction):
    """Vector p-norm over ``dims``; the gradient at a zero vector is zero (as PyTorch)."""

    uses_out = True

    @classmethod
    def infer(cls, x: Aval, *, dims: tuple, keepdim: bool, p: float) -> Aval:  # type: ignore
        return Aval(reduced_shape(x.shape, dims, keepdim), x.dtype)

    @staticmethod
    def forward(xp, x, *, dims, keepdim, p):
        a = xp.abs(x)
        if p == float("inf"):
            return xp.amax(a, axis=dims, keepdims=keepdim)
        if p == 2:
            return xp.sqrt(xp.sum(a * a, axis=dims, keepdims=keepdim))
        if p == 1:
            return xp.sum(a, axis=dims, keepdims=keepdim)
        return xp.sum(a**p, axis=dims, keepdims=keepdim) ** (1.0 / p)

    @staticmethod
    def vjp(g, x, *, out, dims, keepdim, p):
        from ember.ops.elementwise import where

        g = _keep(g, x.shape, dims, keepdim)
        n = _keep(out, x.shape, dims, keepdim)
        if p == float("inf"):
            mask = (x.abs() == n).to(g.dtype)
            return (g * x.sign() * mask / mask.sum(dim=dims, keepdim=True),)
        if p == 1:
            return (g * x.sign(),)
        safe = where(n == 0, 1.0, n)
        scale = where(n == 0, 0.0, g / safe ** (p - 1))
        if p == 2:
            return (scale * x,)
        return (scale * x.sign() * x.abs() ** (p - 1),)


# -- public functions -----------------------------------------------------------------------
def _dims(x: Any, dim: Any, op: str) -> tuple[int, ...]:
    """``dim`` as sorted axes; a 0-d tensor accepts dim 0 or -1 like PyTorch (and reduces none)."""
    if not isinstance(x, core._Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    dims = normalize_dims(None if dim == () else dim, x.ndim, op)
    return dims if x.ndim else ()


@autocast_op
def sum(x: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Any:  # noqa: A001
    """Sum over ``dim`` (all dims by default); integer and bool inputs sum as int64."""
    dims = _dims(x, dim, "sum")
    if dtype is not None:
        x = x.to(dtype)
    elif x._data.dtype.kind in "biu":
        x = x.to(dtypes.int64)
    return apply(Sum, x, dims=dims, keepdim=bool(keepdim))


def _require_float(x: Any, op: str) -> None:
    if x._data.dtype not in dtypes.FLOATING:
        raise TypeError(
            f"{op}: could not infer output dtype: input dtype must be floating point, got "
            f"{x.dtype.name}\nhint: convert first, e.g. x.float().{op}()"
        )


def mean(x: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Any:
    """Arithmetic mean over ``dim``."""
    if dtype is not None:
        x = x.to(dtype)
    _require_float(x, "mean")
    dims = _dims(x, dim, "mean")
    count = 1
    for d in dims:
        count *= x.shape[d]
    return sum(x, dims, keepdim) / count if count else sum(x, dims, keepdim) * float("nan")


def nansum(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Any:
    """Sum over ``dim`` counting NaNs as zero."""
    from ember.ops.elementwise import isnan, where

    if input.is_floating_point():
        input = where(isnan(input), 0.0, input)
    return sum(input, dim, keepdim, dtype=dtype)


def nanmean(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> Any:
    """Mean over ``dim`` of the elements that are not NaN (NaN where all of them are)."""
    from ember.ops.elementwise import isnan, logical_not

    if dtype is not None:
        input = input.to(dtype)
    _require_float(input, "nanmean")
    return nansum(input, dim, keepdim) / sum(logical_not(isnan(input)), dim, keepdim)


@in_float32
def var(
    x: Any,
    dim: Any = None,
    *,
    correction: float = 1,
    keepdim: bool = False,
    unbiased: bool | None = None,
) -> Any:
    """Variance over ``dim`` with Bessel's ``correction`` (1 = unbiased, the default)."""
    _require_float(x, "var")
    if unbiased is not None:
        correction = 1 if unbiased else 0
    dims = _dims(x, dim, "var")
    count = 1
    for d in dims:
        count *= x.shape[d]
    centered = x - mean(x, dims, keepdim=True)
    return sum(centered * centered, dims, keepdim) / builtins.max(count - correction, 0)


@in_float32
def std(
    x: Any,
    dim: Any = None,
    *,
    correction: float = 1,
    keepdim: bool = False,
    unbiased: bool | None = None,
) -> Any:
    """Standard deviation over ``dim``."""
    _require_float(x, "std")
    return var(x, dim, correction=correction, keepdim=keepdim, unbiased=unbiased).sqrt()


def var_mean(
    x: Any,
    dim: Any = None,
    *,
    correction: float = 1,
    keepdim: bool = False,
    unbiased: bool | None = None,
) -> tuple:
    """(var, mean) over ``dim``."""
    v = var(x, dim, correction=correction, keepdim=keepdim, unbiased=unbiased)
    return v, mean(x, dim, keepdim)


def std_mean(
    x: Any,
    dim: Any = None,
    *,
    correction: float = 1,
    keepdim: bool = False,
    unbiased: bool | None = None,
) -> tuple:
    """(std, mean) over ``dim``."""
    s = std(x, dim, correction=correction, keepdim=keepdim, unbiased=unbiased)
    return s, mean(x, dim, keepdim)


@autocast_op
def prod(x: Any, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None) -> Any:
    """Product over ``dim`` (all elements by default)."""
    if dtype is not None:
        x = x.to(dtype)
    elif x._data.dtype.kind in "biu":
        x = x.to(dtypes.int64)
    if dim is None:
        return apply(Prod, x, dims=tuple(range(x.ndim)), keepdim=False)
    return apply(Prod, x, dims=_dims(x, int(dim), "prod"), keepdim=bool(keepdim))


def _check_nonempty(x: Any, dims: tuple[int, ...], op: str) -> None:
    """Max/min-like reductions have no identity, so an empty reduced dim is an error."""
    empty = [d for d in dims if x.shape[d] == 0]
    if empty:
        raise IndexError(
            f"{op}: cannot reduce over an empty dimension: dim {empty[0]} of shape "
            f"{tuple(x.shape)} has size 0 vs expected a non-empty dimension\n"
            f"hint: {op} has no identity element; pass a dim whose size is nonzero"
        )


def amax(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """Maximum over ``dim`` (all dims by default)."""
    dims = _dims(x, dim, "amax")
    _check_nonempty(x, dims, "amax")
    return apply(Amax, x, dims=dims, keepdim=bool(keepdim))


def amin(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """Minimum over ``dim`` (all dims by default)."""
    dims = _dims(x, dim, "amin")
    _check_nonempty(x, dims, "amin")
    return apply(Amin, x, dims=dims, keepdim=bool(keepdim))


def _extreme(x: Any, dim: Any, keepdim: bool, other: Any, op: str) -> Any:
    from ember.ops import elementwise, index

    if isinstance(dim, core._Tensor):
        other, dim = dim, None
    if other is not None:
        return (elementwise.maximum if op == "max" else elementwise.minimum)(x, other)
    if dim is None:
        return amax(x) if op == "max" else amin(x)
    d = normalize_dim(dim, x.ndim, op)
    if x.ndim == 0:  # a scalar is its own extremum, at index 0
        values, idx = _extreme(x.reshape(1), 0, False, None, op)
        return values_indices(values.reshape(()), idx.reshape(()))
    _check_nonempty(x, (d,), op)
    idx = argmax(x, d, keepdim=True) if op == "max" else argmin(x, d, keepdim=True)
    values = index.take_along_dim(x, idx, d)
    if not keepdim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return values_indices(values, idx)


def max(x: Any, dim: Any = None, keepdim: bool = False, *, other: Any = None) -> Any:  # noqa: A001
    """max(x) → the maximum; max(x, dim) → (values, indices); max(x, other) → elementwise."""
    return _extreme(x, dim, keepdim, other, "max")


def min(x: Any, dim: Any = None, keepdim: bool = False, *, other: Any = None) -> Any:  # noqa: A001
    """min(x) → the minimum; min(x, dim) → (values, indices); min(x, other) → elementwise."""
    return _extreme(x, dim, keepdim, other, "min")


def _arg(prim: type[Primitive], x: Any, dim: int | None, keepdim: bool, op: str) -> Any:
    if dim is not None:
        dim = normalize_dim(dim, x.ndim, op)
        if x.ndim == 0:
            return apply(prim, x.reshape(1), dim=0, keepdim=False).reshape(())
        _check_nonempty(x, (dim,), op)
        return apply(prim, x, dim=dim, keepdim=bool(keepdim))
    _check_nonempty(x, tuple(range(x.ndim)), op)
    flat = apply(prim, x.reshape(-1), dim=0, keepdim=False)
    return flat.reshape((1,) * x.ndim) if keepdim else flat


def argmax(x: Any, dim: int | None = None, keepdim: bool = False) -> Any:
    """Index of the maximum (of the flattened tensor when ``dim`` is None)."""
    return _arg(ArgMax, x, dim, keepdim, "argmax")


def argmin(x: Any, dim: int | None = None, keepdim: bool = False) -> Any:
    """Index of the minimum (of the flattened tensor when ``dim`` is None)."""
    return _arg(ArgMin, x, dim, keepdim, "argmin")


@autocast_op
@in_float32
def logsumexp(x: Any, dim: Any, keepdim: bool = False) -> Any:
    """log(sum(exp(x))) over ``dim``, without overflow."""
    from ember.ops.elementwise import where

    x = x if x.is_floating_point() else x.float()
    dims = _dims(x, dim, "logsumexp")
    if builtins.any(x.shape[d] == 0 for d in dims):  # log of an empty sum: -inf
        return x.exp().sum(dim=dims, keepdim=keepdim).log()
    m = amax(x, dims, keepdim=True).detach()
    m = where(m.isinf(), 0.0, m)
    out = (x - m).exp().sum(dim=dims, keepdim=True).log() + m
    return out if keepdim else out.squeeze(dims)


@autocast_op
def norm(x: Any, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Any:
    """Vector p-norm (p = 2/'fro' by default, 1, inf, or any positive number) over ``dim``."""
    _require_float(x, "norm")
    if p in ("fro", None):
        p = 2
    if isinstance(p, str):
        raise ValueError(f"norm: unsupported p={p!r}: expected a number or 'fro'")
    p = float(p)
    if p <= 0:
        raise ValueError(f"norm: p must be positive, got {p}")
    dims = _dims(x, dim, "norm")
    return apply(Norm, x, dims=dims, keepdim=bool(keepdim), p=p)


def all(x: Any, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """True where every element over ``dim`` is nonzero."""
    return apply(All, x, dims=_dims(x, dim, "all"), keepdim=bool(keepdim))


def any(x: Any, dim: Any = None, keepdim: bool = False) -> Any:  # noqa: A001
    """True where some element over ``dim`` is nonzero."""
    return apply(Any_, x, dims=_dims(x, dim, "any"), keepdim=bool(keepdim))


def count_nonzero(x: Any, dim: Any = None) -> Any:
    """Number of nonzero elements over ``dim``."""
    return sum(x != 0, dim)


@autocast_op
def cumsum(x: Any, dim: int, *, dtype: Any = None) -> Any:
    """Running sum along ``dim``."""
    if dtype is not None:
        x = x.to(dtype)
    elif x._data.dtype.kind in "biu":
        x = x.to(dtypes.int64)
    d = normalize_dim(dim, x.ndim, "cumsum")
    if x.ndim == 0:  # NumPy's cumsum flattens a scalar to shape (1,)
        return apply(CumSum, x.reshape(1), dim=0).reshape(())
    return apply(CumSum, x, dim=d)


def _softmax_input(op: str, input: Any, dim: int | None, dtype: Any) -> tuple[Any, int]:
    if not isinstance(input, core._Tensor):
        raise TypeError(f"{op}: expected input to be an ember.Tensor, got {type(input).__name__}")
    if dim is None:
        raise ValueError(
            f"{op}: dim must be given (PyTorch's implicit choice of dim is deprecated)\n"
            "hint: for (batch, classes) logits use dim=-1"
        )
    if dtype is not None:
        input = input.to(dtype)
    elif not input.is_floating_point():
        raise TypeError(f"{op}: expected a floating point input, got {input.dtype.name}")
    return input, core.normalize_dim(dim, input.ndim, op)


@autocast_op
def softmax(input: Any, dim: int | None = None, dtype: Any = None) -> Any:
    """exp(x) / sum(exp(x)) along ``dim``; the max is subtracted first, so ±1e4 is fine."""
    x, dim = _softmax_input("softmax", input, dim, dtype)
    return _softmax(x, dim)


@in_float32
def _softmax(x: Any, dim: int) -> Any:
    if x.ndim == 0:
        return (x - x.detach()).exp()
    if x.shape[dim] == 0:  # nothing to normalise (and no max to subtract): an empty result
        return x.exp()
    if core.unrecorded(x):  # the same primitives on the array (a sampling step's 10 logits)
        a, dims = x._data, (dim,)
        m = core.run_array(Amax, a, dims=dims, keepdim=True)
        e = core.run_array(Exp, core.run_array(Sub, a, m))
        return core._Tensor._wrap(
            core.run_array(Div, e, core.run_array(Sum, e, dims=dims, keepdim=True))
        )
    e = (x - amax(x, dim, keepdim=True).detach()).exp()
    return e / e.sum(dim, keepdim=True)


@autocast_op
def log_softmax(input: Any, dim: int | None = None, dtype: Any = None) -> Any:
    """x - logsumexp(x) along ``dim`` (stable for extreme logits)."""
    x, dim = _softmax_input("log_softmax", input, dim, dtype)
    return _log_softmax(x, dim)


@in_float32
def _log_softmax(x: Any, dim: int) -> Any:
    if x.ndim == 0:
        return x - x.detach()
    return x - logsumexp(x, dim, keepdim=True)


class ReduceMethods:
    """Tensor methods of the reduction family."""

    __slots__ = ()
    sum = sum
    mean = mean
    prod = prod
    amax = amax
    amin = amin
    max = max
    min = min
    argmax = argmax
    argmin = argmin
    var = var
    std = std
    logsumexp = logsumexp
    softmax = softmax
    log_softmax = log_softmax
    norm = norm
    all = all
    any = any
    cumsum = cumsum
    count_nonzero = count_nonzero
    nansum = nansum
    nanmean = nanmean

    def cumsum_(self, dim: int, *, dtype: Any = None) -> Any:
        """In-place cumsum."""
        return core.inplace(self, lambda x: cumsum(x, dim, dtype=dtype), "cumsum_")
