"""dtype table and PyTorch type promotion.

ember dtypes are thin named wrappers over NumPy dtypes so that they print like
PyTorch's (``ember.float32``) and compare equal to the NumPy dtype they stand for.
"""

from __future__ import annotations

import builtins

import numpy as np

# the PyTorch aliases below shadow these names
builtins_float, builtins_int, builtins_bool = builtins.float, builtins.int, builtins.bool

__all__ = [
    "dtype",
    "float16",
    "float32",
    "float64",
    "bfloat16",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "bool_",
    "half",
    "float",
    "double",
    "short",
    "int",
    "long",
    "get_default_dtype",
    "set_default_dtype",
    "result_type",
    "as_dtype",
    "promote_types",
]


class dtype:  # noqa: N801 - PyTorch spells it lowercase
    """A tensor element type (``ember.float32`` …)."""

    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "_kind")

    def __init__(self, name: str, np_dtype: np.dtype, kind: int) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self._kind = kind  # 0 bool, 1 integer, 2 floating: the PyTorch promotion category
        self.is_floating_point = kind == 2
        self.is_signed = kind == 2 or np.issubdtype(self.np, np.signedinteger)
        self.itemsize = self.np.itemsize

    def __repr__(self) -> str:
        return f"ember.{self.name}"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, dtype):
            return self is other
        try:
            return self.np == np.dtype(other)  # type: ignore[arg-type]
        except TypeError:
            return False

    def __hash__(self) -> int:
        return hash(self.name)

    def __reduce__(self) -> str:
        return self.name


bool_ = dtype("bool", np.bool_, 0)
uint8 = dtype("uint8", np.uint8, 1)
int8 = dtype("int8", np.int8, 1)
int16 = dtype("int16", np.int16, 1)
int32 = dtype("int32", np.int32, 1)
int64 = dtype("int64", np.int64, 1)
float16 = dtype("float16", np.float16, 2)
float32 = dtype("float32", np.float32, 2)
float64 = dtype("float64", np.float64, 2)
bfloat16 = float32  # NumPy has no bfloat16; documented alias so model code still runs
half, float, double = float16, float32, float64  # noqa: A001 - PyTorch aliases
short, int, long = int16, int32, int64  # noqa: A001

ALL = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)
_BY_NP = {d.np: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}
_default_float = float32


def from_numpy_dtype(np_dtype: np.dtype) -> dtype:
    """The ember dtype for a NumPy dtype; a clear TypeError for unsupported ones."""
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        raise TypeError(
            f"ember: unsupported array dtype {np_dtype}: expected one of "
            f"{', '.join(d.name for d in ALL)}"
        ) from None


def as_dtype(d: object) -> dtype:
    """Accept an ember dtype, a NumPy dtype, a Python type or a name."""
    if isinstance(d, dtype):
        return d
    if d is builtins_float:  # Python's float is a double, as in PyTorch
        return float64
    if d is builtins_int:
        return int64
    if d is builtins_bool:
        return bool_
    if isinstance(d, str) and d in _BY_NAME:
        return _BY_NAME[d]
    try:
        return from_numpy_dtype(np.dtype(d))  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"ember: cannot interpret {d!r} as a dtype") from None


def get_default_dtype() -> dtype:
    """The floating dtype that Python floats and ``ember.tensor([1.0])`` become."""
    return _default_float


def set_default_dtype(d: dtype) -> None:
    """Set the default floating dtype (float32 or float64)."""
    global _default_float
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {d}")
    _default_float = d


def promote_types(a: dtype, b: dtype) -> dtype:
    """The smallest dtype both promote to (PyTorch's table).

    Across categories the higher one's dtype wins unchanged (int32 + float16 is float16 in
    PyTorch, float64 in NumPy); within a category NumPy's table matches PyTorch's.
    """
    if a is b:
        return a
    if a._kind != b._kind:
        return a if a._kind > b._kind else b
    return _BY_NP[np.promote_types(a.np, b.np)]


def result_type(*operands: object) -> dtype:
    """PyTorch's promotion: dimensioned tensors > 0-d tensors > Python scalars, by category.

    A lower-priority operand only matters when its category (bool < int < float) is higher
    than every higher-priority operand's; then it contributes its own dtype (0-d tensor) or
    the default dtype of its category (Python scalar).
    """
    groups: list[dtype | None] = [None, None, None]  # dim tensors, 0-d tensors, scalars
    for op in operands:
        if isinstance(op, builtins_bool):
            d, g = bool_, 2
        elif isinstance(op, builtins_int):
            d, g = int64, 2
        elif isinstance(op, builtins_float):
            d, g = _default_float, 2
        elif hasattr(op, "_data"):  # a Tensor (which sits above this module)
            d, g = from_numpy_dtype(op._data.dtype), (0 if op._data.ndim else 1)
        else:
            raise TypeError(f"ember: unsupported operand type {type(op).__name__}")
        cur = groups[g]
        groups[g] = d if cur is None else promote_types(cur, d)
    result: dtype | None = None
    for d in groups:
        if d is None:
            continue
        if result is None:
            result = d
        elif d._kind > result._kind:
            result = d
    assert result is not None
    return result
