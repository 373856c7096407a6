"""Elementwise primitives: unary math, binary arithmetic with broadcasting, comparisons, where.

Binary ops promote their operands to one dtype first (PyTorch's rules, ``dtypes.result_type``)
so that every kernel sees equal dtypes and NumPy's own promotion never leaks through.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ember import dtypes
from ember.ops import core
from ember.ops.autocast import autocast_op
from ember.ops.core import (
    ELEMENTWISE,
    Aval,
    Primitive,
    apply,
    broadcast_shapes,
    c_literal,
    inplace,
    ufunc_writer,
)
from ember.ops.eager_native import native_unary, native_where

__all__ = [
    "add",
    "sub",
    "subtract",
    "mul",
    "multiply",
    "div",
    "divide",
    "true_divide",
    "floor_divide",
    "remainder",
    "fmod",
    "pow",
    "neg",
    "negative",
    "exp",
    "exp2",
    "log",
    "log2",
    "log10",
    "log1p",
    "expm1",
    "sqrt",
    "rsqrt",
    "square",
    "sin",
    "cos",
    "tan",
    "tanh",
    "sigmoid",
    "relu",
    "erf",
    "abs",
    "absolute",
    "sign",
    "floor",
    "ceil",
    "round",
    "trunc",
    "reciprocal",
    "maximum",
    "minimum",
    "clamp",
    "clip",
    "where",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "equal",
    "logical_and",
    "logical_or",
    "logical_xor",
    "logical_not",
    "isnan",
    "isinf",
    "isfinite",
    "cast",
    "clone",
    "to_device",
    "lerp",
    "atan2",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "arcsin",
    "arccos",
    "arctan",
    "arctan2",
    "fix",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "not_equal",
    "clamp_min",
    "clamp_max",
    "isclose",
    "allclose",
    "addcmul",
    "addcdiv",
    "ElementwiseMethods",
    "as_tensor_like",
    "promote",
]


# -- operand handling -----------------------------------------------------------------------
def as_tensor_like(value: Any, dtype: dtypes.dtype, like: Any) -> Any:
    """``value`` (a number, array or tensor) as a ``dtype`` tensor on ``like``'s device."""
    T = core._Tensor
    if isinstance(value, T):
        return value if value.dtype is dtype else cast(value, dtype)
    return T._wrap(_backend_xp(like).asarray(value, dtype=dtype.np))


def _backend_xp(like: Any) -> Any:
    from ember.arrays import backend_of

    return backend_of(like._data).xp


def promote(op: str, *operands: Any, float32_scalars: bool = False) -> tuple:
    """Operands (tensors or Python numbers) as tensors of their PyTorch result dtype; with
    ``float32_scalars``, scalars beside a float16/bfloat16 result stay float32 (a mul or div:
    see ``_low_partner``)."""
    T = core._Tensor
    like = next((x for x in operands if isinstance(x, T)), None)
    if like is None:
        raise TypeError(
            f"{op}: expected at least one Tensor operand, got "
            f"{', '.join(type(x).__name__ for x in operands)}"
        )
    first = operands[0]
    if all(isinstance(x, T) and x._data.dtype == first._data.dtype for x in operands):
        return operands
    try:
        dt = dtypes.result_type(*operands)
    except TypeError:
        raise TypeError(
            f"{op}: unsupported operand types "
            f"{', '.join(type(x).__name__ for x in operands)}: expected Tensors or numbers"
        ) from None
    if float32_scalars and dt.np in dtypes.LOW_PRECISION:
        return tuple(as_tensor_like(x, _low_partner(x, dt), like) for x in operands)
    return tuple(as_tensor_like(x, dt, like) for x in operands)


def _low_partner(x: Any, low: dtypes.dtype) -> dtypes.dtype:
    """The dtype operand ``x`` of a mul or div takes beside a ``low`` precision (float16/bfloat16)
    result: a Python number or a 0-d tensor of another dtype becomes float32, as PyTorch's CPU
    mul and div read such scalars in the float32 they compute in (``core.widened``; add, sub
    and the rest round them to ``low`` first); the rest ``low``."""
    if isinstance(x, core._Tensor) and (x._data.ndim or x._data.dtype == low.np):
        return low
    return dtypes.float32


def _float_operand(op: str, x: Any) -> Any:
    """Integer/bool tensors become the default float dtype (PyTorch's int → float ops)."""
    if not isinstance(x, core._Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    if x._data.dtype not in dtypes.FLOATING:
        return cast(x, dtypes.get_default_dtype())
    return x


# -- base classes ---------------------------------------------------------------------------
def _relu_into(xp: Any, x: Any, *, out: Any) -> Any:
    return xp.maximum(x, x.dtype.type(0), out=out)


def _rsqrt_into(xp: Any, x: Any, *, out: Any) -> Any:
    xp.sqrt(x, out=out)
    return xp.reciprocal(out, out=out)


class Unary(Primitive):
    """One tensor in, same shape and dtype out."""

    abstract = True
    kind = ELEMENTWISE

    @staticmethod
    def infer(x: Aval, **params: Any) -> Aval:
        return x


class Binary(Primitive):
    """Two tensors of one dtype in, broadcast shape out."""

    abstract = True
    kind = ELEMENTWISE

    @classmethod
    def infer(cls, a: Aval, b: Aval, **params: Any) -> Aval:  # type: ignore[override]
        dtype = a.dtype
        if a.dtype is not b.dtype:
            dtype = _scalar_partner(a, b) or _scalar_partner(b, a)
            if dtype is None:
                raise TypeError(f"{cls.name}: dtypes {a.dtype.name} and {b.dtype.name} differ")
        return Aval(broadcast_shapes(cls.name.lower(), a.shape, b.shape), dtype)


def _scalar_partner(x: Aval, scalar: Aval) -> dtypes.dtype | None:
    """``x``'s dtype when ``scalar`` is the float32 0-d form of a Python number beside a
    float16/bfloat16 ``x`` in a mul or div (see ``_low_partner``), else None."""
    if scalar.shape == () and scalar.dtype is dtypes.float32 and x.dtype.itemsize == 2:
        return x.dtype if x.dtype.is_floating_point else None
    return None


class Compare(Binary):
    """Binary predicate: boolean output (0 or 1 in C, a byte each), no gradient."""

    abstract = True
    differentiable = False

    @classmethod
    def infer(cls, a: Aval, b: Aval, **params: Any) -> Aval:  # type: ignore[override]
        return Aval(Binary.infer.__func__(cls, a, b).shape, dtypes.bool_)  # type: ignore


# -- unary math -----------------------------------------------------------------------------
class Neg(Unary):
    c = "(-{0})"
    write = staticmethod(ufunc_writer("negative"))

    @staticmethod
    def forward(xp, x):
        return xp.negative(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (-g,)

    saved_inputs = staticmethod(lambda req: (False,))


class Exp(Unary):
    c = "exp({0})"
    libm = True
    write = staticmethod(ufunc_writer("exp"))

    quiet = True
    uses_out = True

    @staticmethod
    def forward(xp, x):
        return xp.exp(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g * out,)

    saved_inputs = staticmethod(lambda req: (False,))


class Exp2(Unary):
    c = "exp2({0})"
    libm = True
    write = staticmethod(ufunc_writer("exp2"))

    quiet = True
    uses_out = True

    @staticmethod
    def forward(xp, x):
        return xp.exp2(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g * out * math.log(2.0),)

    saved_inputs = staticmethod(lambda req: (False,))


class Log(Unary):
    c = "log({0})"
    libm = True
    write = staticmethod(ufunc_writer("log"))

    quiet = True

    @staticmethod
    def forward(xp, x):
        return xp.log(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g / x,)


class Log2(Unary):
    c = "log2({0})"
    libm = True
    write = staticmethod(ufunc_writer("log2"))

    quiet = True

    @staticmethod
    def forward(xp, x):
        return xp.log2(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g / (x * math.log(2.0)),)


class Log10(Unary):
    c = "log10({0})"
    libm = True
    write = staticmethod(ufunc_writer("log10"))

    quiet = True

    @staticmethod
    def forward(xp, x):
        return xp.log10(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g / (x * math.log(10.0)),)


class Log1p(Unary):
    c = "log1p({0})"
    libm = True
    write = staticmethod(ufunc_writer("log1p"))

    quiet = True

    @staticmethod
    def forward(xp, x):
        return xp.log1p(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g / (x + 1),)


class Expm1(Unary):
    c = "expm1({0})"
    libm = True
    write = staticmethod(ufunc_writer("expm1"))

    quiet = True
    uses_out = True

    @staticmethod
    def forward(xp, x):
        return xp.expm1(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g * (out + 1),)

    saved_inputs = staticmethod(lambda req: (False,))


class Sqrt(Unary):
    c = "sqrt({0})"
    write = staticmethod(ufunc_writer("sqrt"))

    quiet = True
    uses_out = True

    @staticmethod
    def forward(xp, x):
        return xp.sqrt(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g / (out * 2),)

    saved_inputs = staticmethod(lambda req: (False,))


class Rsqrt(Unary):
    c = "(1 / sqrt({0}))"
    write = staticmethod(_rsqrt_into)

    quiet = True
    uses_out = True

    @staticmethod
    def forward(xp, x):
        return xp.reciprocal(xp.sqrt(x))

    @staticmethod
    def vjp(g, x, *, out):
        return (g * out * out * out * -0.5,)

    saved_inputs = staticmethod(lambda req: (False,))


class Sin(Unary):
    c = "sin({0})"
    libm = True
    write = staticmethod(ufunc_writer("sin"))

    @staticmethod
    def forward(xp, x):
        return xp.sin(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g * cos(x),)


class Cos(Unary):
    c = "cos({0})"
    libm = True
    write = staticmethod(ufunc_writer("cos"))

    @staticmethod
    def forward(xp, x):
        return xp.cos(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (-g * sin(x),)


class Tan(Unary):
    c = "tan({0})"
    libm = True
    write = staticmethod(ufunc_writer("tan"))

    quiet = True
    uses_out = True

    @staticmethod
    def forward(xp, x):
        return xp.tan(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g * (out * out + 1),)

    saved_inputs = staticmethod(lambda req: (False,))


class Asin(Unary):
    c = "asin({0})"
    libm = True
    write = staticmethod(ufunc_writer("arcsin"))

    quiet = True

    @staticmethod
    def forward(xp, x):
        return xp.arcsin(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g * rsqrt(1 - x * x),)


class Acos(Unary):
    c = "acos({0})"
    libm = True
    write = staticmethod(ufunc_writer("arccos"))

    quiet = True

    @staticmethod
    def forward(xp, x):
        return xp.arccos(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (-g * rsqrt(1 - x * x),)


class Atan(Unary):
    c = "atan({0})"
    libm = True
    write = staticmethod(ufunc_writer("arctan"))

    @staticmethod
    def forward(xp, x):
        return xp.arctan(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g / (x * x + 1),)


class Sinh(Unary):
    c = "sinh({0})"
    libm = True
    write = staticmethod(ufunc_writer("sinh"))

    quiet = True

    @staticmethod
    def forward(xp, x):
        return xp.sinh(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g * cosh(x),)


class Cosh(Unary):
    c = "cosh({0})"
    libm = True
    write = staticmethod(ufunc_writer("cosh"))

    quiet = True

    @staticmethod
    def forward(xp, x):
        return xp.cosh(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g * sinh(x),)


class Tanh(Unary):
    c = "tanh({0})"
    libm = True
    write = staticmethod(ufunc_writer("tanh"))

    uses_out = True

    @staticmethod
    def forward(xp, x):
        return xp.tanh(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g * (1 - out * out),)

    saved_inputs = staticmethod(lambda req: (False,))


class Sigmoid(Unary):
    """1 / (1 + exp(-x)): exp(-x) may overflow to inf, giving the correct limit 0 (quiet).

    In place and branch-free: a ``where`` on the sign was ~50x slower on large arrays. float32
    host arrays take one C loop (``eager_native``), the jit's own expression for it.
    """

    c = "(1 / (1 + exp(-{0})))"
    libm = True

    uses_out = True
    quiet = True

    @staticmethod
    def forward(xp, x):
        if xp is np:  # float32: one loop over vector expf (``eager_native``)
            native = native_unary("sigmoid", x)
            if native is not None:
                return native
        e = xp.negative(x, out=xp.empty_like(x))  # an array even for 0-d input
        xp.exp(e, out=e)
        e += 1
        return xp.reciprocal(e, out=e)

    @staticmethod
    def vjp(g, x, *, out):
        return (g * out * (1 - out),)

    saved_inputs = staticmethod(lambda req: (False,))


class Relu(Unary):
    c = "(({0} > 0 || {0} != {0}) ? {0} : 0)"  # NaN passes, as in NumPy
    write = staticmethod(_relu_into)

    uses_out = True

    @staticmethod
    def forward(xp, x):
        return xp.maximum(x, x.dtype.type(0))  # a typed zero: no conversion per call

    @staticmethod
    def vjp(g, x, *, out):
        return (g * (out > 0),)

    saved_inputs = staticmethod(lambda req: (False,))


class Erf(Unary):
    c = "erf({0})"
    libm = True

    @staticmethod
    def forward(xp, x):
        return _erf(xp, x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g * exp(-(x * x)) * (2.0 / math.sqrt(math.pi)),)


def _erf(xp: Any, x: Any) -> Any:
    """erf: float32 host arrays by one C loop (``eager_native``), else ``_erf_float32``;
    otherwise the backend's special functions (SciPy/CuPy) when present, else a series."""
    from ember.arrays import backend_of

    if xp is np and x.dtype == np.float32:
        native = native_unary("erf", x)
        return _erf_float32(xp, x) if native is None else native
    special = backend_of(x).special()
    if special is None:
        return _erf_fallback(xp, x)
    return special.erf(x).astype(x.dtype, copy=False)


# erf in float32 (``_erf_float32``): for |z| < 1 the first eleven terms of erf's Maclaurin series
# (truncation below 2e-9); beyond, erf(z) = 1 - exp(-z^2) P(t) with t = 1 / (1 + z / 2) and P
# the degree-5 least-squares fit to erfc(z) exp(z^2) on [1, 4] weighted by exp(-z^2)
# (fitted in float64 for ember: error below 1e-8)
_MACLAURIN = tuple(
    2 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(11)
)
_ERFC_T = (
    0.0018391950230034035, 0.25955728560093966, 0.3972921685069236, -0.06529597675587123,
    0.6373898373764733, -0.2310422420953862,
)  # fmt: skip


def _erf_float32(xp: Any, x: Any) -> Any:
    """erf of a float32 array within 2e-7 relative error (libm's erff is within 1.2e-7), in
    about 20 vectorised passes per element: several times faster than SciPy's (which works in
    double, one element at a time), and without SciPy. GELU's exact form spends most of its
    time here.

    Each element takes one of two forms (the series below 1, the fitted tail beyond); the form
    most elements take runs on the whole array and the other only on the elements that need
    it, so that no element is computed twice. The values are the same whichever way an
    element is reached: every step is elementwise.
    """
    f32 = np.float32
    flat = x.reshape(-1)
    z = xp.minimum(xp.abs(flat), f32(4))  # erf(4) rounds to 1; exp(-z * z) stays a normal float
    inner = z < f32(1)  # NaN goes to the tail form, which keeps it
    count = int(xp.count_nonzero(inner))
    if 2 * count >= flat.size:
        out = _erf_series(xp, flat)
        rest = xp.flatnonzero(~inner)
        if rest.size:
            out[rest] = _erf_tail(xp, flat[rest], z[rest])
    else:
        out = _erf_tail(xp, flat, z)
        rest = xp.flatnonzero(inner)
        if rest.size:
            out[rest] = _erf_series(xp, flat[rest])
    return out.reshape(x.shape)


def _erf_series(xp: Any, x: Any) -> Any:
    """erf(x) by its Maclaurin series, for |x| < 1 (``_erf_float32``)."""
    f32 = np.float32
    inner = xp.clip(x, f32(-1), f32(1))  # no overflow in the elements it is not used for
    x2 = inner * inner
    near = xp.full_like(x2, _MACLAURIN[-1])
    for c in reversed(_MACLAURIN[:-1]):
        near *= x2
        near += f32(c)
    near *= inner
    return near


def _erf_tail(xp: Any, x: Any, z: Any) -> Any:
    """erf(x) as 1 - exp(-z^2) P(t) with z = min(|x|, 4), for |x| >= 1 (``_erf_float32``)."""
    f32 = np.float32
    t = 1 / (1 + f32(0.5) * z)
    far = xp.full_like(z, _ERFC_T[-1])
    for a in reversed(_ERFC_T[:-1]):
        far *= t
        far += f32(a)
    far *= xp.exp(-z * z)
    return xp.copysign(1 - far, x)


def _erf_fallback(xp: Any, x: Any) -> Any:
    """erf to ~1e-15: Maclaurin series for |x| < 2.5, Laplace's continued fraction beyond."""
    z = xp.abs(x.astype(np.float64))
    out = xp.empty_like(z)
    small = z < 2.5
    s = z[small]
    term, total, s2 = s.copy(), s.copy(), s * s
    for n in range(1, 60):
        term *= -s2 / n
        total += term / (2 * n + 1)
    out[small] = total * (2.0 / math.sqrt(math.pi))
    b = z[~small]
    frac = b.copy()
    for k in range(60, 0, -1):
        frac = b + (k / 2.0) / frac
    out[~small] = 1.0 - xp.exp(-b * b) / (frac * math.sqrt(math.pi))
    return (xp.sign(x) * out).astype(x.dtype, copy=False)


class Abs(Unary):
    c = "fabs({0})"
    write = staticmethod(ufunc_writer("abs"))

    @staticmethod
    def forward(xp, x):
        return xp.abs(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (g * sign(x),)


class _ZeroGradUnary(Unary):
    """Piecewise-constant functions: differentiable, with gradient zero (as in PyTorch)."""

    abstract = True

    @staticmethod
    def vjp(g, x, *, out, **params):
        return (g * 0,)

    saved_inputs = staticmethod(lambda req: (False,))


class Sign(_ZeroGradUnary):
    c = "(({0} != {0}) ? {0} : (({0} > 0) - ({0} < 0)))"  # NaN stays NaN; sign(-0) is +0
    write = staticmethod(ufunc_writer("sign"))

    @staticmethod
    def forward(xp, x):
        return xp.sign(x)


class Floor(_ZeroGradUnary):
    c = "floor({0})"
    write = staticmethod(ufunc_writer("floor"))

    @staticmethod
    def forward(xp, x):
        return xp.floor(x)


class Ceil(_ZeroGradUnary):
    c = "ceil({0})"
    write = staticmethod(ufunc_writer("ceil"))

    @staticmethod
    def forward(xp, x):
        return xp.ceil(x)


class Round(_ZeroGradUnary):
    c = "nearbyint({0})"  # halves to even, as NumPy (the default rounding mode)

    @classmethod
    def expression(cls, target, operands, params):
        return None if params.get("decimals", 0) else super().expression(target, operands, {})

    @staticmethod
    def forward(xp, x, decimals=0):
        return xp.round(x, decimals)


class Trunc(_ZeroGradUnary):
    c = "trunc({0})"
    write = staticmethod(ufunc_writer("trunc"))

    @staticmethod
    def forward(xp, x):
        return xp.trunc(x)


class Reciprocal(Unary):
    c = "(1 / {0})"
    write = staticmethod(ufunc_writer("reciprocal"))

    quiet = True
    uses_out = True

    @staticmethod
    def forward(xp, x):
        return xp.reciprocal(x)

    @staticmethod
    def vjp(g, x, *, out):
        return (-g * out * out,)

    saved_inputs = staticmethod(lambda req: (False,))


class Clamp(Unary):
    """Clamp to [min, max] (either may be None); gradient passes where x is inside, inclusive."""

    @classmethod
    def expression(cls, target, operands, params):
        """``x`` bounded below, then above, as ``np.clip`` (NaN passes; max wins over min)."""
        e = x = operands[0]
        if params.get("min") is not None:
            low = c_literal(params["min"])
            e = f"(({x} < {low}) ? {low} : {x})"
        if params.get("max") is not None:
            high = c_literal(params["max"])
            e = f"(({e} > {high}) ? {high} : {e})"
        return e

    @staticmethod
    def forward(xp, x, min=None, max=None):
        return xp.clip(x, min, max).astype(x.dtype, copy=False)

    @staticmethod
    def vjp(g, x, *, out, min=None, max=None):
        inside = None
        if min is not None:
            inside = x >= min
        if max is not None:
            upper = x <= max
            inside = upper if inside is None else logical_and(inside, upper)
        return (g * inside,)


class Cast(Unary):
    """Convert to another dtype; the gradient is cast back."""

    no_lowering = "changes the dtype, and a fused group computes in one dtype"
    widens = False  # the result's dtype is the ``dtype`` param, whatever the inputs

    @staticmethod
    def infer(x: Aval, *, dtype: dtypes.dtype) -> Aval:  # type: ignore[override]
        return Aval(x.shape, dtype)

    @staticmethod
    def forward(xp, x, *, dtype):
        return x.astype(dtype.np)

    @staticmethod
    def vjp(g, x, *, out, dtype):
        return (g.to(x.dtype) if x.dtype.is_floating_point else None,)

    saved_inputs = staticmethod(lambda req: (False,))


class Copy(Unary):
    """A fresh copy (``clone``); gradient passes through."""

    no_lowering = (
        "no C lowering: a copy moves memory and computes nothing; fused into a C kernel it made "
        "the compiled ResNet step 35% slower (306 against 225 ms, ember bench resnet --jit "
        "--threads 1). On CUDA it joins the group, saving a launch"
    )
    cuda = "{0}"

    @staticmethod
    def forward(xp, x):
        return x.copy()

    @staticmethod
    def vjp(g, x, *, out):
        return (g,)

    saved_inputs = staticmethod(lambda req: (False,))


class ToDevice(Unary):
    """Move to another backend's memory; gradient moves back."""

    no_lowering = "moves memory between devices: a transfer, not a kernel"
    widens = False  # a copy: no arithmetic to round

    @staticmethod
    def forward(xp, x, *, backend):
        return backend.asarray(x) if xp is np else backend.asarray(xp.asnumpy(x))

    @staticmethod
    def vjp(g, x, *, out, backend):
        return (g.to(x.device),)

    saved_inputs = staticmethod(lambda req: (False,))


class LogicalNot(Unary):
    c = "(!{0})"

    differentiable = False

    @staticmethod
    def infer(x: Aval) -> Aval:  # type: ignore[override]
        return Aval(x.shape, dtypes.bool_)

    @staticmethod
    def forward(xp, x):
        return xp.logical_not(x)


class IsNan(LogicalNot):
    c = "(isnan({0}) != 0)"

    @staticmethod
    def forward(xp, x):
        return xp.isnan(x)


class IsInf(LogicalNot):
    c = "(isinf({0}) != 0)"

    @staticmethod
    def forward(xp, x):
        return xp.isinf(x)


class IsFinite(LogicalNot):
    c = "(isfinite({0}) != 0)"

    @staticmethod
    def forward(xp, x):
        return xp.isfinite(x)


# -- binary arithmetic ----------------------------------------------------------------------
class Add(Binary):
    c = "({0} + {1})"
    write = staticmethod(ufunc_writer("add"))

    @staticmethod
    def forward(xp, a, b):
        return xp.add(a, b)

    @staticmethod
    def vjp(g, a, b, *, out):
        return (g, g)

    saved_inputs = staticmethod(lambda req: (False, False))


class Sub(Binary):
    c = "({0} - {1})"
    write = staticmethod(ufunc_writer("subtract"))

    @staticmethod
    def forward(xp, a, b):
        return xp.subtract(a, b)

    @staticmethod
    def vjp(g, a, b, *, out):
        return (g, lambda: -g)

    saved_inputs = staticmethod(lambda req: (False, False))


class Mul(Binary):
    c = "({0} * {1})"
    write = staticmethod(ufunc_writer("multiply"))

    @staticmethod
    def forward(xp, a, b):
        return xp.multiply(a, b)

    @staticmethod
    def vjp(g, a, b, *, out):
        return (lambda: g * b, lambda: g * a)

    saved_inputs = staticmethod(lambda req: (req[1], req[0]))


class Div(Binary):
    c = "({0} / {1})"
    write = staticmethod(ufunc_writer("true_divide"))

    quiet = True

    @staticmethod
    def forward(xp, a, b):
        return xp.true_divide(a, b)

    @staticmethod
    def vjp(g, a, b, *, out):
        return (lambda: g / b, lambda: -g * a / (b * b))

    saved_inputs = staticmethod(lambda req: (req[1], True))


class Pow(Binary):
    c = "pow({0}, {1})"
    libm = True
    write = staticmethod(ufunc_writer("power"))

    quiet = True

    @staticmethod
    def forward(xp, a, b):
        return xp.power(a, b)

    @staticmethod
    def vjp(g, a, b, *, out):
        def grad_b() -> Any:
            # d/db a**b = a**b log a; PyTorch defines it as 0 where a == 0 and b >= 0
            return where(logical_and(a == 0, b >= 0), 0.0, g * pow(a, b) * log(a))

        return (lambda: g * b * pow(a, b - 1), grad_b)


class Maximum(Binary):
    c = "(({0} > {1} || {0} != {0}) ? {0} : {1})"  # NaN wins, as in NumPy
    write = staticmethod(ufunc_writer("maximum"))

    @staticmethod
    def forward(xp, a, b):
        return xp.maximum(a, b)

    @staticmethod
    def vjp(g, a, b, *, out):
        # ties split the gradient evenly, as PyTorch does
        wa = (a > b) + (a == b) * 0.5
        return (lambda: g * wa.to(g.dtype), lambda: g * (1 - wa.to(g.dtype)))


class Minimum(Binary):
    c = "(({0} < {1} || {0} != {0}) ? {0} : {1})"
    write = staticmethod(ufunc_writer("minimum"))

    @staticmethod
    def forward(xp, a, b):
        return xp.minimum(a, b)

    @staticmethod
    def vjp(g, a, b, *, out):
        wa = (a < b) + (a == b) * 0.5
        return (lambda: g * wa.to(g.dtype), lambda: g * (1 - wa.to(g.dtype)))


class Atan2(Binary):
    c = "atan2({0}, {1})"
    libm = True
    write = staticmethod(ufunc_writer("arctan2"))

    @staticmethod
    def forward(xp, a, b):
        return xp.arctan2(a, b)

    @staticmethod
    def vjp(g, a, b, *, out):
        denom = a * a + b * b
        return (lambda: g * b / denom, lambda: -g * a / denom)


class FloorDivide(Binary):
    no_lowering = "NumPy corrects floor(a / b) near integers (divmod), which one expression cannot"

    differentiable = False
    quiet = True

    @staticmethod
    def forward(xp, a, b):
        return xp.floor_divide(a, b)


class Remainder(Binary):
    """Python-style remainder (sign of the divisor), like ``torch.remainder``."""

    no_lowering = (
        "NumPy corrects fmod(a, b) by the divisor's sign and signs zero results, which one "
        "expression cannot"
    )

    quiet = True

    @staticmethod
    def forward(xp, a, b):
        return xp.remainder(a, b)

    @staticmethod
    def vjp(g, a, b, *, out):
        return (g, lambda: -g * floor_divide(a, b))


class Fmod(Binary):
    """C-style remainder (sign of the dividend), like ``torch.fmod``."""

    c = "fmod({0}, {1})"
    libm = True
    write = staticmethod(ufunc_writer("fmod"))

    quiet = True

    @staticmethod
    def forward(xp, a, b):
        return xp.fmod(a, b)

    @staticmethod
    def vjp(g, a, b, *, out):
        return (g, lambda: -g * trunc(a / b))


class Eq(Compare):
    c = "({0} == {1})"

    @staticmethod
    def forward(xp, a, b):
        return xp.equal(a, b)


class Ne(Compare):
    c = "({0} != {1})"

    @staticmethod
    def forward(xp, a, b):
        return xp.not_equal(a, b)


class Lt(Compare):
    c = "({0} < {1})"

    @staticmethod
    def forward(xp, a, b):
        return xp.less(a, b)


class Le(Compare):
    c = "({0} <= {1})"

    @staticmethod
    def forward(xp, a, b):
        return xp.less_equal(a, b)


class Gt(Compare):
    c = "({0} > {1})"

    @staticmethod
    def forward(xp, a, b):
        return xp.greater(a, b)


class Ge(Compare):
    c = "({0} >= {1})"

    @staticmethod
    def forward(xp, a, b):
        return xp.greater_equal(a, b)


class LogicalAnd(Compare):
    c = "({0} && {1})"

    @staticmethod
    def forward(xp, a, b):
        return xp.logical_and(a, b)


class LogicalOr(Compare):
    c = "({0} || {1})"

    @staticmethod
    def forward(xp, a, b):
        return xp.logical_or(a, b)


class LogicalXor(Compare):
    c = "(!{0} != !{1})"

    @staticmethod
    def forward(xp, a, b):
        return xp.logical_xor(a, b)


_SAME_SIZE_INT = {1: np.int8, 2: np.int16, 4: np.int32, 8: np.int64}
_BITWISE_WHERE_MIN = 32768  # elements; below, np.where's branches cost less than the calls
# elements; below, np.where beats the C call (measured 4.8 against 5.8 us at 4096 float32s,
# 32 against 8 us at 32768, 2.9 ms against 90 us at 802816; the bitwise form 0.44 ms)
_NATIVE_WHERE_MIN = 8192


def _bitwise_where(c: np.ndarray, a: np.ndarray, b: np.ndarray, shape: tuple) -> np.ndarray:
    """``np.where(c, a, b)`` as a bitwise blend through a mask of all-ones/all-zeros words.

    np.where branches per element, so on an unpredictable mask (ReLU-like gradients, dropout)
    it is ~7x slower than these four branch-free passes; the bits are copied, so every value
    (NaN payloads, -0.0, inf) comes through exactly.
    """
    as_int = _SAME_SIZE_INT[a.dtype.itemsize]
    keep_a = np.negative(np.broadcast_to(c, shape), dtype=as_int)  # True -> -1: every bit set
    out = np.bitwise_and(np.broadcast_to(a, shape).view(as_int), keep_a)
    np.invert(keep_a, out=keep_a)
    np.bitwise_and(np.broadcast_to(b, shape).view(as_int), keep_a, out=keep_a)
    np.bitwise_or(out, keep_a, out=out)
    return out.view(a.dtype)


class Where(Primitive):
    """``cond ? a : b`` with broadcasting; ``cond`` is boolean and gets no gradient."""

    c = "({0} ? {1} : {2})"
    kind = ELEMENTWISE

    @staticmethod
    def infer(c: Aval, a: Aval, b: Aval) -> Aval:  # type: ignore[override]
        if c.dtype is not dtypes.bool_:
            raise TypeError(f"where: expected condition to be a bool tensor, got {c.dtype.name}")
        return Aval(broadcast_shapes("where", c.shape, a.shape, b.shape), a.dtype)

    @staticmethod
    def forward(xp, c, a, b):
        if xp is np and a.dtype == b.dtype and a.dtype.itemsize in _SAME_SIZE_INT:
            shape = np.broadcast_shapes(c.shape, a.shape, b.shape)
            size = math.prod(shape)
            native = native_where(c, a, b, shape) if size >= _NATIVE_WHERE_MIN else None
            if native is not None:
                return native
            if size >= _BITWISE_WHERE_MIN:
                return _bitwise_where(c, a, b, shape)
        return xp.where(c, a, b)

    @staticmethod
    def vjp(g, c, a, b, *, out):
        zero = g.new_zeros(())
        return (None, lambda: where(c, g, zero), lambda: where(c, zero, g))

    saved_inputs = staticmethod(lambda req: (True, False, False))


# -- public functions -----------------------------------------------------------------------
def _unary(prim: type[Primitive], x: Any, op: str, floating: bool = True) -> Any:
    if floating:
        x = _float_operand(op, x)
    elif not isinstance(x, core._Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return apply(prim, x)


def neg(x: Any) -> Any:
    """-x."""
    if not isinstance(x, core._Tensor):
        raise TypeError(f"neg: expected a Tensor, got {type(x).__name__}")
    if x.dtype is dtypes.bool_:
        raise TypeError(
            "neg: negation, the `-` operator, on a bool tensor is not supported\n"
            "hint: use logical_not() or the `~` operator instead"
        )
    return apply(Neg, x)


negative = neg


@autocast_op
def exp(x: Any) -> Any:
    """e ** x, elementwise."""
    return _unary(Exp, x, "exp")


def exp2(x: Any) -> Any:
    """2 ** x, elementwise."""
    return _unary(Exp2, x, "exp2")


@autocast_op
def log(x: Any) -> Any:
    """Natural logarithm."""
    return _unary(Log, x, "log")


@autocast_op
def log2(x: Any) -> Any:
    """Base-2 logarithm."""
    return _unary(Log2, x, "log2")


@autocast_op
def log10(x: Any) -> Any:
    """Base-10 logarithm."""
    return _unary(Log10, x, "log10")


@autocast_op
def log1p(x: Any) -> Any:
    """log(1 + x), accurate for small x."""
    return _unary(Log1p, x, "log1p")


@autocast_op
def expm1(x: Any) -> Any:
    """exp(x) - 1, accurate for small x."""
    return _unary(Expm1, x, "expm1")


def sqrt(x: Any) -> Any:
    """Square root."""
    return _unary(Sqrt, x, "sqrt")


@autocast_op
def rsqrt(x: Any) -> Any:
    """1 / sqrt(x)."""
    return _unary(Rsqrt, x, "rsqrt")


def square(x: Any) -> Any:
    """x * x."""
    return mul(x, x)


def sin(x: Any) -> Any:
    """Sine."""
    return _unary(Sin, x, "sin")


def cos(x: Any) -> Any:
    """Cosine."""
    return _unary(Cos, x, "cos")


@autocast_op
def tan(x: Any) -> Any:
    """Tangent."""
    return _unary(Tan, x, "tan")


@autocast_op
def asin(x: Any) -> Any:
    """Inverse sine."""
    return _unary(Asin, x, "asin")


@autocast_op
def acos(x: Any) -> Any:
    """Inverse cosine."""
    return _unary(Acos, x, "acos")


def atan(x: Any) -> Any:
    """Inverse tangent."""
    return _unary(Atan, x, "atan")


@autocast_op
def sinh(x: Any) -> Any:
    """Hyperbolic sine."""
    return _unary(Sinh, x, "sinh")


@autocast_op
def cosh(x: Any) -> Any:
    """Hyperbolic cosine."""
    return _unary(Cosh, x, "cosh")


def tanh(x: Any) -> Any:
    """Hyperbolic tangent."""
    return _unary(Tanh, x, "tanh")


def sigmoid(x: Any) -> Any:
    """Logistic sigmoid 1 / (1 + exp(-x)), stable for large |x|."""
    return _unary(Sigmoid, x, "sigmoid")


def relu(x: Any) -> Any:
    """max(x, 0)."""
    return _unary(Relu, x, "relu", floating=False)


def erf(x: Any) -> Any:
    """The Gauss error function."""
    return _unary(Erf, x, "erf")


def abs(x: Any) -> Any:  # noqa: A001 - PyTorch name
    """|x|."""
    return _unary(Abs, x, "abs", floating=False)


absolute = abs


def sign(x: Any) -> Any:
    """-1, 0 or 1 by the sign of x."""
    return _unary(Sign, x, "sign", floating=False)


def floor(x: Any) -> Any:
    """Round down."""
    return x if x._data.dtype.kind in "iub" else _unary(Floor, x, "floor")


def ceil(x: Any) -> Any:
    """Round up."""
    return x if x._data.dtype.kind in "iub" else _unary(Ceil, x, "ceil")


def trunc(x: Any) -> Any:
    """Round towards zero."""
    return x if x._data.dtype.kind in "iub" else _unary(Trunc, x, "trunc")


def round(x: Any, decimals: int = 0) -> Any:  # noqa: A001
    """Round half to even, like ``torch.round``."""
    if x._data.dtype.kind in "iub":
        return x
    return apply(Round, _float_operand("round", x), decimals=int(decimals))


@autocast_op
def reciprocal(x: Any) -> Any:
    """1 / x."""
    return _unary(Reciprocal, x, "reciprocal")


def clamp(x: Any, min: Any = None, max: Any = None) -> Any:  # noqa: A002
    """Limit x to [min, max]; bounds may be numbers or tensors."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
    T = core._Tensor
    if isinstance(min, T) or isinstance(max, T):
        out = x
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    dt = dtypes.result_type(x, *(v for v in (min, max) if v is not None))
    x = as_tensor_like(x, dt, x)
    if not dt.is_floating_point:
        min = None if min is None else int(min)
        max = None if max is None else int(max)
    return apply(Clamp, x, min=min, max=max)


clip = clamp


def clamp_min(input: Any, min: Any) -> Any:  # noqa: A002
    """max(input, min): ``clamp`` with only a lower bound."""
    return clamp(input, min=min)


def clamp_max(input: Any, max: Any) -> Any:  # noqa: A002
    """min(input, max): ``clamp`` with only an upper bound."""
    return clamp(input, max=max)


def cast(x: Any, dtype: Any) -> Any:
    """x converted to ``dtype``."""
    dtype = dtypes.as_dtype(dtype)
    if x.dtype is dtype:
        return x
    return apply(Cast, x, dtype=dtype)


def clone(x: Any) -> Any:
    """A copy of x that owns its memory (gradient flows back to x)."""
    return apply(Copy, x)


def to_device(x: Any, backend: Any) -> Any:
    """x copied to ``backend``'s device."""
    return apply(ToDevice, x, backend=backend)


def _binary(prim: type[Primitive], a: Any, b: Any, op: str) -> Any:
    return apply(prim, *_operands(prim, a, b, op))


def _operands(prim: type[Primitive], a: Any, b: Any, op: str) -> tuple:
    """``a`` and ``b`` as ``promote`` makes them for ``prim``, with fast paths for the common
    cases (same-dtype tensors; a float tensor and a Python number), which need no promotion
    table: eager per-op overhead is benchmarked."""
    T = core._Tensor
    if isinstance(a, T):
        if isinstance(b, T):
            if a._data.dtype == b._data.dtype:
                return a, b
        elif type(b) in _NUMBERS and a._data.dtype in dtypes.FLOATING:
            return a, _scalar_like(b, a, prim)
    elif type(a) in _NUMBERS and isinstance(b, T) and b._data.dtype in dtypes.FLOATING:
        return _scalar_like(a, b, prim), b
    return promote(op, a, b, float32_scalars=prim in _FLOAT32_SCALARS)


_NUMBERS = (int, float)
_FLOAT32_SCALARS = (Mul, Div)  # see ``_low_partner``


def _scalar_like(value: int | float, like: Any, prim: Any) -> Any:
    """A Python number as a 0-d tensor of ``like``'s (floating) dtype and device; float32
    beside float16/bfloat16 for a mul or div (see ``_low_partner``)."""
    data = like._data
    xp = np if type(data) is np.ndarray else _backend_xp(like)
    low = prim in _FLOAT32_SCALARS and data.dtype in dtypes.LOW_PRECISION
    dtype = np.float32 if low else data.dtype
    return core._Tensor._wrap(xp.asarray(value, dtype=dtype))


def add(a: Any, b: Any, *, alpha: Any = 1) -> Any:
    """a + alpha * b, broadcasting."""
    return _binary(Add, a, b if alpha == 1 else mul(b, alpha), "add")


def sub(a: Any, b: Any, *, alpha: Any = 1) -> Any:
    """a - alpha * b, broadcasting."""
    if isinstance(a, core._Tensor) and a.dtype is dtypes.bool_:
        raise TypeError(
            "sub: subtraction, the `-` operator, with a bool tensor is not "
            "supported\nhint: use logical_xor() instead"
        )
    return _binary(Sub, a, b if alpha == 1 else mul(b, alpha), "sub")


subtract = sub


def mul(a: Any, b: Any) -> Any:
    """a * b, broadcasting."""
    return _binary(Mul, a, b, "mul")


multiply = mul


def div(a: Any, b: Any, *, rounding_mode: str | None = None) -> Any:
    """a / b; integer inputs give a float result unless ``rounding_mode`` is given."""
    if rounding_mode == "floor":
        return floor_divide(a, b)
    if rounding_mode == "trunc":
        q = div(a, b)
        return (
            trunc(q)
            if not isinstance(a, core._Tensor) or a.is_floating_point()
            else trunc(q).to(a.dtype)
        )
    if rounding_mode is not None:
        raise ValueError(
            f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}"
        )
    a, b = _operands(Div, a, b, "div")
    if a._data.dtype not in dtypes.FLOATING:
        a, b = _float_operand("div", a), _float_operand("div", b)
    return apply(Div, a, b)


divide = true_divide = div


def floor_divide(a: Any, b: Any) -> Any:
    """floor(a / b)."""
    a, b = promote("floor_divide", a, b)
    if a._data.dtype.kind in "iu" and bool((b._data == 0).any()):
        raise RuntimeError("floor_divide: ZeroDivisionError: integer division by zero")
    return apply(FloorDivide, a, b)


def remainder(a: Any, b: Any) -> Any:
    """a mod b with the sign of b (Python's %)."""
    return _binary(Remainder, a, b, "remainder")


def fmod(a: Any, b: Any) -> Any:
    """a mod b with the sign of a (C's fmod)."""
    return _binary(Fmod, a, b, "fmod")


@autocast_op
def pow(a: Any, b: Any) -> Any:  # noqa: A001
    """a ** b, broadcasting."""
    a, b = _operands(Pow, a, b, "pow")
    if a._data.dtype.kind in "iu" and bool((b._data < 0).any()):
        raise RuntimeError("pow: integers to negative integer powers are not allowed")
    return apply(Pow, a, b)


@autocast_op
def atan2(a: Any, b: Any) -> Any:
    """Angle of the point (b, a)."""
    a, b = promote("atan2", a, b)
    return apply(Atan2, _float_operand("atan2", a), _float_operand("atan2", b))


arcsin, arccos, arctan, arctan2, fix = asin, acos, atan, atan2, trunc


def maximum(a: Any, b: Any) -> Any:
    """Elementwise maximum (NaN propagates)."""
    return _binary(Maximum, a, b, "maximum")


def minimum(a: Any, b: Any) -> Any:
    """Elementwise minimum (NaN propagates)."""
    return _binary(Minimum, a, b, "minimum")


def lerp(start: Any, end: Any, weight: Any) -> Any:
    """start + weight * (end - start)."""
    return start + weight * (end - start)


def where(condition: Any, a: Any, b: Any) -> Any:
    """Elementwise ``a if condition else b``."""
    if not isinstance(condition, core._Tensor):
        raise TypeError(f"where: expected condition to be a Tensor, got {type(condition).__name__}")
    if condition.dtype is not dtypes.bool_:
        raise TypeError(
            f"where: expected condition to be a bool tensor, got {condition.dtype.name}"
        )
    T = core._Tensor
    if not isinstance(a, T) and not isinstance(b, T):
        dt = dtypes.result_type(a, b)
        a, b = as_tensor_like(a, dt, condition), as_tensor_like(b, dt, condition)
    else:
        a, b = promote("where", a, b)
    return apply(Where, condition, a, b)


def _compare(prim: type[Primitive], a: Any, b: Any, op: str) -> Any:
    a, b = promote(op, a, b)
    return apply(prim, a, b)


def eq(a: Any, b: Any) -> Any:
    """a == b, elementwise."""
    return _compare(Eq, a, b, "eq")


def ne(a: Any, b: Any) -> Any:
    """a != b, elementwise."""
    return _compare(Ne, a, b, "ne")


def lt(a: Any, b: Any) -> Any:
    """a < b, elementwise."""
    return _compare(Lt, a, b, "lt")


def le(a: Any, b: Any) -> Any:
    """a <= b, elementwise."""
    return _compare(Le, a, b, "le")


def gt(a: Any, b: Any) -> Any:
    """a > b, elementwise."""
    return _compare(Gt, a, b, "gt")


def ge(a: Any, b: Any) -> Any:
    """a >= b, elementwise."""
    return _compare(Ge, a, b, "ge")


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def equal(a: Any, b: Any) -> bool:
    """True when a and b have the same shape and elements."""
    return tuple(a.shape) == tuple(b.shape) and bool(eq(a, b)._data.all())


def logical_and(a: Any, b: Any) -> Any:
    """a and b, elementwise."""
    return _compare(LogicalAnd, a, b, "logical_and")


def logical_or(a: Any, b: Any) -> Any:
    """a or b, elementwise."""
    return _compare(LogicalOr, a, b, "logical_or")


def logical_xor(a: Any, b: Any) -> Any:
    """a xor b, elementwise."""
    return _compare(LogicalXor, a, b, "logical_xor")


def logical_not(x: Any) -> Any:
    """not x, elementwise."""
    return apply(LogicalNot, x)


def isnan(x: Any) -> Any:
    """True where x is NaN."""
    return apply(IsNan, x)


def isinf(x: Any) -> Any:
    """True where x is ±inf."""
    return apply(IsInf, x)


def isfinite(x: Any) -> Any:
    """True where x is neither NaN nor ±inf."""
    return apply(IsFinite, x)


def isclose(
    input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Any:
    """Where ``|input - other| <= atol + rtol * |other|`` (equal values, infinities included,
    are always close; NaNs only with ``equal_nan``). Both must be tensors of one dtype."""
    T = core._Tensor
    if not isinstance(input, T) or not isinstance(other, T):
        bad = other if isinstance(input, T) else input
        raise TypeError(f"isclose: expected Tensors, got {type(bad).__name__}")
    if input.dtype is not other.dtype:
        raise RuntimeError(
            f"isclose: expected both inputs to have the same dtype, got {input.dtype.name} "
            f"and {other.dtype.name}"
        )
    if rtol < 0 or atol < 0:
        raise ValueError(f"isclose: rtol and atol must be non-negative, got {rtol} and {atol}")
    close = eq(input, other)
    if input.dtype is dtypes.bool_:
        return close
    if input.is_floating_point():
        if equal_nan:
            close = logical_or(close, logical_and(isnan(input), isnan(other)))
        finite = logical_and(isfinite(input), isfinite(other))
        # non-finite pairs are close only when equal: keep them out of the arithmetic
        input, other = where(finite, input, 0.0), where(finite, other, 0.0)
        close = logical_or(close, logical_and(finite, _within(input, other, rtol, atol)))
        return close
    return logical_or(close, _within(input, other, rtol, atol))


def _within(input: Any, other: Any, rtol: float, atol: float) -> Any:
    return le(abs(sub(input, other)), add(mul(abs(other), rtol), atol))


def allclose(
    input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """True when every element of ``input`` is close to ``other`` (see ``isclose``)."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


@autocast_op
def addcmul(input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Any:
    """input + value * tensor1 * tensor2 (``value`` may be a 0-d tensor, as optimizers pass)."""
    return add(input, mul(mul(tensor1, tensor2), value))


@autocast_op
def addcdiv(input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Any:
    """input + value * tensor1 / tensor2 (``value`` may be a 0-d tensor)."""
    return add(input, mul(div(tensor1, tensor2), value))


def _bitwise_or_logical(op: str, a: Any, b: Any) -> Any:
    """``&``, ``|``, ``^``: logical on bool tensors, bitwise on integer ones."""
    a, b = promote(op, a, b)
    if a.dtype is not dtypes.bool_:
        from ember.ops import extra

        return getattr(extra, f"bitwise_{op}")(a, b)
    return {"and": logical_and, "or": logical_or, "xor": logical_xor}[op](a, b)


def _rev(fn: Any) -> Any:
    return lambda self, other: fn(other, self)


def _inplace_method(fn: Any, name: str) -> Any:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return inplace(self, lambda x: fn(x, *args, **kwargs), name)

    method.__name__ = name
    method.__doc__ = f"In-place {fn.__name__}."
    return method


def _direct_inplace_method(fn: Any, name: str, last: Any) -> Any:
    """``_inplace_method(fn, name)`` that writes into the tensor directly when it can.

    ``last(self, *args, **kwargs)`` gives the primitive that ``fn`` applies last, whose first
    operand is ``self`` (the only one of ``fn``'s primitives that reads it), and its other
    operands, computed as ``fn`` computes them (None when ``fn`` ends otherwise for these
    arguments); ``core.write_into`` runs it into ``self``'s memory. The general path
    (``core.inplace``: a result array, then a copy into ``self``) takes what that cannot do,
    and raises the errors.
    """
    general = _inplace_method(fn, name)

    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        if core.writable_in_place(self) and not (
            core.STATE.grad_enabled and _needs_grad(args, kwargs)
        ):
            try:
                final = last(self, *args, **kwargs)
            except TypeError:  # a bad argument: the general path raises fn's error
                return general(self, *args, **kwargs)
            if final is not None and core.write_into(self, *final):
                return self
        return general(self, *args, **kwargs)

    method.__name__, method.__doc__ = name, general.__doc__
    return method


def _needs_grad(args: tuple, kwargs: dict) -> bool:
    """Whether an argument of an in-place op is a tensor that requires grad (autograd then
    records the op: ``core.inplace``'s path)."""
    return any(getattr(x, "requires_grad", False) for x in (*args, *kwargs.values()))


def _operand(x: Any, like: Any) -> Any:
    """``x`` as ``_binary`` passes it beside the floating tensor ``like``: a Python number as a
    0-d tensor of ``like``'s dtype (``write_into`` turns the rest down)."""
    if type(x) in _NUMBERS and like._data.dtype in dtypes.FLOATING:
        return _scalar_like(x, like, None)
    return x


def _last_of_add(prim: Any) -> Any:
    """``last`` of ``add_``/``sub_``: ``prim`` on ``alpha * other`` (as ``add`` and ``sub``)."""

    def last(self: Any, other: Any, *, alpha: Any = 1) -> tuple:
        return prim, (_operand(other if alpha == 1 else mul(other, alpha), self),)

    return last


def _last_of_binary(prim: Any) -> Any:
    """``last`` of a plain binary op such as ``mul_``: ``prim`` on ``other``."""
    return lambda self, other: (prim, (_operand(other, self),))


def _last_of_div(self: Any, other: Any, *, rounding_mode: str | None = None) -> tuple | None:
    if rounding_mode is not None:  # a rounding division is more than one primitive
        return None
    return Div, (_operand(other, self),)


def _last_of_addcmul(self: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> tuple:
    return Add, (mul(mul(tensor1, tensor2), value),)


def _last_of_addcdiv(self: Any, tensor1: Any, tensor2: Any, *, value: Any = 1) -> tuple:
    return Add, (mul(div(tensor1, tensor2), value),)


def _last_of_lerp(self: Any, end: Any, weight: Any) -> tuple:
    return Add, (weight * (end - self),)


class ElementwiseMethods:
    """Tensor methods and operators of the elementwise family."""

    __slots__ = ()
    __add__ = add
    __radd__ = _rev(add)
    __sub__ = sub
    __rsub__ = _rev(sub)
    __mul__ = mul
    __rmul__ = _rev(mul)
    __truediv__ = div
    __rtruediv__ = _rev(div)
    __floordiv__ = floor_divide
    __rfloordiv__ = _rev(floor_divide)
    __mod__ = remainder
    __rmod__ = _rev(remainder)
    __pow__ = pow
    __rpow__ = _rev(pow)
    __neg__ = neg
    __abs__ = abs
    __eq__ = eq  # type: ignore[assignment]
    __ne__ = ne  # type: ignore[assignment]
    __lt__ = lt
    __le__ = le
    __gt__ = gt
    __ge__ = ge

    def __pos__(self) -> Any:
        return self

    def __invert__(self) -> Any:
        if self.dtype is not dtypes.bool_:  # type: ignore[attr-defined]
            from ember.ops.extra import bitwise_not

            return bitwise_not(self)
        return logical_not(self)

    def __and__(self, other: Any) -> Any:
        return _bitwise_or_logical("and", self, other)

    def __or__(self, other: Any) -> Any:
        return _bitwise_or_logical("or", self, other)

    def __xor__(self, other: Any) -> Any:
        return _bitwise_or_logical("xor", self, other)

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    add = add
    sub = subtract = sub
    mul = multiply = mul
    div = divide = true_divide = div
    floor_divide = floor_divide
    remainder = remainder
    fmod = fmod
    pow = pow
    neg = negative = neg
    exp = exp
    exp2 = exp2
    log = log
    log2 = log2
    log10 = log10
    log1p = log1p
    expm1 = expm1
    sqrt = sqrt
    rsqrt = rsqrt
    square = square
    sin = sin
    cos = cos
    tan = tan
    asin = arcsin = asin
    acos = arccos = acos
    atan = arctan = atan
    atan2 = arctan2 = atan2
    sinh = sinh
    cosh = cosh
    tanh = tanh
    sigmoid = sigmoid
    relu = relu
    erf = erf
    abs = absolute = abs
    sign = sign
    floor = floor
    ceil = ceil
    trunc = fix = trunc
    round = round
    reciprocal = reciprocal
    clamp = clip = clamp
    clamp_min = clamp_min
    clamp_max = clamp_max
    isclose = isclose
    allclose = allclose
    addcmul = addcmul
    addcdiv = addcdiv
    maximum = maximum
    minimum = minimum
    lerp = lerp
    eq = eq
    ne = not_equal = ne
    lt = less = lt
    le = less_equal = le
    gt = greater = gt
    ge = greater_equal = ge
    equal = equal
    logical_and = logical_and
    logical_or = logical_or
    logical_xor = logical_xor
    logical_not = logical_not
    isnan = isnan
    isinf = isinf
    isfinite = isfinite
    clone = clone

    def where(self, condition: Any, other: Any) -> Any:
        return where(condition, self, other)

    add_ = _direct_inplace_method(add, "add_", _last_of_add(Add))
    sub_ = subtract_ = _direct_inplace_method(sub, "sub_", _last_of_add(Sub))
    mul_ = multiply_ = _direct_inplace_method(mul, "mul_", _last_of_binary(Mul))
    div_ = divide_ = _direct_inplace_method(div, "div_", _last_of_div)
    pow_ = _inplace_method(pow, "pow_")
    neg_ = _inplace_method(neg, "neg_")
    exp_ = _inplace_method(exp, "exp_")
    log_ = _inplace_method(log, "log_")
    sqrt_ = _inplace_method(sqrt, "sqrt_")
    abs_ = _inplace_method(abs, "abs_")
    tanh_ = _inplace_method(tanh, "tanh_")
    sigmoid_ = _inplace_method(sigmoid, "sigmoid_")
    relu_ = _inplace_method(relu, "relu_")
    clamp_ = clip_ = _inplace_method(clamp, "clamp_")
    floor_ = _inplace_method(floor, "floor_")
    ceil_ = _inplace_method(ceil, "ceil_")
    round_ = _inplace_method(round, "round_")
    reciprocal_ = _inplace_method(reciprocal, "reciprocal_")
    maximum_ = _direct_inplace_method(maximum, "maximum_", _last_of_binary(Maximum))
    remainder_ = _inplace_method(remainder, "remainder_")
    lerp_ = _direct_inplace_method(lerp, "lerp_", _last_of_lerp)
    exp2_ = _inplace_method(exp2, "exp2_")
    expm1_ = _inplace_method(expm1, "expm1_")
    log2_ = _inplace_method(log2, "log2_")
    log10_ = _inplace_method(log10, "log10_")
    log1p_ = _inplace_method(log1p, "log1p_")
    rsqrt_ = _inplace_method(rsqrt, "rsqrt_")
    square_ = _inplace_method(square, "square_")
    sin_ = _inplace_method(sin, "sin_")
    cos_ = _inplace_method(cos, "cos_")
    tan_ = _inplace_method(tan, "tan_")
    asin_ = arcsin_ = _inplace_method(asin, "asin_")
    acos_ = arccos_ = _inplace_method(acos, "acos_")
    atan_ = arctan_ = _inplace_method(atan, "atan_")
    atan2_ = arctan2_ = _inplace_method(atan2, "atan2_")
    sinh_ = _inplace_method(sinh, "sinh_")
    cosh_ = _inplace_method(cosh, "cosh_")
    erf_ = _inplace_method(erf, "erf_")
    sign_ = _inplace_method(sign, "sign_")
    trunc_ = fix_ = _inplace_method(trunc, "trunc_")
    absolute_ = abs_
    negative_ = neg_
    true_divide_ = div_
    floor_divide_ = _inplace_method(floor_divide, "floor_divide_")
    fmod_ = _inplace_method(fmod, "fmod_")
    clamp_min_ = _inplace_method(clamp_min, "clamp_min_")
    clamp_max_ = _inplace_method(clamp_max, "clamp_max_")
    eq_ = _inplace_method(eq, "eq_")
    ne_ = not_equal_ = _inplace_method(ne, "ne_")
    lt_ = less_ = _inplace_method(lt, "lt_")
    le_ = less_equal_ = _inplace_method(le, "le_")
    gt_ = greater_ = _inplace_method(gt, "gt_")
    ge_ = greater_equal_ = _inplace_method(ge, "ge_")
    logical_and_ = _inplace_method(logical_and, "logical_and_")
    logical_or_ = _inplace_method(logical_or, "logical_or_")
    logical_xor_ = _inplace_method(logical_xor, "logical_xor_")
    logical_not_ = _inplace_method(logical_not, "logical_not_")
    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_
    __ipow__ = pow_

    addcmul_ = _direct_inplace_method(addcmul, "addcmul_", _last_of_addcmul)
    addcdiv_ = _direct_inplace_method(addcdiv, "addcdiv_", _last_of_addcdiv)

    def zero_(self) -> Any:
        """Fill with zeros."""
        return self.fill_(0)

    def fill_(self, value: Any) -> Any:
        """Fill with ``value`` (a number or a 0-d tensor)."""
        if isinstance(value, core._Tensor):
            return inplace(self, lambda x: _broadcast_to(value.to(x.dtype), x.shape), "fill_")
        return inplace(self, lambda x: _full_like(x, value), "fill_")

    def copy_(self, src: Any) -> Any:
        """Copy ``src`` (broadcast to this shape) into this tensor."""
        if not isinstance(src, core._Tensor):
            raise TypeError(f"copy_: expected a Tensor source, got {type(src).__name__}")
        return inplace(self, lambda x: _broadcast_to(src.to(x.dtype), x.shape), "copy_")


def _full_like(x: Any, value: Any) -> Any:
    return core._Tensor._wrap(_backend_xp(x).full(x.shape, value, dtype=x._data.dtype))


def _broadcast_to(src: Any, shape: tuple) -> Any:
    return src if tuple(src.shape) == tuple(shape) else src.expand(*shape)
