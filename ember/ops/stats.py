"""Order statistics and other statistics: aminmax, median, nanmedian, mode, kthvalue, msort,
quantile, nanquantile, cov, corrcoef, trapezoid, cumulative_trapezoid, vander, dist, cdist
and renorm.

The selection reductions find their indices with one non-differentiable primitive and take
their values with ``gather``, so gradients flow to the selected elements as in PyTorch; the
rest are composites of differentiable ops.
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Any

import numpy as np

from ember import dtypes
from ember.ops import core
from ember.ops.autocast import autocast_op
from ember.ops.core import OPAQUE, Aval, Primitive, apply, normalize_dim
from ember.ops.elementwise import (
    _float_operand,
    _inplace_method,
    abs,
    as_tensor_like,
    cast,
    clamp,
    isnan,
    lerp,
    sign,
    sqrt,
    where,
)
from ember.ops.extra import cumprod
from ember.ops.index import gather, sort
from ember.ops.movement import cat
from ember.ops.reduce import amax, amin, cumsum, norm, sum, values_indices

__all__ = [
    "aminmax",
    "median",
    "nanmedian",
    "mode",
    "kthvalue",
    "msort",
    "quantile",
    "nanquantile",
    "cov",
    "corrcoef",
    "trapezoid",
    "trapz",
    "cumulative_trapezoid",
    "vander",
    "dist",
    "cdist",
    "renorm",
    "StatsMethods",
]

aminmax_result = namedtuple("aminmax", ["min", "max"])  # torch.return_types.aminmax


# -- selection: median, nanmedian, kthvalue, mode -------------------------------------------
class SelectIndex(Primitive):
    """The index along ``dim`` of the element a selection picks (the dim kept, of size 1):
    ``median`` the lower median (the first NaN when there is one), ``nanmedian`` the lower
    median of the non-NaN elements, ``kth`` the ``k``-th smallest, ``mode`` the last
    occurrence of the smallest most frequent value."""

    kind = OPAQUE
    differentiable = False

    @staticmethod
    def infer(x: Aval, *, dim: int, rule: str, k: int) -> Aval:
        shape = tuple(1 if i == dim else n for i, n in enumerate(x.shape))
        return Aval(shape, dtypes.int64)

    @staticmethod
    def forward(xp, x, *, dim, rule, k):
        if rule == "mode":
            return _mode_index(xp, x, dim)
        order = xp.argsort(x, axis=dim, kind="stable")  # NaN sort last, in their order
        n = x.shape[dim]
        nans = xp.isnan(x).sum(axis=dim, keepdims=True) if x.dtype.kind == "f" else 0
        if rule == "kth":
            position = xp.full_like(order.take([0], axis=dim), k - 1)
        elif rule == "median":
            position = xp.where(nans > 0, n - nans, (n - 1) // 2)
        else:  # nanmedian
            position = xp.maximum(n - nans - 1, 0) // 2
        position = xp.broadcast_to(position, order.take([0], axis=dim).shape)
        return xp.take_along_axis(order, position.astype(xp.int64), axis=dim)


def _mode_index(xp: Any, x: Any, dim: int) -> Any:
    rows = xp.moveaxis(x, dim, -1)
    flat = rows.reshape(-1, rows.shape[-1])
    out = xp.empty(flat.shape[0], dtype=xp.int64)
    for r, row in enumerate(flat):
        values, counts = xp.unique(row, return_counts=True)
        best = values[int(counts.argmax())]  # the first maximum: the smallest value
        out[r] = xp.flatnonzero(row == best)[-1]
    return xp.moveaxis(out.reshape(rows.shape[:-1] + (1,)), -1, dim)


def _select(op: str, input: Any, dim: int, keepdim: bool, rule: str, k: int = 1) -> Any:
    if not isinstance(input, core._Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    x = input if input.ndim else input.reshape(1)
    d = normalize_dim(dim, x.ndim, op)
    n = x.shape[d]
    if n == 0:
        raise IndexError(f"{op}: expected reduction dim {d} to have non-zero size")
    if rule == "kth" and not 1 <= k <= n:
        raise IndexError(f"{op}: k ({k}) is out of range for dimension {d} of size {n}")
    index = apply(SelectIndex, x, dim=d, rule=rule, k=int(k))
    values = gather(x, d, index)
    if not keepdim or not input.ndim:
        index, values = index.squeeze(d), values.squeeze(d)
    if not input.ndim:
        index, values = index.reshape(()), values.reshape(())
    return values_indices(values, index)


def _whole(op: str, input: Any, rule: str) -> Any:
    """The selection over all elements: the value only."""
    if not isinstance(input, core._Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    if input.numel() == 0:
        return as_tensor_like(math.nan, input.dtype, input)
    return _select(op, input.reshape(-1), 0, False, rule).values


def median(input: Any, dim: int | None = None, keepdim: bool = False) -> Any:
    """The lower median of all elements, or (values, indices) along ``dim``; NaN when there
    is a NaN."""
    if dim is None:
        return _whole("median", input, "median")
    return _select("median", input, dim, keepdim, "median")


def nanmedian(input: Any, dim: int | None = None, keepdim: bool = False) -> Any:
    """median ignoring NaN (NaN only where every element is NaN)."""
    if dim is None:
        return _whole("nanmedian", input, "nanmedian")
    return _select("nanmedian", input, dim, keepdim, "nanmedian")


def kthvalue(input: Any, k: int, dim: int | None = None, keepdim: bool = False) -> Any:
    """(values, indices) of the ``k``-th smallest elements along ``dim`` (the last by
    default; k counts from 1)."""
    return _select("kthvalue", input, -1 if dim is None else dim, keepdim, "kth", k)


def mode(input: Any, dim: int = -1, keepdim: bool = False) -> Any:
    """(values, indices) of the most frequent values along ``dim`` (the smallest of equally
    frequent ones; the index of its last occurrence)."""
    return _select("mode", input, dim, keepdim, "mode")


def aminmax(input: Any, *, dim: int | None = None, keepdim: bool = False) -> Any:
    """(min, max) of ``input``, over all elements or along ``dim``."""
    return aminmax_result(amin(input, dim, keepdim), amax(input, dim, keepdim))


def msort(input: Any) -> Any:
    """``input`` sorted along its first dimension."""
    return sort(input, 0).values


# -- quantiles ------------------------------------------------------------------------------
_INTERPOLATIONS = ("linear", "lower", "higher", "midpoint", "nearest")


def _check_q(op: str, q: Any, input: Any) -> Any:
    """``q`` as a tensor of ``input``'s dtype, checked to be 0-d or 1-D and within [0, 1]."""
    if isinstance(q, core._Tensor):
        if q.ndim > 1:
            raise RuntimeError(f"{op}() q must be a scalar or 1D tensor, got {q.ndim}D")
        if q.dtype is not input.dtype:
            raise RuntimeError(
                f"{op}() q tensor must be same dtype as the input tensor, got {q.dtype.name} "
                f"and {input.dtype.name}"
            )
        values = np.asarray(q.detach().cpu().numpy())
    elif isinstance(q, (int, float)) and not isinstance(q, bool):
        values = np.asarray(float(q))
        q = as_tensor_like(float(q), input.dtype, input)
    else:
        raise TypeError(f"{op}() q must be a number or a Tensor, got {type(q).__name__}")
    if not ((values >= 0) & (values <= 1)).all():
        raise RuntimeError(f"{op}() q values must be in the range [0, 1]")
    return q.detach()


def _quantile(
    op: str, input: Any, q: Any, dim: int | None, keepdim: bool, interpolation: str, skip_nan: bool
) -> Any:
    if not isinstance(input, core._Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"{op}() input tensor must be either float or double dtype")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(
            f"{op}() interpolation must be one of {', '.join(_INTERPOLATIONS)}, got "
            f"{interpolation!r}"
        )
    q = _check_q(op, q, input)
    x = input.reshape(-1) if dim is None else input
    d = normalize_dim(dim if dim is not None else 0, max(x.ndim, 1), op)
    x = x if x.ndim else x.reshape(1)
    if x.shape[d] == 0:
        raise RuntimeError(f"{op}() input tensor must be non-empty")
    rows = sort(x, d).values.movedim(d, -1)  # (..., n), NaN last
    n = rows.shape[-1]
    nans = cast(isnan(rows).sum(-1, keepdim=True), x.dtype)
    qs = q.reshape(-1)
    if skip_nan:  # ranks among the non-NaN values (none: 0, and NaN below)
        ranks = clamp((n - 1 - nans) * qs, min=0.0)
    else:  # a row with NaN: the rank of its first NaN, at the end
        ranks = where(nans > 0, float(n - 1), (n - 1) * qs)  # (..., Q)
    if interpolation == "nearest":
        ranks = ranks.round()
    below = ranks.floor() if interpolation != "higher" else ranks.ceil()
    above = ranks.ceil() if interpolation != "lower" else ranks.floor()
    low = gather(rows, -1, cast(below, dtypes.int64))
    high = gather(rows, -1, cast(above, dtypes.int64))
    weight = (ranks - below) if interpolation == "linear" else 0.5
    out = lerp(low, high, weight) if interpolation in ("linear", "midpoint") else low
    if skip_nan:
        out = where(nans == n, math.nan, out)  # rows of NaN only
    out = out.movedim(-1, 0)  # (Q, ...)
    if keepdim:
        out = (
            out.reshape((out.shape[0],) + (1,) * input.ndim)
            if dim is None
            else out.unsqueeze(d + 1)
        )
    return out.squeeze(0) if q.ndim == 0 else out


def _quantile_function(name: str, skip_nan: bool, doc: str) -> Any:
    """``quantile`` or ``nanquantile``: one signature, torch's."""

    def fn(
        input: Any,
        q: Any,
        dim: int | None = None,
        keepdim: bool = False,
        *,
        interpolation: str = "linear",
    ) -> Any:
        return _quantile(name, input, q, dim, keepdim, interpolation, skip_nan)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return autocast_op(fn)


quantile = _quantile_function(
    "quantile",
    False,
    """The ``q``-th quantiles of ``input`` (all elements, or along ``dim``), between the
    sorted values by ``interpolation``; NaN where there is a NaN. A 1-D ``q`` adds a leading
    dimension.""",
)
nanquantile = _quantile_function(
    "nanquantile", True, """quantile ignoring NaN (NaN only where every element is NaN)."""
)


# -- covariance -----------------------------------------------------------------------------
def cov(input: Any, *, correction: int = 1, fweights: Any = None, aweights: Any = None) -> Any:
    """The covariance matrix of the variables in ``input``'s rows (observations in columns;
    a 1-D input is one variable), with frequency and/or observation weights."""
    x = _float_operand("cov", input)
    if x.ndim > 2:
        raise ValueError(f"cov(): expected input to have two or fewer dimensions, got {x.ndim}")
    rows = x.reshape(1, -1) if x.ndim < 2 else x
    n = rows.shape[1]
    weights = None
    for name, w in (("fweights", fweights), ("aweights", aweights)):
        if w is None:
            continue
        if not isinstance(w, core._Tensor) or w.ndim > 1 or w.numel() != n:
            raise ValueError(
                f"cov(): expected {name} to be a 1-D tensor with {n} elements (the number of "
                "observations)"
            )
        if name == "fweights" and w.dtype.is_floating_point:
            raise TypeError("cov(): expected fweights to have an integral dtype")
        if bool((w < 0).any()):
            raise ValueError(f"cov(): {name} cannot be negative")
        w = cast(w, x.dtype)
        weights = w if weights is None else weights * w
    if weights is None:
        total = float(n)
        mean = rows.mean(1, keepdim=True)
        scale = float(n - correction)
    else:
        total = weights.sum()
        mean = (rows * weights).sum(1, keepdim=True) / total
        scale = total
        if correction and aweights is None:
            scale = total - correction
        elif correction:
            scale = total - correction * (weights * cast(aweights, x.dtype)).sum() / total
    scale = clamp(scale, min=0.0) if isinstance(scale, core._Tensor) else max(scale, 0.0)
    centred = rows - mean
    weighted = centred if weights is None else centred * weights
    out = weighted.matmul(centred.transpose(0, 1)) / scale
    return out.reshape(()) if x.ndim < 2 else out


def corrcoef(input: Any) -> Any:
    """The Pearson correlation coefficients of the variables in ``input``'s rows, in [-1, 1]."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    stddev = sqrt(c.reshape(-1)[:: c.shape[0] + 1])
    return clamp(c / stddev.unsqueeze(1) / stddev.unsqueeze(0), -1.0, 1.0)


# -- integration ----------------------------------------------------------------------------
def _spacing(op: str, y: Any, x: Any, dx: Any, d: int) -> Any:
    """The widths of the intervals along ``d``: from the sample points ``x``, or ``dx``."""
    if x is None:
        return 1.0 if dx is None else dx
    if dx is not None:
        raise TypeError(f"{op}: pass the sample points x or the spacing dx, not both")
    if not isinstance(x, core._Tensor):
        raise TypeError(f"{op}: expected x to be a Tensor, got {type(x).__name__}")
    n = x.shape[-1 if x.ndim == 1 else d] if x.ndim else 0
    dx_ = x.diff(dim=-1 if x.ndim == 1 else d)
    if x.ndim == 1:  # the 1-D sample points lie along d
        if n != y.shape[d]:
            raise RuntimeError(
                f"{op}: there must be one x value per element of y along dim {d}: "
                f"{n} vs {y.shape[d]}"
            )
        dx_ = dx_.reshape((n - 1,) + (1,) * (y.ndim - 1 - d))
    return dx_


def _trapezoids(op: str, y: Any, x: Any, dx: Any, dim: int) -> tuple[Any, int]:
    """The area of each interval along ``dim`` (and the normalised dim)."""
    y = _float_operand(op, y)
    d = normalize_dim(dim, y.ndim, op)
    width = _spacing(op, y, x, dx, d)
    n = y.shape[d]
    if n == 0:
        return y, d
    return (y.narrow(d, 1, n - 1) + y.narrow(d, 0, n - 1)) * width * 0.5, d


def trapezoid(y: Any, x: Any = None, *, dx: Any = None, dim: int = -1) -> Any:
    """The trapezoidal rule along ``dim``: sample points ``x``, or a constant spacing ``dx``
    (1 by default)."""
    areas, d = _trapezoids("trapezoid", y, x, dx, dim)
    return sum(areas, d)


trapz = trapezoid


def cumulative_trapezoid(y: Any, x: Any = None, *, dx: Any = None, dim: int = -1) -> Any:
    """The running trapezoidal rule along ``dim`` (one element fewer than ``y``)."""
    areas, d = _trapezoids("cumulative_trapezoid", y, x, dx, dim)
    return cumsum(areas, d)


# -- Vandermonde matrices and distances -----------------------------------------------------
def vander(x: Any, N: int | None = None, increasing: bool = False) -> Any:  # noqa: N803
    """The Vandermonde matrix of the 1-D ``x``: columns x^(N-1) … x^0 (or increasing)."""
    if not isinstance(x, core._Tensor) or x.ndim != 1:
        raise ValueError("vander: x must be a one-dimensional tensor")
    n = x.shape[0] if N is None else N
    if n < 0:
        raise ValueError(f"vander: N must be non-negative, got {n}")
    if x.dtype is dtypes.bool_ or not x.dtype.is_floating_point:
        x = cast(x, dtypes.int64)
    column = x.unsqueeze(1)
    columns = [as_tensor_like(np.ones((x.shape[0], 1)), x.dtype, x)] if n else []
    if n > 1:
        columns.append(cumprod(column.expand(x.shape[0], n - 1), 1))
    out = cat(columns, 1) if columns else column[:, :0]
    return out if increasing else out.flip(1)


def _pnorm(diff: Any, p: float, dim: int) -> Any:
    """The p-norm of ``diff`` over ``dim``, for any p >= 0 (0: the count of nonzeros)."""
    if p == 0:  # sign(|d|) is 1 for nonzero d, and has PyTorch's zero gradient
        return sum(sign(abs(diff)), dim)
    if p == math.inf:
        return amax(abs(diff), dim)
    return norm(diff, p, dim)


@autocast_op
def dist(input: Any, other: Any, p: float = 2) -> Any:
    """The p-norm of ``input - other`` (p >= 0 or infinity)."""
    diff = _float_operand("dist", input) - other
    if not isinstance(p, (int, float)) or p < 0:
        raise RuntimeError(f"dist only supports non-negative p-norms, got {p}")
    return _pnorm(diff.reshape(-1), float(p), 0)


_COMPUTE_MODES = (
    "use_mm_for_euclid_dist_if_necessary",
    "use_mm_for_euclid_dist",
    "donot_use_mm_for_euclid_dist",
)


@autocast_op
def cdist(
    x1: Any,
    x2: Any,
    p: float = 2.0,
    compute_mode: str = "use_mm_for_euclid_dist_if_necessary",
) -> Any:
    """The p-norm distances between the rows of ``x1`` (…, P, M) and ``x2`` (…, R, M): a
    (…, P, R) tensor. ``compute_mode`` names PyTorch's choice of a matrix-product formula for
    p = 2; ember computes every mode from the differences, which is the more accurate."""
    if compute_mode not in _COMPUTE_MODES:
        raise ValueError(f"cdist: {compute_mode!r} is not a valid compute_mode")
    for name, x in (("x1", x1), ("x2", x2)):
        if not isinstance(x, core._Tensor) or x.ndim < 2:
            raise ValueError(f"cdist only supports at least 2D tensors, {name} is not")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"cdist: x1 and x2 must have the same number of columns: {x1.shape[-1]} vs "
            f"{x2.shape[-1]}"
        )
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    diff = _float_operand("cdist", x1).unsqueeze(-2) - x2.unsqueeze(-3)
    return _pnorm(diff, float(p), -1)


@autocast_op
def renorm(input: Any, p: float, dim: int, maxnorm: float) -> Any:
    """``input`` with each slice along ``dim`` whose p-norm exceeds ``maxnorm`` scaled down to
    that norm."""
    x = _float_operand("renorm", input)
    if p <= 0:
        raise RuntimeError(f"renorm: non-positive norm not supported, got p={p}")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    d = normalize_dim(dim, x.ndim, "renorm")
    others = tuple(i for i in range(x.ndim) if i != d)
    norms = norm(x, p, others, keepdim=True) if others else abs(x)
    factor = where(norms > maxnorm, maxnorm / (norms + 1e-7), 1.0)
    return x * factor


class StatsMethods:
    """Tensor methods of the statistics."""

    __slots__ = ()
    aminmax = aminmax
    median = median
    nanmedian = nanmedian
    mode = mode
    kthvalue = kthvalue
    msort = msort
    quantile = quantile
    nanquantile = nanquantile
    cov = cov
    corrcoef = corrcoef
    dist = dist
    renorm = renorm
    renorm_ = _inplace_method(renorm, "renorm_")
