"""More of PyTorch's math: inverse hyperbolics, scans (cumprod, cummax/cummin, logcumsumexp),
integer bitwise ops and elementwise helpers (logaddexp, hypot, xlogy …).

Most are compositions of existing ember ops, so autograd and ``ember.jit`` handle them with no
extra rules; new primitives are added only where a composition would lose accuracy (acosh and
friends) or where the op is a scan or integer-only.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ember import dtypes
from ember.ops import core
from ember.ops.autocast import autocast_op
from ember.ops.core import Aval, Primitive, apply, inplace, normalize_dim, ufunc_writer
from ember.ops.elementwise import (
    Binary,
    Unary,
    _float_operand,
    _inplace_method,
    _unary,
    abs,
    exp,
    isinf,
    isnan,
    log,
    log1p,
    maximum,
    promote,
    sign,
    sin,
    sqrt,
    where,
)
from ember.ops.index import _check_index_tensor, index_put, masked_fill
from ember.ops.reduce import values_indices

__all__ = [
    "acosh",
    "asinh",
    "atanh",
    "arccosh",
    "arcsinh",
    "arctanh",
    "deg2rad",
    "rad2deg",
    "frac",
    "sinc",
    "logaddexp",
    "logaddexp2",
    "hypot",
    "xlogy",
    "heaviside",
    "float_power",
    "fmax",
    "fmin",
    "positive",
    "sgn",
    "logit",
    "nan_to_num",
    "isposinf",
    "isneginf",
    "cumprod",
    "cummax",
    "cummin",
    "logcumsumexp",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_not",
    "bitwise_left_shift",
    "bitwise_right_shift",
    "index_fill",
    "index_copy",
    "masked_scatter",
    "searchsorted",
    "bucketize",
    "diag_embed",
    "cartesian_prod",
    "cross",
    "ExtraMethods",
]


# -- inverse hyperbolic functions -----------------------------------------------------------
class Acosh(Unary):
    c = "acosh({0})"
    libm = True
    write = staticmethod(ufunc_writer("arccosh"))
    quiet = True

    @staticmethod
    def forward(xp, x):
        return xp.arccosh(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g / sqrt((x - 1) * (x + 1)),)


class Asinh(Unary):
    c = "asinh({0})"
    libm = True
    write = staticmethod(ufunc_writer("arcsinh"))

    @staticmethod
    def forward(xp, x):
        return xp.arcsinh(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g / sqrt(x * x + 1),)


class Atanh(Unary):
    c = "atanh({0})"
    libm = True
    write = staticmethod(ufunc_writer("arctanh"))
    quiet = True

    @staticmethod
    def forward(xp, x):
        return xp.arctanh(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g / ((1 - x) * (1 + x)),)


def acosh(input: Any) -> Any:
    """Inverse hyperbolic cosine (NaN below 1)."""
    return _unary(Acosh, input, "acosh")


def asinh(input: Any) -> Any:
    """Inverse hyperbolic sine."""
    return _unary(Asinh, input, "asinh")


def atanh(input: Any) -> Any:
    """Inverse hyperbolic tangent (±inf at ±1, NaN beyond)."""
    return _unary(Atanh, input, "atanh")


arccosh, arcsinh, arctanh = acosh, asinh, atanh


# -- elementwise compositions ---------------------------------------------------------------
def deg2rad(input: Any) -> Any:
    """Degrees to radians."""
    return _float_operand("deg2rad", input) * (math.pi / 180.0)


def rad2deg(input: Any) -> Any:
    """Radians to degrees."""
    return _float_operand("rad2deg", input) * (180.0 / math.pi)


def frac(input: Any) -> Any:
    """The fractional part, with the sign of ``input`` (x - trunc(x))."""
    if not input.is_floating_point():
        raise TypeError(f"frac: expected a floating point tensor, got {input.dtype.name}")
    return input - input.trunc()


def sinc(input: Any) -> Any:
    """Normalized sinc, sin(pi x) / (pi x), with sinc(0) = 1 (and gradient 0 there)."""
    x = _float_operand("sinc", input)
    zero = x == 0
    px = where(zero, 1.0, x) * math.pi
    return where(zero, 1.0, sin(px) / px)


def _binary_float(op: str, a: Any, b: Any) -> tuple[Any, Any]:
    a, b = promote(op, a, b)
    return _float_operand(op, a), _float_operand(op, b)


def _tensors(op: str, a: Any, b: Any) -> None:
    for name, v in (("input", a), ("other", b)):
        if not isinstance(v, core._Tensor):
            raise TypeError(f"{op}: argument '{name}' must be a Tensor, got {type(v).__name__}")


def logaddexp(input: Any, other: Any) -> Any:
    """log(exp(input) + exp(other)), computed without overflow."""
    _tensors("logaddexp", input, other)
    a, b = _binary_float("logaddexp", input, other)
    m = maximum(a, b)
    both_inf = isinf(a) & (a == b)  # inf - inf would be NaN; the answer is that infinity
    return where(both_inf, a, m + log1p(exp(-abs(a - b))))


def logaddexp2(input: Any, other: Any) -> Any:
    """log2(2**input + 2**other), computed without overflow."""
    _tensors("logaddexp2", input, other)
    a, b = _binary_float("logaddexp2", input, other)
    m = maximum(a, b)
    both_inf = isinf(a) & (a == b)
    return where(both_inf, a, m + log1p(exp(-abs(a - b) * math.log(2))) / math.log(2))


def hypot(input: Any, other: Any) -> Any:
    """sqrt(input**2 + other**2), scaled so that large values do not overflow."""
    _tensors("hypot", input, other)
    a, b = abs(input), abs(other)
    m = maximum(a, b)
    safe = where(m == 0, 1.0, m)
    r = where(m == 0, 0.0, safe * sqrt((a / safe) ** 2 + (b / safe) ** 2))
    return where(isinf(a) | isinf(b), math.inf, r)


def xlogy(input: Any, other: Any) -> Any:
    """input * log(other), defined as 0 where input is 0 (unless other is NaN)."""
    if not isinstance(input, core._Tensor) and not isinstance(other, core._Tensor):
        raise TypeError("xlogy: expected at least one Tensor operand")
    x, y = _binary_float("xlogy", input, other)
    log_y = log(y)
    return x * where((x == 0) & isinf(log_y), 0.0, log_y)


def heaviside(input: Any, values: Any) -> Any:
    """Step function: 0 below zero, 1 above, ``values`` at zero (not differentiable)."""
    _tensors("heaviside", input, values)
    if input.dtype is not values.dtype:
        raise RuntimeError(
            f"heaviside: input ({input.dtype.name}) and values ({values.dtype.name}) "
            "must have the same dtype"
        )
    if input.requires_grad or values.requires_grad:
        raise RuntimeError("heaviside: the step function is not differentiable")
    return where(input == 0, values, (input > 0).to(input.dtype))


def float_power(input: Any, exponent: Any) -> Any:
    """input ** exponent computed in float64 (the result is float64)."""
    f64 = dtypes.float64
    base = input.to(f64) if isinstance(input, core._Tensor) else float(input)
    exp_ = exponent.to(f64) if isinstance(exponent, core._Tensor) else float(exponent)
    if not isinstance(base, core._Tensor):
        return exp_.new_full((), base) ** exp_
    return base**exp_


def fmax(input: Any, other: Any) -> Any:
    """Elementwise maximum that ignores NaN (NaN only where both are NaN)."""
    _tensors("fmax", input, other)
    a, b = promote("fmax", input, other)
    return where(isnan(b), a, where(isnan(a), b, maximum(a, b)))


def fmin(input: Any, other: Any) -> Any:
    """Elementwise minimum that ignores NaN (NaN only where both are NaN)."""
    _tensors("fmin", input, other)
    a, b = promote("fmin", input, other)
    return where(isnan(b), a, where(isnan(a), b, -maximum(-a, -b)))


def positive(input: Any) -> Any:
    """``input`` itself (unary plus); refused for bool, as PyTorch does."""
    if input.dtype is dtypes.bool_:
        raise TypeError("positive: the unary + is not supported for bool tensors")
    return input


def sgn(input: Any) -> Any:
    """sign for real tensors (PyTorch's complex-aware sign)."""
    return sign(input)


def logit(input: Any, eps: float | None = None) -> Any:
    """log(p / (1 - p)), with ``p`` clamped to [eps, 1 - eps] when ``eps`` is given."""
    p = _float_operand("logit", input)
    if eps is not None:
        p = p.clamp(eps, 1 - eps)
    return log(p / (1 - p))


def nan_to_num(
    input: Any, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None
) -> Any:
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (by default the
    dtype's largest and lowest finite values)."""
    if not input.is_floating_point():
        return input.clone()
    info = dtypes.finfo(input.dtype)
    hi = info.max if posinf is None else posinf
    lo = info.min if neginf is None else neginf
    x = where(isnan(input), nan, input)
    return where(x == math.inf, hi, where(x == -math.inf, lo, x))


def isposinf(input: Any) -> Any:
    """True where ``input`` is +inf."""
    return input == math.inf


def isneginf(input: Any) -> Any:
    """True where ``input`` is -inf."""
    return input == -math.inf


# -- scans ----------------------------------------------------------------------------------
class _Scan(Primitive):
    abstract = True

    @staticmethod
    def infer(x: Aval, *, dim: int) -> Aval:  # type: ignore[override]
        return x


def _rev_cumsum(v: Any, dim: int) -> Any:
    return v.flip(dim).cumsum(dim).flip(dim)


class CumProd(_Scan):
    """Running product along ``dim``. Its gradient divides by the input only before the first
    zero; at that zero it uses the products that skip it, and beyond it is zero. (Its second
    derivative is exact only where the input has no zeros.)"""

    uses_out = True

    @staticmethod
    def forward(xp, x, *, dim):
        return xp.cumprod(x, axis=dim, dtype=x.dtype)

    @staticmethod
    def vjp(g, x, *, out, dim):
        is_zero = x == 0
        zeros_so_far = is_zero.to(dtypes.int64).cumsum(dim)
        before = zeros_so_far == 0
        first_zero = is_zero & (zeros_so_far == 1)
        safe = where(before, x, 1.0)
        plain = _rev_cumsum(g * out, dim) / safe
        skipping = apply(CumProd, where(first_zero, 1.0, x), dim=dim)
        at_zero = _rev_cumsum(g * skipping, dim)
        return (where(before, plain, where(first_zero, at_zero, 0.0)),)


class CumExtremeIndex(_Scan):
    """Index of the running maximum (``largest``) or minimum along ``dim``: the latest one
    on ties, and NaN, once seen, stays the extreme (PyTorch's cummax/cummin indices)."""

    differentiable = False

    @staticmethod
    def infer(x: Aval, *, dim: int, largest: bool) -> Aval:  # type: ignore[override]
        return Aval(x.shape, dtypes.int64)

    @staticmethod
    def forward(xp, x, *, dim, largest):
        ufunc = xp.maximum if largest else xp.minimum
        marks = x == ufunc.accumulate(x, axis=dim)
        if x.dtype.kind == "f":
            marks |= xp.isnan(x)
        shape = [1] * x.ndim
        shape[dim] = x.shape[dim]
        positions = xp.arange(x.shape[dim], dtype=np.int64).reshape(shape)
        return xp.maximum.accumulate(xp.where(marks, positions, 0), axis=dim)


class LogCumSumExp(_Scan):
    """log(cumsum(exp(x))) along ``dim``, computed without overflow."""

    uses_out = True

    @staticmethod
    def forward(xp, x, *, dim):
        return xp.logaddexp.accumulate(x, axis=dim)

    @staticmethod
    def vjp(g, x, *, out, dim):
        # d out_i / d x_j = exp(x_j - out_i) for i >= j. Summed against g, each sign of g
        # is a reversed logcumsumexp of log|g| - out, so no term overflows.
        def part(w: Any) -> Any:
            logs = apply(LogCumSumExp, (log(w) - out).flip(dim), dim=dim).flip(dim)
            return exp(x + logs)

        return (part(where(g > 0, g, 0.0)) - part(where(g < 0, -g, 0.0)),)


def _scan(prim: type[Primitive], input: Any, dim: int, op: str, **params: Any) -> Any:
    if not isinstance(input, core._Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    d = normalize_dim(dim, input.ndim, op)
    if input.ndim == 0:
        return apply(prim, input.reshape(1), dim=0, **params).reshape(())
    return apply(prim, input, dim=d, **params)


@autocast_op
def cumprod(input: Any, dim: int, *, dtype: Any = None) -> Any:
    """Running product along ``dim`` (integers and bools accumulate in int64)."""
    if dtype is not None:
        input = input.to(dtype)
    elif input.dtype.np.kind in "biu":
        input = input.to(dtypes.int64)
    return _scan(CumProd, input, dim, "cumprod")


def _cum_extreme(input: Any, dim: int, largest: bool, op: str) -> Any:
    index = _scan(CumExtremeIndex, input, dim, op, largest=largest)
    if input.ndim == 0:
        return values_indices(input.clone(), index)
    return values_indices(input.gather(normalize_dim(dim, input.ndim, op), index), index)


def cummax(input: Any, dim: int) -> Any:
    """(values, indices) of the running maximum along ``dim``."""
    return _cum_extreme(input, dim, True, "cummax")


def cummin(input: Any, dim: int) -> Any:
    """(values, indices) of the running minimum along ``dim``."""
    return _cum_extreme(input, dim, False, "cummin")


def logcumsumexp(input: Any, dim: int) -> Any:
    """log(cumsum(exp(input))) along ``dim``, without overflow."""
    return _scan(LogCumSumExp, _float_operand("logcumsumexp", input), dim, "logcumsumexp")


# -- integer bitwise ops --------------------------------------------------------------------
_BITWISE = {
    "and": "bitwise_and",
    "or": "bitwise_or",
    "xor": "bitwise_xor",
    "left_shift": "left_shift",
    "right_shift": "right_shift",
}


class Bitwise(Binary):
    """Bitwise and/or/xor and shifts of integer (or bool) tensors."""

    differentiable = False
    no_lowering = "integer-only, and a fused group computes in one float dtype"

    @staticmethod
    def forward(xp, a, b, *, op):
        if op.endswith("shift") and a.dtype.kind != "b":
            # PyTorch shifts by the bit width or more give 0 (or -1 for negative >>)
            bits = a.dtype.itemsize * 8
            wide = b >= bits
            out = getattr(xp, _BITWISE[op])(a, xp.where(wide, bits - 1, b))
            if op == "left_shift":
                return xp.where(wide, 0, out).astype(a.dtype)
            return out
        return getattr(xp, _BITWISE[op])(a, b)


class BitwiseNot(Unary):
    differentiable = False
    no_lowering = "integer-only, and a fused group computes in one float dtype"

    @staticmethod
    def forward(xp, x):
        return xp.invert(x)


def _integral(op: str, *operands: Any) -> tuple:
    a, b = promote(op, *operands)
    if a.dtype.np.kind not in "biu":
        raise TypeError(f"{op}: expected integer or bool tensors, got {a.dtype.name}")
    return a, b


def _bitwise(op: str, input: Any, other: Any) -> Any:
    name = f"bitwise_{op}"
    a, b = _integral(name, input, other)
    if op.endswith("shift") and a.dtype is dtypes.bool_:
        raise TypeError(f"{name}: shifts are not defined for bool tensors")
    return apply(Bitwise, a, b, op=op)


def bitwise_and(input: Any, other: Any) -> Any:
    """Bitwise AND of integer or bool tensors."""
    return _bitwise("and", input, other)


def bitwise_or(input: Any, other: Any) -> Any:
    """Bitwise OR of integer or bool tensors."""
    return _bitwise("or", input, other)


def bitwise_xor(input: Any, other: Any) -> Any:
    """Bitwise XOR of integer or bool tensors."""
    return _bitwise("xor", input, other)


def bitwise_left_shift(input: Any, other: Any) -> Any:
    """input << other for integer tensors."""
    return _bitwise("left_shift", input, other)


def bitwise_right_shift(input: Any, other: Any) -> Any:
    """input >> other (arithmetic, sign-filling) for integer tensors."""
    return _bitwise("right_shift", input, other)


def bitwise_not(input: Any) -> Any:
    """Bitwise NOT (logical not for bool)."""
    if not isinstance(input, core._Tensor) or input.dtype.np.kind not in "biu":
        raise TypeError("bitwise_not: expected an integer or bool tensor")
    return apply(BitwiseNot, input)


# -- filling and copying by index or mask -----------------------------------------------------
def _row_index(op: str, x: Any, dim: int, index: Any) -> tuple[int, Any]:
    """(dim, index) checked as PyTorch does: an int64 index of at most one dimension."""
    _check_index_tensor(op, index)
    if index.dtype is not dtypes.int64:
        raise IndexError(f"{op}(): Expected dtype int64 for index, got {index.dtype.name}")
    if index.ndim > 1:
        raise RuntimeError(f"{op}: index has to be a vector or a scalar, got shape {index.shape}")
    return normalize_dim(dim, x.ndim, op), index.reshape(-1)


def _out_of_bounds(op: str, index: Any, d: int, n: int, low: int) -> None:
    bad = index._data[(index._data < low) | (index._data >= n)]
    if bad.size:
        raise IndexError(
            f"{op}: index {int(bad[0])} is out of bounds for dimension {d} with size {n}"
        )


def index_fill(input: Any, dim: int, index: Any, value: Any) -> Any:
    """``input`` with ``value`` in the entries ``index`` of dimension ``dim`` (negative indices
    count from the end); a mask along ``dim``, so ``value`` gets each entry's gradient once."""
    from ember.creation import arange

    d, index = _row_index("index_fill", input, dim, index)
    n = input.shape[d]
    _out_of_bounds("index_fill", index, d, n, -n)
    hits = (index.reshape(-1, 1) % n == arange(n, device=input.device)).any(0)
    mask = hits.reshape((n,) + (1,) * (input.ndim - d - 1))
    return masked_fill(input, mask, value)


@autocast_op
def index_copy(input: Any, dim: int, index: Any, source: Any) -> Any:
    """``input`` with the entries ``index`` of dimension ``dim`` replaced by ``source``."""
    d, index = _row_index("index_copy", input, dim, index)
    n = input.shape[d]
    expected = tuple(input.shape[:d]) + (index.shape[0],) + tuple(input.shape[d + 1 :])
    if tuple(source.shape) != expected:
        raise IndexError(
            f"index_copy: source shape {tuple(source.shape)} vs expected {expected} "
            f"(input {tuple(input.shape)} with dimension {d} of size len(index))"
        )
    if source.dtype is not input.dtype:
        raise RuntimeError(
            f"index_copy: input and source must have the same dtype, got {input.dtype.name} "
            f"and {source.dtype.name}"
        )
    _out_of_bounds("index_copy", index, d, n, 0)
    return index_put(input, (slice(None),) * d + (index,), source)


def masked_scatter(input: Any, mask: Any, source: Any) -> Any:
    """``input`` with the elements of ``source``, in order, where the bool ``mask`` is True.

    Each True picks the source element at its running count, so the result is a gather and a
    select with the shapes known up front (no data-dependent sizes)."""
    if not isinstance(mask, core._Tensor) or mask.dtype is not dtypes.bool_:
        got = mask.dtype.name if isinstance(mask, core._Tensor) else type(mask).__name__
        raise TypeError(f"masked_scatter: only supports boolean masks, got {got}")
    if source.dtype is not input.dtype:
        raise RuntimeError(
            f"masked_scatter: input and source must have the same dtype, got "
            f"{input.dtype.name} and {source.dtype.name}"
        )
    shape = core.broadcast_shapes("masked_scatter", tuple(input.shape), tuple(mask.shape))
    mask = mask.expand(*shape)
    count = int(mask._data.sum())
    if count > source.numel():
        raise RuntimeError(
            f"masked_scatter: the mask has {count} True elements but source only "
            f"{source.numel()} elements"
        )
    if count == 0:
        return input.expand(*shape).clone()
    position = (mask.reshape(-1).to(dtypes.int64).cumsum(0) - 1).clamp(min=0)
    return where(mask, source.reshape(-1)[position].reshape(shape), input)


# -- searching sorted sequences -------------------------------------------------------------
def _sorted_by(op: str, boundaries: Any, sorter: Any) -> Any:
    """``boundaries`` reordered by ``sorter`` along the last dimension."""
    if not isinstance(sorter, core._Tensor) or sorter.dtype is not dtypes.int64:
        got = sorter.dtype.name if isinstance(sorter, core._Tensor) else type(sorter).__name__
        raise RuntimeError(f"{op}: sorter must be a tensor of long dtype but got {got}")
    if sorter.shape != boundaries.shape:
        raise RuntimeError(
            f"{op}: boundary and sorter must have the same size, but got boundary tensor "
            f"{list(boundaries.shape)} and sorter tensor {list(sorter.shape)}"
        )
    n = boundaries.shape[-1]
    if sorter.numel() and (int(sorter._data.min()) < 0 or int(sorter._data.max()) >= n):
        raise RuntimeError(f"{op}: sorter index out of range")
    return boundaries.gather(-1, sorter)


def searchsorted(
    sorted_sequence: Any,
    input: Any,
    *,
    out_int32: bool = False,
    right: bool = False,
    side: str | None = None,
    sorter: Any = None,
) -> Any:
    """Where each value of ``input`` would be inserted in the last dimension of
    ``sorted_sequence`` to keep it sorted: the first such place, or the last with ``right``.

    The index is the count of boundaries below the value (at or below it with ``right``),
    counted as "not >=" so that a NaN value lands after every boundary, as in PyTorch.
    Not differentiable; int64, or int32 with ``out_int32``."""
    op = "searchsorted"
    if side not in (None, "left", "right"):
        raise RuntimeError(f"{op}: side can only be 'left' or 'right' but got {side!r}")
    if side == "left" and right:
        raise RuntimeError(
            f"{op}: side and right can't be set to opposites, got side of left while right was True"
        )
    right = right or side == "right"
    seq = sorted_sequence
    if seq.ndim == 0:
        raise RuntimeError(f"{op}: boundaries tensor should have positive dimension, got 0")
    if sorter is not None:
        seq = _sorted_by(op, seq, sorter)
    if not isinstance(input, core._Tensor):
        if seq.ndim != 1:
            raise RuntimeError(
                f"{op}: a scalar value needs a 1-D boundaries tensor, got {seq.ndim} dimensions"
            )
        values = input
    elif seq.ndim == 1:
        values = input.unsqueeze(-1)
    elif seq.shape[:-1] == input.shape[:-1]:
        seq, values = seq.unsqueeze(-2), input.unsqueeze(-1)
    else:
        raise RuntimeError(
            f"{op}: boundaries tensor should be 1 dimension or the first N-1 dimensions of "
            f"boundaries tensor and input value tensor must match, but we got boundaries tensor "
            f"{list(sorted_sequence.shape)} and input value tensor {list(input.shape)}"
        )
    below = ~(seq > values) if right else ~(seq >= values)
    return below.sum(-1).to(dtypes.int32 if out_int32 else dtypes.int64)


def bucketize(input: Any, boundaries: Any, *, out_int32: bool = False, right: bool = False) -> Any:
    """The bucket of each value of ``input`` among the 1-D sorted ``boundaries``: ``i`` with
    boundaries[i-1] < x <= boundaries[i] (boundaries[i-1] <= x < boundaries[i] with ``right``)."""
    if boundaries.ndim != 1:
        raise RuntimeError(
            f"bucketize: boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})"
        )
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


# -- building matrices and products of vectors -------------------------------------------------
def diag_embed(input: Any, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Any:
    """Each last-dimension vector of ``input`` on the diagonal ``offset`` of a zero matrix
    spanning dimensions ``dim1`` and ``dim2`` of the result (one dimension more than
    ``input``); an ``index_put``, so the gradient is the diagonal of the incoming one."""
    from ember.creation import arange

    d1 = normalize_dim(dim1, input.ndim + 1, "diag_embed")
    d2 = normalize_dim(dim2, input.ndim + 1, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    m = input.shape[-1]
    n = m + max(offset, -offset)  # abs is ember.abs here
    steps = arange(m, device=input.device)
    rows, cols = steps + max(-offset, 0), steps + max(offset, 0)
    out = index_put(input.new_zeros(*input.shape[:-1], n, n), (Ellipsis, rows, cols), input)
    return out.movedim((-2, -1), (d1, d2))


def cartesian_prod(*tensors: Any) -> Any:
    """Every combination of one element from each 1-D tensor, one per row (the rows in
    lexicographic order); a single tensor is returned as it is."""
    from ember.creation import meshgrid
    from ember.ops.movement import stack

    if not tensors:
        raise RuntimeError("cartesian_prod: expected at least one tensor")
    for t in tensors:
        if t.ndim != 1:
            raise RuntimeError(f"cartesian_prod: expected 1-D tensors, got shape {list(t.shape)}")
    if len({t.dtype for t in tensors}) > 1:
        raise RuntimeError("cartesian_prod: expected all tensors to have the same dtype")
    if len(tensors) == 1:
        return tensors[0]
    return stack([g.reshape(-1) for g in meshgrid(*tensors, indexing="ij")], 1)


@autocast_op
def cross(input: Any, other: Any, dim: int | None = None) -> Any:
    """Cross product of the 3-vectors along ``dim`` of ``input`` and ``other`` (broadcast).

    ``dim=None`` takes the first dimension of size 3, with PyTorch's deprecation warning.
    Component i is a[i+1] b[i+2] - a[i+2] b[i+1] (indices mod 3), i.e. products of rolls."""
    _tensors("cross", input, other)
    if input.dtype is not other.dtype:
        raise RuntimeError(
            f"cross: expected both inputs to have the same dtype, got {input.dtype.name} "
            f"and {other.dtype.name}"
        )
    ndim = max(input.ndim, other.ndim)
    aligned = [(1,) * (ndim - t.ndim) + tuple(t.shape) for t in (input, other)]
    if dim is None:
        if 3 not in aligned[0]:
            raise RuntimeError(f"cross: no dimension of size 3 in input of shape {aligned[0]}")
        warnings.warn(
            "Using torch.cross without specifying the dim arg is deprecated; pass dim "
            "explicitly or use linalg.cross",
            UserWarning,
            stacklevel=2,
        )
        dim = aligned[0].index(3)
    d = normalize_dim(dim, ndim, "cross")
    if aligned[0][d] != 3 or aligned[1][d] != 3:
        raise RuntimeError(
            f"cross: inputs dimension {d} must have length 3. Got {aligned[0][d]} and "
            f"{aligned[1][d]}"
        )
    shape = core.broadcast_shapes("cross", aligned[0], aligned[1])
    a, b = input.expand(*shape), other.expand(*shape)
    return a.roll(-1, d) * b.roll(-2, d) - a.roll(-2, d) * b.roll(-1, d)


def _rev(fn: Any) -> Any:
    return lambda self, other: fn(other, self)


class ExtraMethods:
    """Tensor methods and operators of this module."""

    __slots__ = ()
    acosh = arccosh = acosh
    asinh = arcsinh = asinh
    atanh = arctanh = atanh
    deg2rad = deg2rad
    rad2deg = rad2deg
    frac = frac
    sinc = sinc
    logaddexp = logaddexp
    logaddexp2 = logaddexp2
    hypot = hypot
    xlogy = xlogy
    heaviside = heaviside
    float_power = float_power
    fmax = fmax
    fmin = fmin
    positive = positive
    sgn = sgn
    logit = logit
    nan_to_num = nan_to_num
    isposinf = isposinf
    isneginf = isneginf
    cumprod = cumprod
    cummax = cummax
    cummin = cummin
    logcumsumexp = logcumsumexp
    bitwise_and = bitwise_and
    bitwise_or = bitwise_or
    bitwise_xor = bitwise_xor
    bitwise_not = bitwise_not
    bitwise_left_shift = bitwise_left_shift
    bitwise_right_shift = bitwise_right_shift
    __lshift__ = bitwise_left_shift
    __rshift__ = bitwise_right_shift
    __rlshift__ = _rev(bitwise_left_shift)
    __rrshift__ = _rev(bitwise_right_shift)
    index_fill = index_fill
    index_copy = index_copy
    masked_scatter = masked_scatter
    diag_embed = diag_embed
    cross = cross

    acosh_ = arccosh_ = _inplace_method(acosh, "acosh_")
    asinh_ = arcsinh_ = _inplace_method(asinh, "asinh_")
    atanh_ = arctanh_ = _inplace_method(atanh, "atanh_")
    deg2rad_ = _inplace_method(deg2rad, "deg2rad_")
    rad2deg_ = _inplace_method(rad2deg, "rad2deg_")
    frac_ = _inplace_method(frac, "frac_")
    sinc_ = _inplace_method(sinc, "sinc_")
    hypot_ = _inplace_method(hypot, "hypot_")
    xlogy_ = _inplace_method(xlogy, "xlogy_")
    heaviside_ = _inplace_method(heaviside, "heaviside_")
    sgn_ = _inplace_method(sgn, "sgn_")
    logit_ = _inplace_method(logit, "logit_")
    nan_to_num_ = _inplace_method(nan_to_num, "nan_to_num_")
    cumprod_ = _inplace_method(cumprod, "cumprod_")
    bitwise_and_ = __iand__ = _inplace_method(bitwise_and, "bitwise_and_")
    bitwise_or_ = __ior__ = _inplace_method(bitwise_or, "bitwise_or_")
    bitwise_xor_ = __ixor__ = _inplace_method(bitwise_xor, "bitwise_xor_")
    bitwise_not_ = _inplace_method(bitwise_not, "bitwise_not_")
    bitwise_left_shift_ = __ilshift__ = _inplace_method(bitwise_left_shift, "bitwise_left_shift_")
    bitwise_right_shift_ = __irshift__ = _inplace_method(
        bitwise_right_shift, "bitwise_right_shift_"
    )
    index_fill_ = _inplace_method(index_fill, "index_fill_")
    index_copy_ = _inplace_method(index_copy, "index_copy_")
    masked_scatter_ = _inplace_method(masked_scatter, "masked_scatter_")

    def float_power_(self, exponent: Any) -> Any:
        """In-place float_power: only a float64 tensor can hold the float64 result."""
        if self.dtype is not dtypes.float64:  # type: ignore[attr-defined]
            raise RuntimeError(
                "float_power_: the result is float64 and can't be written into a "
                f"{self.dtype.name} tensor"  # type: ignore[attr-defined]
            )
        return inplace(self, lambda x: float_power(x, exponent), "float_power_")
