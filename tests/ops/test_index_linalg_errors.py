"""Clear error messages for mistakes with indexing and matrix products."""

from __future__ import annotations

import numpy as np
import pytest

import ember


@pytest.fixture
def x() -> ember.Tensor:
    return ember.randn(3, 4)


def idx(*values: int) -> ember.Tensor:
    return ember.tensor(np.array(values, dtype=np.int64))


def test_float_index_tensor_is_a_type_error(x: ember.Tensor) -> None:
    with pytest.raises(TypeError, match="getitem: tensors used as indices must be long.*float32"):
        x[ember.tensor([0.0, 1.0])]
    with pytest.raises(TypeError, match="getitem: unsupported index type float"):
        x[1.5]
    with pytest.raises(TypeError, match="gather: expected index to be an int64 tensor"):
        x.gather(1, ember.zeros(3, 1))


@pytest.mark.parametrize(
    "index, dim, size, value",
    [((5,), 0, 3, 5), ((slice(None), -5), 1, 4, -5), ((-4,), 0, 3, -4)],
)
def test_out_of_range_int_names_dim_and_size(x, index, dim, size, value) -> None:
    with pytest.raises(
        IndexError, match=f"index {value} is out of bounds for dimension {dim} with size {size}"
    ):
        x[index]


def test_out_of_range_index_tensor_names_dim_and_size(x: ember.Tensor) -> None:
    with pytest.raises(IndexError, match="getitem: index 4 is out of bounds for dimension 1 "):
        x[:, idx(0, 4)]
    with pytest.raises(IndexError, match="index -4 is out of bounds for dimension 0 with size 3"):
        x[idx(-4)]
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size 3"):
        x[idx(3)] = 1.0
    with pytest.raises(IndexError, match="index 12 is out of bounds for dimension 0 with size 12"):
        ember.take(x, idx(12))


def test_too_many_indices(x: ember.Tensor) -> None:
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        x[1, 2, 3]
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        x[0, x > 0]


def test_nonpositive_step(x: ember.Tensor) -> None:
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]


def test_bool_mask_shape_mismatch(x: ember.Tensor) -> None:
    with pytest.raises(IndexError, match="boolean index did not match"):
        x[ember.tensor([True, False])]


def test_gather_errors(x: ember.Tensor) -> None:
    with pytest.raises(
        ValueError,
        match=r"gather: index tensor must have the same number of "
        r"dimensions as input tensor: index \(2,\) vs input \(3, 4\)",
    ):
        x.gather(1, idx(0, 1))
    with pytest.raises(ValueError, match="gather: size of index .* does not fit input"):
        x.gather(1, ember.zeros(4, 1, dtype=ember.int64))
    with pytest.raises(IndexError, match="gather: index 4 is out of bounds for dimension 1"):
        x.gather(1, ember.full((3, 1), 4, dtype=ember.int64))
    with pytest.raises(IndexError, match="gather: index -1 is out of bounds for dimension 1"):
        x.gather(1, ember.full((3, 1), -1, dtype=ember.int64))


def test_scatter_errors(x: ember.Tensor) -> None:
    index = ember.zeros(2, 5, dtype=ember.int64)
    with pytest.raises(ValueError, match=r"scatter: index \(2, 5\) does not fit src \(2, 4\)"):
        x.scatter(1, index, ember.ones(2, 4))
    with pytest.raises(ValueError, match="scatter_add: index .* must have the same number of"):
        x.scatter_add(1, idx(0), ember.ones(1))
    with pytest.raises(IndexError, match="index 7 is out of bounds for dimension 0 with size 3"):
        x.scatter(0, ember.full((1, 1), 7, dtype=ember.int64), 1.0)
    with pytest.raises(ValueError, match="scatter: reduce must be None or 'add'"):
        x.scatter(0, idx(0).reshape(1, 1), 1.0, reduce="max")


def test_index_select_and_index_add_errors(x: ember.Tensor) -> None:
    with pytest.raises(IndexError, match=r"index_select: index out of range .* \[0, 4\)"):
        x.index_select(1, idx(4))
    with pytest.raises(ValueError, match="index_select: index must be 0-D or 1-D"):
        x.index_select(1, idx(0, 1).reshape(1, 2))
    with pytest.raises(ValueError, match=r"index_add: source shape \(3, 2\) vs expected \(3, 1\)"):
        x.index_add(1, idx(0), ember.ones(3, 2))
    with pytest.raises(IndexError, match="index 9 is out of bounds for dimension 1 with size 4"):
        x.index_add(1, idx(9), ember.ones(3, 1))


def test_masked_fill_errors(x: ember.Tensor) -> None:
    with pytest.raises(TypeError, match="masked_fill: expected a bool mask tensor, got float32"):
        x.masked_fill(ember.zeros(3, 4), 1.0)
    with pytest.raises(ValueError, match="masked_fill: shapes .* cannot be broadcast"):
        x.masked_fill(ember.tensor([True, False]), 1.0)
    with pytest.raises(ValueError, match=r"masked_fill: mask of shape \(2, 3, 4\) must broadcast"):
        x.masked_fill(ember.ones(2, 3, 4) > 0, 1.0)
    with pytest.raises(ValueError, match="masked_fill: only supports a 0-dimensional value"):
        x.masked_fill(x > 0, ember.ones(1))


def test_matmul_shape_mismatch_names_both_shapes(x: ember.Tensor) -> None:
    with pytest.raises(ValueError, match=r"matmul: shapes \(3, 4\) and \(3, 4\) cannot be multi"):
        x @ x
    with pytest.raises(ValueError, match=r"matmul: shapes \(3,\) and \(4,\) cannot be multiplied"):
        ember.matmul(ember.ones(3), ember.ones(4))
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3, 4\) and \(3, 4, 2\) cannot be"):
        ember.matmul(ember.ones(2, 3, 4), ember.ones(3, 4, 2))


def test_matmul_of_0d_is_an_error(x: ember.Tensor) -> None:
    with pytest.raises(ValueError, match="matmul: both arguments need at least 1 dimension"):
        ember.matmul(ember.tensor(2.0), x)
    with pytest.raises(TypeError, match="matmul: expected Tensors, got Tensor and float"):
        ember.matmul(x, 2.0)


@pytest.mark.parametrize(
    "call",
    [
        lambda ns, a, b: a @ b,
        lambda ns, a, b: ns.mm(a, b),
        lambda ns, a, b: ns.bmm(a[None], b[None]),
        lambda ns, a, b: ns.matmul(a[0], b),
        lambda ns, a, b: ns.dot(a[0], b[:, 0]),
        lambda ns, a, b: ns.mv(a, b[:, 0]),
        lambda ns, a, b: ns.nn.functional.linear(a, b.t()),
        lambda ns, a, b: ns.einsum("ij,jk->ik", a, b),
    ],
    ids=["matmul", "mm", "bmm", "matmul_1d", "dot", "mv", "linear", "einsum"],
)
def test_matrix_products_refuse_mixed_dtypes_like_torch(call) -> None:
    """torch raises for float32 @ float64 (no silent promotion to a float64 product)."""
    torch = pytest.importorskip("torch")
    a, b = np.ones((2, 3), np.float32), np.ones((3, 4))
    with pytest.raises(RuntimeError, match="dtype|scalar type"):
        call(torch, torch.tensor(a), torch.tensor(b))
    with pytest.raises(TypeError, match="expected all operands to have the same dtype"):
        call(ember, ember.tensor(a), ember.tensor(b))
    assert (ember.tensor(a) * ember.tensor(b[:2, :3])).dtype is ember.float64  # still promotes


def test_product_helpers_check_ranks(x: ember.Tensor) -> None:
    with pytest.raises(ValueError, match=r"bmm: expected 3-D tensors, got shapes \(3, 4\)"):
        ember.bmm(x, x)
    with pytest.raises(ValueError, match="bmm: batch sizes differ: 2 vs 3"):
        ember.bmm(ember.ones(2, 3, 4), ember.ones(3, 4, 2))
    with pytest.raises(ValueError, match="mm: expected 2-D tensors"):
        ember.mm(ember.ones(3), x)
    with pytest.raises(ValueError, match="mv: expected a 2-D and a 1-D tensor"):
        ember.mv(x, x)
    with pytest.raises(ValueError, match="dot: expected 1-D tensors"):
        ember.dot(x, x)
    with pytest.raises(ValueError, match="outer: expected 1-D tensors"):
        ember.outer(x, x)


def test_topk_k_out_of_range(x: ember.Tensor) -> None:
    with pytest.raises(
        ValueError, match=r"topk: k \(5\) is out of range for dimension 1 of size 4"
    ):
        x.topk(5)
    with pytest.raises(ValueError, match=r"topk: k \(-1\) is out of range"):
        x.topk(-1, dim=0)


@pytest.mark.parametrize(
    "equation, shapes, message",
    [
        ("ij,jk->ik", [(3, 4), (3, 4)], "subscript 'j' has size 3 in one operand and 4 in another"),
        ("ijk->i", [(3, 4)], r"operand subscripts 'ijk' do not match shape \(3, 4\)"),
        ("ij,jk->ik", [(3, 4)], "equation 'ij,jk->ik' names 2 operands, got 1"),
        ("ij->ik", [(3, 4)], "output subscripts 'ik' must be distinct letters that appear"),
        ("ij->jj", [(3, 4)], "output subscripts 'jj' must be distinct"),
        ("i1->i", [(3, 4)], r"subscripts must be letters, got \['1'\]"),
    ],
)
def test_einsum_errors(equation, shapes, message) -> None:
    with pytest.raises(ValueError, match=f"einsum: {message}"):
        ember.einsum(equation, *[ember.ones(*s) for s in shapes])


def test_bounds_hold_when_a_spec_meets_another_shape() -> None:
    """Index specs' layouts are cached per number of dimensions: the same index on a smaller
    tensor, or one with fewer dimensions, is still checked against that tensor's shape."""
    table = ember.randn(65, 8)
    token = idx(64).reshape(1, 1)
    assert table[token].shape == (1, 1, 8)
    assert np.array_equal(table[idx(-65).reshape(1, 1)].numpy(), table.numpy()[[[0]]])
    with pytest.raises(IndexError, match="index 64 is out of bounds for dimension 0 with size 8"):
        table[:8][token]
    with pytest.raises(IndexError, match="index -66 is out of bounds for dimension 0 with size"):
        table[idx(-66).reshape(1, 1)]
    assert ember.randn(2, 3, 4)[1, 2, 3].shape == ()
    with pytest.raises(IndexError, match="too many indices for tensor of dimension 2"):
        table[1, 2, 3]
