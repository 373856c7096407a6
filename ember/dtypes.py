"""dtype table and PyTorch type promotion.

ember dtypes are thin named wrappers over NumPy dtypes so that they print like
PyTorch's (``ember.float32``) and compare equal to the NumPy dtype they stand for.
``bfloat16`` is the NumPy dtype of the optional ``ml_dtypes`` package (the ``bf16`` extra),
loaded the first time a bfloat16 tensor is made, so that ``import ember`` does not need it.
See docs/dtypes.md for the promotion and low-precision accumulation rules.
"""

from __future__ import annotations

import builtins
from typing import Any

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
    "finfo",
    "is_floating",
    "LOW_PRECISION",
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


class _OptionalDtype(dtype):
    """A dtype whose NumPy dtype comes from ``ml_dtypes``, imported on first use."""

    __slots__ = ("_np",)

    def __init__(self, name: str, kind: builtins_int, itemsize: builtins_int) -> None:
        self.name, self._kind, self.itemsize, self._np = name, kind, itemsize, None
        self.is_floating_point, self.is_signed = kind == 2, True

    @property  # type: ignore[override]
    def np(self) -> np.dtype:  # noqa: F811 - replaces the base class's slot
        if self._np is None:
            try:
                import ml_dtypes
            except ImportError:
                raise ImportError(
                    f"ember.{self.name} needs the ml_dtypes package, which gives NumPy a "
                    f"{self.name} dtype: pip install 'ember[bf16]' (or pip install ml_dtypes)"
                ) from None
            self._np = np.dtype(getattr(ml_dtypes, self.name))
            _BY_NP[self._np] = self
            FLOATING.add(self._np)
            LOW_PRECISION.add(self._np)
        return self._np

    def __eq__(self, other: object) -> bool:
        try:
            return super().__eq__(other)
        except ImportError:  # ml_dtypes is missing: no NumPy dtype can be bfloat16
            return False

    def __hash__(self) -> builtins_int:
        return hash(self.name)


bfloat16 = _OptionalDtype("bfloat16", 2, 2)
half, float, double = float16, float32, float64  # noqa: A001 - PyTorch aliases
short, int, long = int16, int32, int64  # noqa: A001

ALL = (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)
_BY_NP = {d.np: d for d in ALL if d is not bfloat16}
_BY_NAME = {d.name: d for d in ALL}
# NumPy dtypes of floating tensors, and of those computed in float32 and rounded once (float16,
# bfloat16: see ``ember.ops.core.widened``); bfloat16's joins when ml_dtypes is loaded
FLOATING = {float16.np, float32.np, float64.np}
LOW_PRECISION = {float16.np}
_default_float = float32


def is_floating(np_dtype: np.dtype) -> builtins_bool:
    """Whether arrays of this NumPy dtype hold floating-point values (bfloat16 included)."""
    return np_dtype in FLOATING


def from_numpy_dtype(np_dtype: np.dtype) -> dtype:
    """The ember dtype for a NumPy dtype; a clear TypeError for unsupported ones."""
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        if getattr(np_dtype, "name", None) == bfloat16.name:  # ml_dtypes made it: load ours
            return bfloat16 if bfloat16.np == np_dtype else _unsupported(np_dtype)
        return _unsupported(np_dtype)


def _unsupported(np_dtype: object) -> dtype:
    raise TypeError(
        f"ember: unsupported array dtype {np_dtype}: expected one of "
        f"{', '.join(d.name for d in ALL)}"
    )


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


class finfo:  # noqa: N801 - PyTorch spells it lowercase
    """Machine limits of a floating dtype (``ember.finfo(ember.bfloat16).eps``), as PyTorch's."""

    __slots__ = ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype")

    def __init__(self, type: object = None) -> None:  # noqa: A002 - PyTorch's name
        d = get_default_dtype() if type is None else as_dtype(type)
        if not d.is_floating_point:
            raise TypeError(f"finfo: expected a floating dtype, got {d}; use numpy.iinfo for ints")
        if d is bfloat16:
            import ml_dtypes  # importable: bfloat16.np loaded it (or raised its clear error)

            info: Any = ml_dtypes.finfo(d.np)
        else:
            info = np.finfo(d.np)
        self.bits = d.itemsize * 8
        self.eps, self.max = builtins_float(info.eps), builtins_float(info.max)
        self.min = -self.max
        self.tiny = self.smallest_normal = builtins_float(info.smallest_normal)
        self.resolution = 10.0 ** -builtins_int(info.precision)  # decimal digits, exactly
        self.dtype = d.name

    def __repr__(self) -> str:
        return (
            f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
            f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, "
            f"dtype={self.dtype})"
        )


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
