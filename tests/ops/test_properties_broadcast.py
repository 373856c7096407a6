"""Property tests: broadcasting of add/mul (values and gradients) and movement round-trips."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ember

torch = pytest.importorskip("torch")

SETTINGS = settings(max_examples=50, deadline=None)
shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=4)


def _values(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-2.0, 2.0, size=shape)


@st.composite
def incompatible_pair(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Two shapes that agree everywhere except one aligned dim, with sizes that clash."""
    a = list(draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4)))
    k = draw(st.integers(1, len(a)))  # how many trailing dims the other shape has
    b = a[len(a) - k :]
    i = draw(st.integers(0, k - 1))
    sa, sb = draw(st.sampled_from([(2, 3), (3, 2), (0, 2), (4, 3), (2, 0)]))
    a[len(a) - k + i], b[i] = sa, sb
    return (tuple(a), tuple(b)) if draw(st.booleans()) else (tuple(b), tuple(a))


@pytest.mark.parametrize("op", ["add", "mul"])
@SETTINGS
@given(
    pair=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4),
    seed=st.integers(0, 2**16),
)
def test_broadcast_forward_and_grad_match_torch(op: str, pair, seed: int) -> None:
    (sa, sb), _ = pair
    a, b = _values(seed, sa), _values(seed + 1, sb)
    ea, eb = ember.tensor(a, requires_grad=True), ember.tensor(b, requires_grad=True)
    ta, tb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    out = getattr(ember, op)(ea, eb)
    expected = np.add(a, b) if op == "add" else np.multiply(a, b)
    assert tuple(out.shape) == expected.shape
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12, atol=1e-12)
    out.sum().backward()
    getattr(torch, op)(ta, tb).sum().backward()
    for e, t in ((ea, ta), (eb, tb)):
        assert tuple(e.grad.shape) == tuple(t.shape)
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("op", ["add", "mul"])
@SETTINGS
@given(pair=incompatible_pair())
def test_incompatible_shapes_raise_naming_both(op: str, pair) -> None:
    sa, sb = pair
    a, b = ember.zeros(*sa), ember.zeros(*sb)
    with pytest.raises(ValueError, match=re.escape(f"{op}: shapes {sa} and {sb} cannot be")):
        getattr(ember, op)(a, b)


@SETTINGS
@given(shape=shapes, data=st.data())
def test_permute_round_trip(shape: tuple[int, ...], data: st.DataObject) -> None:
    x = ember.tensor(_values(0, shape))
    dims = data.draw(st.permutations(range(len(shape))))
    y = x.permute(*dims)
    assert tuple(y.shape) == tuple(shape[d] for d in dims)
    np.testing.assert_array_equal(y.numpy(), np.transpose(x.numpy(), dims))
    np.testing.assert_array_equal(y.permute(*np.argsort(dims).tolist()).numpy(), x.numpy())


@SETTINGS
@given(shape=shapes, data=st.data())
def test_reshape_round_trip(shape: tuple[int, ...], data: st.DataObject) -> None:
    x = ember.tensor(_values(1, shape))
    n = x.numel()
    divisors = [d for d in range(1, n + 1) if n % d == 0] or [0]
    first = data.draw(st.sampled_from(divisors))
    target = (first, -1) if first else (0, data.draw(st.integers(0, 3)))
    y = x.reshape(*target)
    np.testing.assert_array_equal(y.numpy().ravel(), x.numpy().ravel())
    np.testing.assert_array_equal(y.reshape(*shape).numpy(), x.numpy())
    np.testing.assert_array_equal(x.flatten().numpy(), x.numpy().reshape(-1))


@SETTINGS
@given(shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=4), data=st.data())
def test_movement_round_trips_keep_gradients(shape: tuple[int, ...], data: st.DataObject) -> None:
    """A permute + reshape + inverse chain is the identity, so its gradient is the cotangent."""
    x = ember.tensor(_values(2, shape), requires_grad=True)
    dims = data.draw(st.permutations(range(len(shape))))
    y = x.permute(*dims).reshape(-1).reshape(*(shape[d] for d in dims))
    z = y.permute(*np.argsort(dims).tolist())
    cot = _values(3, shape)
    (z * ember.tensor(cot)).sum().backward()
    np.testing.assert_array_equal(z.detach().numpy(), x.detach().numpy())
    np.testing.assert_array_equal(x.grad.numpy(), cot)
