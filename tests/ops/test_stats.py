"""What the op database cannot check for the statistics: vander's gradient (torch's own
backward fails), the named fields of the results, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember


def test_vander_gradient_matches_finite_differences() -> None:
    x = ember.tensor([0.5, -1.5, 2.0, 0.0], dtype=ember.float64, requires_grad=True)
    for n, increasing in ((None, False), (5, True), (1, False)):
        assert ember.autograd.gradcheck(lambda v: ember.vander(v, n, increasing), (x,))


def test_results_have_torch_field_names() -> None:
    x = np.array([[3.0, 1.0, 2.0], [0.5, 4.0, -1.0]])
    e, t = ember.tensor(x), torch.tensor(x)
    for name, args in (("median", (1,)), ("mode", (1,)), ("kthvalue", (2, 1))):
        ours, theirs = getattr(ember, name)(e, *args), getattr(torch, name)(t, *args)
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    ours, theirs = ember.aminmax(e, dim=0), torch.aminmax(t, dim=0)
    np.testing.assert_array_equal(ours.min.numpy(), theirs.min.numpy())
    np.testing.assert_array_equal(ours.max.numpy(), theirs.max.numpy())


def test_errors_name_what_was_wrong() -> None:
    x = ember.tensor([[3.0, 1.0, 2.0], [0.5, 4.0, -1.0]])
    with pytest.raises(RuntimeError, match=r"q values must be in the range \[0, 1\]"):
        ember.quantile(x, 1.5)
    with pytest.raises(RuntimeError, match="q tensor must be same dtype"):
        ember.quantile(x, ember.tensor([0.5], dtype=ember.float64))
    with pytest.raises(ValueError, match="interpolation must be one of linear"):
        ember.quantile(x, 0.5, interpolation="cubic")
    with pytest.raises(RuntimeError, match="input tensor must be either float or double"):
        ember.nanquantile(ember.tensor([1, 2]), 0.5)
    with pytest.raises(IndexError, match=r"k \(4\) is out of range for dimension 1 of size 3"):
        ember.kthvalue(x, 4, 1)
    with pytest.raises(IndexError, match="expected reduction dim 1 to have non-zero size"):
        ember.median(ember.tensor(np.zeros((2, 0))), 1)
    with pytest.raises(ValueError, match="expected fweights to be a 1-D tensor with 3 elements"):
        ember.cov(x, fweights=ember.tensor([1, 2]))
    with pytest.raises(TypeError, match="fweights to have an integral dtype"):
        ember.cov(x, fweights=ember.tensor([1.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match="'fast' is not a valid compute_mode"):
        ember.cdist(x, x, compute_mode="fast")
    with pytest.raises(RuntimeError, match="non-positive norm not supported"):
        ember.renorm(x, 0, 0, 1.0)
    with pytest.raises(RuntimeError, match="only supports non-negative p-norms"):
        ember.dist(x, x, -1)
    with pytest.raises(TypeError, match="pass the sample points x or the spacing dx, not both"):
        ember.trapezoid(x, ember.tensor([0.0, 1.0, 2.0]), dx=0.5)
    with pytest.raises(ValueError, match="x must be a one-dimensional tensor"):
        ember.vander(x)


def test_counting_errors_name_what_was_wrong() -> None:
    x = ember.tensor([1.0, 2.0, 2.5])
    with pytest.raises(RuntimeError, match="bincount only supports 1-d non-negative integral"):
        ember.bincount(ember.tensor([-1, 2]))
    with pytest.raises(RuntimeError, match="bincount only supports 1-d non-negative integral"):
        ember.bincount(x)
    with pytest.raises(RuntimeError, match="weights should be 1-d and have the same length"):
        ember.bincount(ember.tensor([1, 2]), ember.tensor([1.0]))
    with pytest.raises(RuntimeError, match="histc: max must be larger than min"):
        ember.histc(x, bins=3, min=3, max=1)
    with pytest.raises(ValueError, match="bins must be a positive int, got 0"):
        ember.histogram(x, 0)
    with pytest.raises(TypeError, match="expected a floating point tensor, got int64"):
        ember.histc(ember.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="is not finite"):
        ember.histc(ember.tensor([1.0, float("nan")]))


def test_counts_have_no_derivative_as_in_torch() -> None:
    x = ember.tensor([1.0, 2.0, 2.5], requires_grad=True)
    assert not ember.histc(x, bins=3).requires_grad  # as torch's
    for out in (
        ember.histogram(x, 3).hist,
        ember.unique(x),
        ember.bincount(ember.tensor([0, 1, 1]), x),
    ):
        with pytest.raises(NotImplementedError, match="derivative of"):
            out.sum().backward()
