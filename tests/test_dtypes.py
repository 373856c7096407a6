"""dtype promotion against ``torch.result_type``: tensor ⊕ tensor, 0-d tensor and Python scalar."""

from __future__ import annotations

import itertools

import pytest
import torch

import ember

NAMES = [
    "bool",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
]
SCALARS = [True, 3, 2.5]


def _pair(a: str, b: str, b_shape: tuple) -> tuple:
    e = (ember.ones(2, dtype=getattr(ember, a)), ember.ones(b_shape, dtype=getattr(ember, b)))
    t = (torch.ones(2, dtype=getattr(torch, a)), torch.ones(b_shape, dtype=getattr(torch, b)))
    return e, t


def _name(d: object) -> str:
    return str(d).replace("torch.", "").replace("ember.", "")


@pytest.mark.parametrize("a,b", list(itertools.product(NAMES, NAMES)))
@pytest.mark.parametrize("b_shape", [(2,), ()], ids=["tensor", "0d"])
def test_tensor_tensor_promotion(a: str, b: str, b_shape: tuple) -> None:
    (ea, eb), (ta, tb) = _pair(a, b, b_shape)
    expected = _name(torch.result_type(ta, tb))
    assert _name(ember.result_type(ea, eb)) == expected
    assert _name((ea * eb).dtype) == expected  # the ops use the same rule
    assert _name(ember.promote_types(ea.dtype, eb.dtype)) == _name(
        torch.promote_types(ta.dtype, tb.dtype)
    )


@pytest.mark.parametrize("a", NAMES)
@pytest.mark.parametrize("scalar", SCALARS, ids=["bool", "int", "float"])
def test_tensor_scalar_promotion(a: str, scalar: object) -> None:
    e, t = ember.ones(2, dtype=getattr(ember, a)), torch.ones(2, dtype=getattr(torch, a))
    expected = _name(torch.result_type(t, scalar))
    assert _name(ember.result_type(e, scalar)) == expected
    assert _name((e * scalar).dtype) == expected
    assert _name((scalar * e).dtype) == expected


def test_zero_dim_only_operands_promote_like_tensors() -> None:
    e = ember.result_type(
        ember.tensor(1, dtype=ember.int32), ember.tensor(1.0, dtype=ember.float64)
    )
    t = torch.result_type(
        torch.tensor(1, dtype=torch.int32), torch.tensor(1.0, dtype=torch.float64)
    )
    assert _name(e) == _name(t)


def test_default_dtype_changes_python_float_promotion() -> None:
    ember.set_default_dtype(ember.float64)
    try:
        assert (ember.ones(2, dtype=ember.int32) * 1.5).dtype is ember.float64
        assert ember.tensor([1.0]).dtype is ember.float64
    finally:
        ember.set_default_dtype(ember.float32)
    assert ember.tensor([1.0]).dtype is ember.float32


def test_set_default_dtype_rejects_integers() -> None:
    with pytest.raises(TypeError, match="set_default_dtype: expected a floating dtype"):
        ember.set_default_dtype(ember.int64)


def test_dtype_objects_print_and_compare_like_torch() -> None:
    assert repr(ember.float32) == "ember.float32"
    assert ember.float is ember.float32 and ember.double is ember.float64
    assert ember.long is ember.int64 and ember.half is ember.float16
    assert ember.float32 == "float32" and ember.float32 != ember.float64
    assert ember.float32.is_floating_point and not ember.int32.is_floating_point
    assert ember.float16.itemsize == torch.float16.itemsize


def test_as_dtype_rejects_unknown() -> None:
    with pytest.raises(TypeError, match="cannot interpret 'complex' as a dtype"):
        ember.dtypes.as_dtype("complex")


def test_unsupported_operand_type() -> None:
    with pytest.raises(TypeError, match="mul: unsupported operand types Tensor, str"):
        ember.ones(2) * "a"
