"""The executor's loop written out as Python (``step_code.loop_function``) runs the steps as
the generic loop does, and its inline shortcuts (a native kernel called straight on the same
arrays, a view handed out again) give way when an array changes."""

from __future__ import annotations

import numpy as np

import ember
from ember.jit.addresses import NativeCall
from ember.jit.executor import ALLOC, INTO, NATIVE
from ember.jit.graph import Source
from ember.jit.step_code import bind_function, loop_function


def test_each_kind_of_step_runs_as_written() -> None:
    calls, read = [], []

    def native(env, **params):
        calls.append(params)
        env[3] = env[2] * 2

    def into(xp, a, out):
        read.append(type(a))
        return xp.add(a, 1, out=out)

    steps = [
        (ALLOC, lambda xp, a, **p: xp.float32(a.sum() * p["scale"]), (0,), {"scale": 2}, 1, ()),
        (INTO, into, (1,), {}, 2, (1,)),
        (NATIVE, native, (), {"not an identifier": 5}, -1, ()),
    ]
    env = [np.arange(3.0), None, np.empty(()), None]
    loop_function(steps, host=True)(env, np)
    assert read == [np.ndarray]  # the kernel's NumPy scalar became an array
    assert env[1] is None  # freed after its last reader
    assert float(env[2]) == 7.0 and float(env[3]) == 14.0
    assert calls == [{"not an identifier": 5}]


def test_a_native_step_follows_an_operand_given_new_memory() -> None:
    rng = np.random.default_rng(0)
    w = ember.tensor(rng.standard_normal((4, 4)).astype(np.float32))

    def f(x: ember.Tensor) -> ember.Tensor:
        return ((x * w + 1.0).relu() * 3.0) @ w  # the kernel writes a pooled buffer

    compiled = ember.jit(f)
    x = ember.tensor(rng.standard_normal((4, 4)).astype(np.float32))
    for _ in range(3):
        compiled(x)
    steps = compiled._last.executor.steps
    natives = [fn for kind, fn, *_ in steps if kind == NATIVE and isinstance(fn, NativeCall)]
    assert natives and all(fn.last is not None for fn in natives)  # the shortcut is armed
    w.data = ember.tensor(rng.standard_normal((4, 4)).astype(np.float32))  # new memory
    np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=1e-6)
    x2 = ember.tensor(rng.standard_normal((4, 4)).astype(np.float32))
    np.testing.assert_allclose(compiled(x2).numpy(), f(x2).numpy(), rtol=1e-6)


def test_the_written_loop_and_the_generic_one_agree() -> None:
    rng = np.random.default_rng(1)
    w = ember.tensor(rng.standard_normal((6, 4)).astype(np.float32))

    def f(x: ember.Tensor) -> ember.Tensor:
        h = (x @ w.T).tanh() * 2.0
        return h.reshape(3, 4).sum(0) + w.T[0, 0]

    compiled = ember.jit(f)
    x = ember.tensor(rng.standard_normal((2, 4)).astype(np.float32))
    compiled(x)
    executor = compiled._last.executor
    arrays = executor.bind([x])
    written = executor.execute_steps(arrays)
    each = executor.execute_steps(arrays, keep=True)  # the generic loop (a graph's capture)
    for s in executor.outputs:
        np.testing.assert_array_equal(written[s], each[s])
    np.testing.assert_allclose(compiled(x).numpy(), f(x).numpy(), rtol=1e-6)


def test_bind_rechecks_an_array_only_when_it_is_another_one() -> None:
    w = ember.tensor(np.ones((3, 2), np.float32))
    w.grad = ember.tensor(np.ones((3, 2), np.float32))
    inputs = [
        (0, Source("arg", 0), (2,), np.float32),
        (1, Source("data", 0, w), (3, 2), np.float32),
        (2, Source("grad", 0, w), (3, 2), np.float32),
    ]
    bind = bind_function(inputs)
    x = ember.tensor(np.zeros(2, np.float32))
    arrays = bind([x])
    assert arrays[0] is x._data and arrays[1] is w._data and arrays[2] is w.grad._data
    w.data = ember.tensor(np.zeros((3, 2), np.float32))  # new memory, same shape: bound
    assert bind([x])[1] is w._data
    w.data = ember.tensor(np.zeros((2, 3), np.float32))  # another shape: no match
    assert bind([x]) is None
    w.data = ember.tensor(np.zeros((3, 2), np.float64))  # another dtype: no match
    assert bind([x]) is None
    w.data = ember.tensor(np.zeros((3, 2), np.float32))
    assert bind([ember.tensor(np.zeros(3, np.float32))]) is None  # an argument's shape
    w.grad = None
    assert bind([x]) is None  # a missing gradient
