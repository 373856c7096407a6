"""Operand addresses kept between calls of a compiled step (``ember.jit.addresses``)."""

from __future__ import annotations

import gc

import numpy as np

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.jit.addresses import Operands


def test_each_position_holds_the_address_of_the_array_it_last_saw() -> None:
    a, b = np.zeros(4), np.ones(3)
    ops = Operands(2)
    assert ops.see(0, a) and ops.see(1, b)
    assert list(ops.table) == [a.ctypes.data, b.ctypes.data]
    c = np.zeros(5)
    assert ops.see(0, c) and ops.table[0] == c.ctypes.data


def test_a_strided_array_is_refused_and_not_remembered() -> None:
    a = np.zeros((4, 4))
    ops = Operands(1)
    assert not ops.see(0, a.T)
    assert ops.table[0] is None
    assert ops.see(0, a) and ops.table[0] == a.ctypes.data


def test_a_freed_array_is_not_taken_for_a_new_one() -> None:
    ops = Operands(1)
    ops.see(0, np.zeros(1000))  # dies at once: its id may be reused
    gc.collect()
    fresh = np.ones(1000)
    assert ops.see(0, fresh) and ops.table[0] == fresh.ctypes.data


def test_a_compiled_step_follows_parameters_given_new_memory() -> None:
    def run(compile_fn):
        ember.manual_seed(0)
        model = nn.Linear(8, 4)
        opt = ember.optim.Adam(model.parameters(), lr=0.1)
        x, y = ember.randn(16, 8), ember.randint(0, 4, (16,))

        def step():
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        step = compile_fn(step)
        losses = [step().item() for _ in range(3)]
        model.weight.data = ember.randn(4, 8)  # new arrays for the weight and Adam's state
        for state in opt.state[model.weight].values():
            if isinstance(state, ember.Tensor) and state.dim() == 2:
                state.data = ember.zeros(4, 8)
        losses += [step().item() for _ in range(3)]
        return losses, model.weight.detach().numpy().copy()

    eager, compiled = run(lambda f: f), run(ember.jit)
    np.testing.assert_allclose(compiled[0], eager[0], rtol=1e-5)
    np.testing.assert_allclose(compiled[1], eager[1], rtol=1e-5, atol=1e-6)
