"""top-k is one Argsort node that keeps its first ``k`` indices, then a Gather."""

from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.jit


@pytest.mark.parametrize("dim, largest", [(0, False), (1, True), (-1, False)])
def test_topk_is_one_argsort_of_k_indices(dim: int, largest: bool) -> None:
    x = ember.tensor(np.random.default_rng(0).permutation(24).reshape(2, 3, 4).astype(np.float32))
    step = ember.jit.jit(lambda t: ember.topk(t, 2, dim=dim, largest=largest))
    values, indices = step(x)
    order = np.argsort(-x.numpy() if largest else x.numpy(), axis=dim, kind="stable")
    expected = np.take(order, [0, 1], axis=dim)
    assert np.array_equal(indices.numpy(), expected)
    assert np.array_equal(values.numpy(), np.take_along_axis(x.numpy(), expected, axis=dim))
    assert indices.numpy().flags.c_contiguous
    ops = [
        line.split("= ")[1].split("(")[0] for line in str(step.graph).splitlines() if "= " in line
    ]
    assert ops == ["Argsort", "Gather"]
