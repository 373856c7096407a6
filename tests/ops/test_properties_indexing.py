"""Property tests: random basic indices give NumPy's values and a count-of-uses gradient."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import ember


@st.composite
def shape_and_index(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple]:
    """A shape (0 to 4 dims, sizes 0 to 5) and a valid basic index for it."""
    shape = tuple(draw(st.lists(st.integers(0, 5), max_size=4)))
    n_indexed = draw(st.integers(0, len(shape)))
    # an Ellipsis at position p: the items after it index the last dimensions
    p = draw(st.none() | st.integers(0, n_indexed))
    split = n_indexed if p is None else p
    dims = list(range(split)) + list(range(len(shape) - (n_indexed - split), len(shape)))
    items: list = []
    for d in dims:
        n = shape[d]
        if n and draw(st.booleans()):
            items.append(draw(st.integers(-n, n - 1)))
        else:
            start = draw(st.none() | st.integers(-n - 2, n + 2))
            stop = draw(st.none() | st.integers(-n - 2, n + 2))
            step = draw(st.none() | st.integers(1, 3))
            items.append(slice(start, stop, step))
    if p is not None:
        items.insert(p, Ellipsis)
    for _ in range(draw(st.integers(0, 2))):
        items.insert(draw(st.integers(0, len(items))), None)
    return shape, tuple(items)


@settings(max_examples=50, deadline=None)
@given(shape_and_index())
def test_basic_indexing_matches_numpy(case: tuple) -> None:
    shape, index = case
    a = np.arange(float(np.prod(shape))).reshape(shape)
    x = ember.tensor(a, requires_grad=True)
    out = x[index]
    expected = a[index]
    assert tuple(out.shape) == expected.shape
    np.testing.assert_array_equal(out.detach().numpy(), expected)
    out.sum().backward()
    uses = np.zeros(shape)
    uses[index] += 1  # basic indices select each element at most once
    np.testing.assert_array_equal(x.grad.numpy(), uses)


@settings(max_examples=50, deadline=None)
@given(shape_and_index(), st.integers(0, 2**31 - 1))
def test_integer_array_gradient_counts_repeats(case: tuple, seed: int) -> None:
    """An integer array along the first dimension: the gradient counts how often a row is taken."""
    shape, _ = case
    if not shape or shape[0] == 0:
        shape = (3,) + shape[1:]
    rng = np.random.default_rng(seed)
    rows = rng.integers(-shape[0], shape[0], size=rng.integers(0, 7))
    a = rng.standard_normal(shape)
    x = ember.tensor(a, requires_grad=True)
    out = x[ember.tensor(rows.astype(np.int64))]
    np.testing.assert_array_equal(out.detach().numpy(), a[rows])
    out.sum().backward()
    counts = np.zeros(shape)
    np.add.at(counts, rows, 1.0)
    np.testing.assert_array_equal(x.grad.numpy(), counts)
