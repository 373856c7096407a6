"""Questions about tensors: is_complex, is_floating_point, is_signed, is_nonzero,
is_same_size (Python bools), and isin (a boolean tensor)."""

from __future__ import annotations

from typing import Any

from ember import dtypes
from ember.ops import core
from ember.ops.core import OPAQUE, Aval, Primitive, apply
from ember.ops.elementwise import promote

__all__ = [
    "is_complex",
    "is_floating_point",
    "is_signed",
    "is_nonzero",
    "is_same_size",
    "isin",
    "PredicateMethods",
]


def _tensor(op: str, value: Any, name: str = "input", position: int = 1) -> Any:
    if not isinstance(value, core._Tensor):
        raise TypeError(
            f"{op}(): argument '{name}' (position {position}) must be Tensor, not "
            f"{type(value).__name__}"
        )
    return value


def is_complex(input: Any) -> bool:
    """Whether ``input`` has a complex dtype: never, as ember's dtypes are real."""
    _tensor("is_complex", input)
    return False


def is_floating_point(input: Any) -> bool:
    """Whether ``input`` has a floating-point dtype."""
    return _tensor("is_floating_point", input).dtype.is_floating_point


def is_signed(input: Any) -> bool:
    """Whether ``input``'s dtype is signed (floats and signed integers; not uint8 or bool)."""
    return _tensor("is_signed", input).dtype.is_signed and input.dtype is not dtypes.bool_


def is_nonzero(input: Any) -> bool:
    """Whether the single element of ``input`` is nonzero (NaN counts as nonzero)."""
    size = _tensor("is_nonzero", input).numel()
    if size == 0:
        raise RuntimeError("is_nonzero: Boolean value of Tensor with no values is ambiguous")
    if size > 1:
        raise RuntimeError(
            "is_nonzero: Boolean value of Tensor with more than one value is ambiguous"
        )
    return input.item() != 0


def is_same_size(input: Any, other: Any) -> bool:
    """Whether ``input`` and ``other`` have the same shape."""
    _tensor("is_same_size", input)
    _tensor("is_same_size", other, "other", 2)
    return tuple(input.shape) == tuple(other.shape)


class IsIn(Primitive):
    """Whether each element of the first operand occurs in the second."""

    kind = OPAQUE
    differentiable = False

    @staticmethod
    def infer(elements: Aval, test_elements: Aval, **params: Any) -> Aval:
        return Aval(elements.shape, dtypes.bool_)

    @staticmethod
    def forward(xp, elements, test_elements, *, assume_unique, invert):
        return xp.isin(elements, test_elements, assume_unique=assume_unique, invert=invert)


def isin(
    elements: Any, test_elements: Any, *, assume_unique: bool = False, invert: bool = False
) -> Any:
    """Whether each of ``elements`` is in ``test_elements`` (either may be a number), compared
    in their promoted dtype; ``invert`` negates; ``assume_unique`` promises that both hold
    distinct values, which lets the search skip deduplicating them."""
    if not any(isinstance(x, core._Tensor) for x in (elements, test_elements)):
        raise TypeError(
            "isin: expected elements or test_elements to be a Tensor, got "
            f"{type(elements).__name__} and {type(test_elements).__name__}"
        )
    a, b = promote("isin", elements, test_elements)
    return apply(IsIn, a, b, assume_unique=bool(assume_unique), invert=bool(invert))


class PredicateMethods:
    """Tensor methods of the predicates (``is_floating_point`` is the Tensor's own)."""

    __slots__ = ()
    is_complex = is_complex
    is_signed = is_signed
    is_nonzero = is_nonzero
    is_same_size = is_same_size
