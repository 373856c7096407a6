"""The executor hands out a view of the same arrays again instead of making it anew
(``step_code.SameView``): only where the arrays are the same objects, and never a copy."""

from __future__ import annotations

import numpy as np

import ember
from ember.jit.step_code import SameView


def _view_steps(compiled) -> int:
    return sum(isinstance(step[1], SameView) for step in compiled._last.executor.steps)


def test_views_of_state_are_reused_and_follow_new_contents_and_new_arrays() -> None:
    rng = np.random.default_rng(0)
    w = ember.tensor(rng.standard_normal((6, 4)).astype(np.float32))
    cache = ember.tensor(rng.standard_normal((3, 4, 2)).astype(np.float32))

    def f(x: ember.Tensor) -> ember.Tensor:
        # w.T and cache's transposes are views of state; the reshape of the transposed cache
        # has to copy
        flat = cache.transpose(0, 2).reshape(6, 4)
        return x @ w.T + (flat @ w.T).sum(0) + cache.transpose(1, 2)[0, 0, 0]

    compiled = ember.jit(f)
    x = ember.tensor(rng.standard_normal((5, 4)).astype(np.float32))
    for _ in range(3):
        np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=1e-5)
    assert _view_steps(compiled) >= 2
    cache.add_(1.0)  # new contents: a reused view sees them, a copy is made again
    np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=1e-5)
    w.data = ember.tensor(rng.standard_normal((6, 4)).astype(np.float32))  # a new array
    np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=1e-5)


def test_views_of_call_arguments_are_made_at_every_call() -> None:
    """An argument is a new array at each call: its views are never held between calls."""
    compiled = ember.jit(lambda x: x.T @ x)
    for seed in range(3):
        x = ember.tensor(np.random.default_rng(seed).standard_normal((4, 3)))
        np.testing.assert_allclose(compiled(x).numpy(), x.numpy().T @ x.numpy())
    assert _view_steps(compiled) == 0
