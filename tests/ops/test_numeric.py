"""Errors of the floating-point/integer helpers and predicates, named as PyTorch names them."""

from __future__ import annotations

import pytest

import ember


def test_dtype_errors_name_the_expected_dtype() -> None:
    floats, ints = ember.tensor([1.5, -2.0]), ember.tensor([3, 4])
    with pytest.raises(RuntimeError, match="frexp: only floating-point dtypes"):
        ember.frexp(ints)
    with pytest.raises(TypeError, match="gcd: expected integer or bool tensors, got float32"):
        ember.gcd(floats, floats)
    with pytest.raises(TypeError, match="lcm: expected integer tensors, got bool"):
        ember.lcm(ember.tensor([True]), ember.tensor([False]))
    with pytest.raises(TypeError, match="nextafter: expected floating point tensors, got int64"):
        ember.nextafter(ints, ints)


def test_tensor_arguments_are_required_where_torch_requires_them() -> None:
    x = ember.tensor([1.5, -2.0])
    for fn in (ember.nextafter, ember.ldexp, ember.gcd):
        with pytest.raises(TypeError, match="argument 'other' must be a Tensor, got float"):
            fn(x, 2.0)
    with pytest.raises(TypeError, match=r"argument 'other' \(position 2\) must be Tensor"):
        ember.is_same_size(x, [1, 2])
    with pytest.raises(TypeError, match=r"argument 'input' \(position 1\) must be Tensor"):
        ember.is_complex([1.0])
    with pytest.raises(TypeError, match="expected elements or test_elements to be a Tensor"):
        ember.isin(3, 4)


def test_is_nonzero_needs_exactly_one_element() -> None:
    with pytest.raises(RuntimeError, match="Tensor with no values is ambiguous"):
        ember.is_nonzero(ember.tensor([]))
    with pytest.raises(RuntimeError, match="Tensor with more than one value is ambiguous"):
        ember.is_nonzero(ember.tensor([1, 2]))


def test_nextafter_has_no_derivative_as_in_torch() -> None:
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    out = ember.nextafter(x, ember.tensor([0.0, 3.0]))
    with pytest.raises(NotImplementedError, match="derivative of nextafter"):
        out.sum().backward()
