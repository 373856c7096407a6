"""Floating-point and integer helpers: copysign, signbit, nextafter, ldexp, frexp, gcd, lcm,
and the real-number forms of angle and isreal.

Each follows PyTorch's dtype rules: copysign and ldexp give a float for integer operands,
nextafter and frexp take floats only, gcd and lcm integers only.
"""

from __future__ import annotations

import math
from collections import namedtuple
from typing import Any

import numpy as np

from ember import dtypes
from ember.ops import core
from ember.ops.core import Aval, apply
from ember.ops.elementwise import (
    Binary,
    LogicalNot,
    Unary,
    _float_operand,
    _full_like,
    _inplace_method,
    _ZeroGradUnary,
    cast,
    exp2,
    mul,
    pow,
    promote,
    where,
)
from ember.ops.extra import _integral, _tensors
from ember.ops.special import no_derivative

__all__ = [
    "copysign",
    "signbit",
    "nextafter",
    "ldexp",
    "frexp",
    "gcd",
    "lcm",
    "angle",
    "isreal",
    "NumericMethods",
]

frexp_result = namedtuple("frexp", ["mantissa", "exponent"])  # torch.return_types.frexp


class Copysign(Binary):
    c = "copysign({0}, {1})"
    uses_out = True

    @staticmethod
    def forward(xp, a, b):
        return xp.copysign(a, b)

    @staticmethod
    def vjp(g, a, b, *, out):
        # d/da |a| sign(b) = out / a; PyTorch takes it as 0 at a = 0
        return (lambda: g * where(a == 0, 0.0, out / where(a == 0, 1.0, a)), None)

    saved_inputs = staticmethod(lambda req: (True, False))


class Nextafter(Binary):
    c = "nextafter({0}, {1})"

    @staticmethod
    def forward(xp, a, b):
        return xp.nextafter(a, b)

    @staticmethod
    def vjp(g, a, b, *, out):
        return (no_derivative("nextafter", "input"), no_derivative("nextafter", "other"))


class SignBit(LogicalNot):
    c = "(signbit({0}) != 0)"

    @staticmethod
    def forward(xp, x):
        return xp.signbit(x)


class FrexpExponent(Unary):
    """The binary exponent e of x = m 2^e with 0.5 <= |m| < 1 (0 for 0, inf and NaN)."""

    no_lowering = "gives int32, and a fused group computes in one float dtype"
    differentiable = False

    @staticmethod
    def infer(x: Aval) -> Aval:  # type: ignore[override]
        return Aval(x.shape, dtypes.int32)

    @staticmethod
    def forward(xp, x):
        return xp.frexp(x)[1].astype(np.int32)


class FrexpMantissa(Unary):
    """The mantissa m of x = m 2^e, 0.5 <= |m| < 1."""

    no_lowering = "frexp returns two values, which one C expression cannot"

    @staticmethod
    def forward(xp, x):
        return xp.frexp(x)[0]

    @staticmethod
    def vjp(g, x, *, out):
        return (g / exp2(cast(apply(FrexpExponent, x), g.dtype)),)


class GcdLcm(Binary):
    """The greatest common divisor or least common multiple of integer tensors."""

    differentiable = False
    no_lowering = "integer-only, and a fused group computes in one float dtype"

    @staticmethod
    def forward(xp, a, b, *, op):
        return getattr(xp, op)(a, b)


class Angle(_ZeroGradUnary):
    """The argument of a real number: pi for negatives, 0 otherwise, NaN for NaN."""

    c = "(isnan({0}) ? {0} : ({0} < 0 ? " + core.c_literal(math.pi) + " : 0))"

    @staticmethod
    def forward(xp, x):
        return xp.where(xp.isnan(x), x, xp.where(x < 0, x.dtype.type(math.pi), x.dtype.type(0)))


def copysign(input: Any, other: Any) -> Any:
    """|input| with the sign of ``other`` (a float result, for integer operands too)."""
    if not isinstance(input, core._Tensor):
        raise TypeError(f"copysign: argument 'input' must be a Tensor, got {type(input).__name__}")
    a, b = promote("copysign", input, other)
    if not a.dtype.is_floating_point:
        a, b = cast(a, dtypes.get_default_dtype()), cast(b, dtypes.get_default_dtype())
    return apply(Copysign, a, b)


def signbit(input: Any) -> Any:
    """Whether each element's sign bit is set (True for -0.0; False for unsigned and bool)."""
    if not isinstance(input, core._Tensor):
        raise TypeError(f"signbit: expected a Tensor, got {type(input).__name__}")
    if input.dtype is dtypes.bool_ or input._data.dtype.kind == "u":
        return _full_like(cast(input, dtypes.bool_), False)
    return apply(SignBit, input)


def nextafter(input: Any, other: Any) -> Any:
    """The next floating-point value after ``input`` towards ``other``."""
    _tensors("nextafter", input, other)
    a, b = promote("nextafter", input, other)
    if not a.dtype.is_floating_point:
        raise TypeError(f"nextafter: expected floating point tensors, got {a.dtype.name}")
    return apply(Nextafter, a, b)


def ldexp(input: Any, other: Any) -> Any:
    """input * 2 ** other (a float result, for integer operands too)."""
    _tensors("ldexp", input, other)
    return mul(input, pow(2.0, other))


def frexp(input: Any) -> Any:
    """(mantissa, exponent) with input = mantissa * 2 ** exponent and 0.5 <= |mantissa| < 1;
    the exponent is int32."""
    if not isinstance(input, core._Tensor):
        raise TypeError(f"frexp: expected a Tensor, got {type(input).__name__}")
    if not input.dtype.is_floating_point:
        raise RuntimeError(
            f"frexp: only floating-point dtypes are supported, got {input.dtype.name}"
        )
    return frexp_result(apply(FrexpMantissa, input), apply(FrexpExponent, input))


def _gcd_lcm(op: str, input: Any, other: Any) -> Any:
    _tensors(op, input, other)
    a, b = _integral(op, input, other)
    if a.dtype is dtypes.bool_:
        raise TypeError(f"{op}: expected integer tensors, got bool")
    return apply(GcdLcm, a, b, op=op)


def gcd(input: Any, other: Any) -> Any:
    """The greatest common divisor of integer tensors (non-negative; gcd(0, 0) = 0)."""
    return _gcd_lcm("gcd", input, other)


def lcm(input: Any, other: Any) -> Any:
    """The least common multiple of integer tensors (non-negative; 0 when either is 0)."""
    return _gcd_lcm("lcm", input, other)


def angle(input: Any) -> Any:
    """The argument of each (real) element: pi for negatives, 0 otherwise."""
    return apply(Angle, _float_operand("angle", input))


def isreal(input: Any) -> Any:
    """Whether each element is real: all True, as ember's tensors are real."""
    if not isinstance(input, core._Tensor):
        raise TypeError(f"isreal: expected a Tensor, got {type(input).__name__}")
    return _full_like(cast(input, dtypes.bool_), True)


class NumericMethods:
    """Tensor methods of the floating-point and integer helpers."""

    __slots__ = ()
    copysign = copysign
    signbit = signbit
    nextafter = nextafter
    ldexp = ldexp
    frexp = frexp
    gcd = gcd
    lcm = lcm
    angle = angle
    isreal = isreal

    copysign_ = _inplace_method(copysign, "copysign_")
    nextafter_ = _inplace_method(nextafter, "nextafter_")
    ldexp_ = _inplace_method(ldexp, "ldexp_")
    gcd_ = _inplace_method(gcd, "gcd_")
    lcm_ = _inplace_method(lcm, "lcm_")
