"""In-place ops and autograd: version counters, leaves, no_grad."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember


def test_modified_saved_output_is_detected() -> None:
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x.sigmoid()
    y.mul_(2)
    with pytest.raises(
        RuntimeError,
        match=r"modified by an inplace operation: SigmoidBackward's output of shape \(2,\) is "
        r"at version 1; expected version 0",
    ):
        y.sum().backward()


def test_modified_saved_input_is_detected() -> None:
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1.0
    y = h * h
    h.add_(1)
    with pytest.raises(RuntimeError, match="MulBackward's input 0 of shape"):
        y.sum().backward()


def test_inplace_on_unsaved_input_is_fine_and_matches_torch() -> None:
    grads = []
    for m in (ember, torch):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        h = x + 1  # add does not save its inputs
        y = h + 3
        h.mul_(2)
        (y * h).sum().backward()
        grads.append(x.grad.tolist())
    assert grads[0] == grads[1]


def test_inplace_on_leaf_requiring_grad() -> None:
    x = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in"):
        x.add_(1)
    with ember.no_grad():
        x.add_(1)
    assert x.tolist() == [2.0, 2.0] and x._version == 1


def test_inplace_is_recorded() -> None:
    x = ember.tensor([1.0, -2.0], requires_grad=True)
    t = torch.tensor([1.0, -2.0], requires_grad=True)
    for v in (x, t):
        h = v * 2
        h.mul_(v)
        h.add_(1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize(
    "write",
    [
        lambda lib, y: y.fill_(1.5),
        lambda lib, y: y.zero_(),
        lambda lib, y: y.copy_(lib.tensor([4.0, -1.0, 2.0])),
    ],
    ids=["fill_", "zero_", "copy_constant"],
)
def test_writes_needing_no_gradient_cut_the_overwritten_values_off(write) -> None:
    grads = []
    for lib in (ember, torch):
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2
        write(lib, y)
        assert y.requires_grad
        (y * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_array_equal(grads[0], grads[1])


def test_a_write_into_a_view_of_a_graph_tensor_is_refused_not_silently_wrong() -> None:
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="fill_: in-place modification of a view"):
        y[1:].fill_(0.0)
