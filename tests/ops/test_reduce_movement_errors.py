"""Error messages of the reduction and movement families: type, and what the message names."""

from __future__ import annotations

import re

import pytest
import torch

import ember


@pytest.fixture
def x() -> ember.Tensor:
    return ember.randn(2, 3)


@pytest.mark.parametrize(
    "call,op,dim,lo,hi",
    [
        (lambda x: x.sum(2), "sum", 2, -2, 1),
        (lambda x: x.mean(-3), "mean", -3, -2, 1),
        (lambda x: x.amax((0, 5)), "amax", 5, -2, 1),
        (lambda x: x.max(4), "max", 4, -2, 1),
        (lambda x: x.argmax(3), "argmax", 3, -2, 1),
        (lambda x: x.prod(2), "prod", 2, -2, 1),
        (lambda x: x.cumsum(-3), "cumsum", -3, -2, 1),
        (lambda x: x.var(2), "var", 2, -2, 1),
        (lambda x: x.logsumexp(2), "logsumexp", 2, -2, 1),
        (lambda x: x.norm(dim=7), "norm", 7, -2, 1),
        (lambda x: x.unsqueeze(4), "unsqueeze", 4, -3, 2),
        (lambda x: x.squeeze(3), "squeeze", 3, -2, 1),
        (lambda x: x.transpose(0, 2), "transpose", 2, -2, 1),
        (lambda x: x.movedim(0, 5), "movedim", 5, -2, 1),
        (lambda x: x.flip(-3), "flip", -3, -2, 1),
        (lambda x: x.roll(1, 2), "roll", 2, -2, 1),
        (lambda x: x.split(1, 2), "split", 2, -2, 1),
        (lambda x: ember.cat([x, x], dim=2), "cat", 2, -2, 1),
        (lambda x: ember.stack([x, x], dim=3), "stack", 3, -3, 2),
        (lambda x: ember.tensor(1.0).sum(1), "sum", 1, -1, 0),
    ],
)
def test_dim_out_of_range_names_dim_and_range(call, op, dim, lo, hi, x) -> None:
    expected = f"{op}: dimension out of range: {dim} vs expected to be in range of [{lo}, {hi}]"
    with pytest.raises(IndexError, match=re.escape(expected)):
        call(x)


def test_repeated_dims(x) -> None:
    with pytest.raises(ValueError, match=r"sum: dim \(0, -2\) appears multiple times"):
        x.sum((0, -2))
    with pytest.raises(ValueError, match=r"flip: dim \(1, -1\) appears multiple times"):
        x.flip((1, -1))
    with pytest.raises(ValueError, match=r"permute: repeated dim in \[0, 0\]"):
        x.permute(0, -2)
    with pytest.raises(ValueError, match=r"movedim: repeated dim in destination \[0, 0\]"):
        x.movedim((0, 1), (0, 0))


def test_reshape_incompatible_size(x) -> None:
    with pytest.raises(
        ValueError, match=r"reshape: shape '\[4, 2\]' is invalid for input of size 6"
    ):
        x.reshape(4, 2)
    with pytest.raises(ValueError, match=r"shape '\[-1, 4\]' is invalid for input of size 6"):
        x.view(-1, 4)
    with pytest.raises(ValueError, match=r"only one dimension can be inferred \(-1\)"):
        x.reshape(-1, -1)
    with pytest.raises(ValueError, match=r"unflatten: provided sizes \[2, 2\] don't multiply"):
        x.unflatten(1, (2, 2))
    with pytest.raises(ValueError, match="flatten: start_dim 1 cannot come after end_dim 0"):
        x.flatten(1, 0)


def test_expand_incompatible_size(x) -> None:
    with pytest.raises(
        ValueError,
        match=r"expand: the expanded size of the tensor \(4\) must match the existing size "
        r"\(2\) at non-singleton dimension 0: target sizes \[4, 3\], tensor shape \[2, 3\]",
    ):
        x.expand(4, 3)
    with pytest.raises(ValueError, match=r"number of sizes provided \(1\) must be greater"):
        x.expand(3)
    with pytest.raises(ValueError, match="-1 is not allowed in a leading, non-existing dim"):
        x.expand(-1, 2, 3)
    with pytest.raises(ValueError, match=r"expand: the expanded size of the tensor \(3\)"):
        ember.broadcast_to(x, (3, 3))


def test_cat_errors(x) -> None:
    with pytest.raises(
        ValueError,
        match=r"cat: sizes of tensors must match except in dimension 0: tensor 0 has shape "
        r"\(2, 3\) but tensor 1 has shape \(2, 4\)",
    ):
        ember.cat([x, ember.randn(2, 4)])
    with pytest.raises(ValueError, match="cat: tensors must have the same number of dimensions"):
        ember.cat([x, ember.randn(3)])
    with pytest.raises(ValueError, match="cat: expected a non-empty list of Tensors"):
        ember.cat([])
    with pytest.raises(ValueError, match="cat: zero-dimensional tensor cannot be concatenated"):
        ember.cat([ember.tensor(1.0), ember.tensor(2.0)])
    with pytest.raises(TypeError, match=r"cat: expected a sequence of Tensors, got \['Tensor', 'l"):
        ember.cat([x, [1.0, 2.0]])


def test_stack_errors(x) -> None:
    with pytest.raises(
        ValueError,
        match=r"stack: expects each tensor to be equal size, but got \[2, 3\] at entry 0 and "
        r"\[3, 2\] at entry 1",
    ):
        ember.stack([x, ember.randn(3, 2)])
    with pytest.raises(ValueError, match="stack: expected a non-empty list of Tensors"):
        ember.stack([])


def test_split_errors(x) -> None:
    with pytest.raises(
        ValueError, match=r"split: split sizes \[1, 1\] sum to 2, expected the size of dim 1, 3"
    ):
        x.split([1, 1], 1)
    with pytest.raises(ValueError, match="split: split_size must be positive, got 0"):
        x.split(0, 1)
    with pytest.raises(ValueError, match="chunk: chunks must be positive, got 0"):
        x.chunk(0)
    with pytest.raises(
        ValueError, match=r"narrow: start \(2\) \+ length \(2\) exceeds dimension size \(3\)"
    ):
        x.narrow(1, 2, 2)


def test_permute_wrong_number_of_dims(x) -> None:
    with pytest.raises(
        ValueError,
        match=r"permute: number of dims don't match: got 1 dims \[0\] for a tensor of shape "
        r"\(2, 3\)",
    ):
        x.permute(0)
    with pytest.raises(ValueError, match=r"movedim: .* must have the same number of dims: 2 vs 1"):
        x.movedim((0, 1), 0)
    with pytest.raises(ValueError, match=r"roll: shifts \(1, 2\) and dims \(0,\) must have"):
        x.roll((1, 2), 0)
    with pytest.raises(ValueError, match=r"repeat: number of repeat dims \(1\) can not be smaller"):
        x.repeat(2)


def test_pad_errors(x) -> None:
    with pytest.raises(
        ValueError,
        match=r"pad: padding \(3, 0\) should be less than the input size 3 in dim 2 for "
        "reflect mode",
    ):
        ember.pad(x.unsqueeze(0), (3, 0), mode="reflect")
    with pytest.raises(ValueError, match=r"pad: padding length must be even .* got 1"):
        ember.pad(x, (1,))
    with pytest.raises(ValueError, match=r"at most 2 \* ndim \(4\), got 6"):
        ember.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match="pad: unknown mode 'wrap'"):
        ember.pad(x, (1, 1), mode="wrap")


@pytest.mark.parametrize(
    "call,op,dim",
    [
        (lambda e: e.amax(1), "amax", 1),
        (lambda e: e.amin(), "amin", 1),
        (lambda e: e.max(1), "max", 1),
        (lambda e: e.min(-1), "min", 1),
        (lambda e: e.argmax(1), "argmax", 1),
        (lambda e: e.argmin(), "argmin", 1),
    ],
)
def test_extremum_of_an_empty_dim(call, op, dim) -> None:
    with pytest.raises(
        IndexError,
        match=rf"{op}: cannot reduce over an empty dimension: dim {dim} of shape \(2, 0\) has "
        rf"size 0(.|\n)*hint: {op} has no identity",
    ):
        call(ember.zeros(2, 0))


@pytest.mark.parametrize("op", ["mean", "var", "std", "norm"])
def test_float_only_reductions_reject_integers(op) -> None:
    with pytest.raises(
        TypeError,
        match=rf"{op}: could not infer output dtype: input dtype must be floating point, got "
        rf"int64\nhint: convert first, e.g. x.float\(\).{op}\(\)",
    ):
        getattr(ember.tensor([1, 2, 3]), op)()


def test_mean_of_ints_with_a_float_dtype_works() -> None:
    assert ember.tensor([1, 2]).mean(dtype=ember.float32).item() == 1.5


def test_norm_rejects_unsupported_p(x) -> None:
    with pytest.raises(ValueError, match="norm: unsupported p='nuc'"):
        x.norm(p="nuc")
    with pytest.raises(ValueError, match="norm: p must be positive, got 0.0"):
        x.norm(p=0)


def test_reduction_of_a_non_tensor() -> None:
    with pytest.raises(TypeError, match="sum: expected a Tensor, got list"):
        ember.sum([1, 2])


def test_matrix_only_ops_reject_vectors() -> None:
    v = ember.randn(3)
    with pytest.raises(ValueError, match=r"tril: input tensor must have at least 2 dimensions"):
        ember.tril(v)
    with pytest.raises(ValueError, match=r"triu: input tensor must have at least 2 dimensions"):
        v.triu(1)
    with pytest.raises(ValueError, match="mT: tensor.mT is only supported on matrices"):
        _ = v.mT
    for lib in (ember, torch):  # the same error type and words as torch
        with pytest.raises(
            RuntimeError, match=r"t\(\) expects a tensor with <= 2 dimensions, but self is 3D"
        ):
            lib.ones(2, 2, 2).t()
