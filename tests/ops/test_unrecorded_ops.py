"""Composite ops that run their primitives on the array when nothing records them
(``core.unrecorded``: no trace, no autocast, no autograd of the input): softmax and topk give
the very bits of the recorded path, and multinomial still names what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.nn.functional as F


def _both(fn, array: np.ndarray) -> tuple:
    """``fn`` on a tensor of ``array`` that records nothing, then on one autograd records."""
    with ember.no_grad():
        plain = fn(ember.tensor(array))
    recorded = fn(ember.tensor(array, requires_grad=True))
    return plain, recorded


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("dim", [0, -1])
def test_softmax_gives_the_recorded_bits(dtype, dim: int) -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((5, 7)) * 30).astype(dtype)
    x[1, 2], x[3] = -np.inf, -4.0  # a masked entry, a row of ties
    plain, recorded = _both(lambda t: F.softmax(t, dim=dim), x)
    assert plain.dtype == recorded.dtype and not plain.requires_grad
    np.testing.assert_array_equal(plain.numpy(), recorded.detach().numpy())


@pytest.mark.parametrize("largest", [True, False])
def test_topk_gives_the_recorded_values_and_indices(largest: bool) -> None:
    x = np.array([[3.0, 1.0, 3.0, -2.0, 7.0, 1.0], [0.0, 0.0, 0.0, 5.0, -1.0, 5.0]], np.float32)
    plain, recorded = _both(lambda t: ember.topk(t, 3, dim=1, largest=largest), x)
    np.testing.assert_array_equal(plain.values.numpy(), recorded.values.detach().numpy())
    np.testing.assert_array_equal(plain.indices.numpy(), recorded.indices.numpy())
    assert plain.indices.dtype == ember.int64


@pytest.mark.parametrize(
    "row, message",
    [
        ([0.5, np.nan, 0.5], "inf, nan or element < 0"),
        ([0.5, np.inf, 0.5], "inf, nan or element < 0"),
        ([0.5, -0.1, 0.5], "inf, nan or element < 0"),
        ([0.0, 0.0, 0.0], "positive, finite sum"),
    ],
)
def test_multinomial_names_a_bad_row(row: list, message: str) -> None:
    probs = ember.tensor(np.array([[0.2, 0.3, 0.5], row], np.float64))
    with pytest.raises(ValueError, match=message):
        ember.multinomial(probs, 1)
