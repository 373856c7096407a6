"""In-place arithmetic written straight into the tensor (``core.write_into``): the same
values, version counts and errors as the general path (``core.inplace``: a result array
copied back), which takes over wherever the direct write does not apply."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

import ember
from ember.ops import core, elementwise

RNG = np.random.default_rng(0)


def _array(*shape: int, dtype: Any = np.float32) -> np.ndarray:
    return (RNG.standard_normal(shape) + 2).astype(dtype)


A, B, C = _array(3, 4), _array(3, 4), _array(4)
SCALE = np.array(0.25, np.float32)
# (method, arguments built from (b, c, scale), keyword arguments built likewise)
CASES: list[tuple[str, Callable[..., tuple], Callable[..., dict]]] = [
    ("add_", lambda b, c, s: (b,), lambda b, c, s: {}),
    ("add_", lambda b, c, s: (c,), lambda b, c, s: {"alpha": 0.1}),
    ("add_", lambda b, c, s: (1.5,), lambda b, c, s: {}),
    ("sub_", lambda b, c, s: (b,), lambda b, c, s: {"alpha": 3}),
    ("sub_", lambda b, c, s: (c,), lambda b, c, s: {}),
    ("mul_", lambda b, c, s: (0.9,), lambda b, c, s: {}),
    ("mul_", lambda b, c, s: (c,), lambda b, c, s: {}),
    ("mul_", lambda b, c, s: (s,), lambda b, c, s: {}),
    ("div_", lambda b, c, s: (b,), lambda b, c, s: {}),
    ("div_", lambda b, c, s: (3,), lambda b, c, s: {}),
    ("maximum_", lambda b, c, s: (c,), lambda b, c, s: {}),
    ("lerp_", lambda b, c, s: (b, 0.3), lambda b, c, s: {}),
    ("lerp_", lambda b, c, s: (c, s), lambda b, c, s: {}),
    ("addcmul_", lambda b, c, s: (b, c), lambda b, c, s: {"value": 0.001}),
    ("addcmul_", lambda b, c, s: (b, b), lambda b, c, s: {"value": s}),
    ("addcdiv_", lambda b, c, s: (b, c), lambda b, c, s: {}),
    ("addcdiv_", lambda b, c, s: (b, c), lambda b, c, s: {"value": -0.5}),
]


def _run(
    module: Any, name: str, args: Callable, kwargs: Callable, dtype: Any = np.float32
) -> tuple[np.ndarray, int]:
    """Apply the case to a copy of A under no_grad; the values and the version after."""
    t = module.tensor(A.astype(dtype))
    b, c = module.tensor(B.astype(dtype)), module.tensor(C.astype(dtype))
    s = module.tensor(SCALE.astype(dtype))
    with module.no_grad():
        out = getattr(t, name)(*args(b, c, s), **kwargs(b, c, s))
    assert out is t
    return t.numpy().copy(), t._version


def _general_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core, "writable_in_place", lambda t: False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("name", "args", "kwargs"), CASES)
def test_direct_write_gives_the_general_paths_bits_and_version(
    name: str, args: Callable, kwargs: Callable, dtype: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    direct, version = _run(ember, name, args, kwargs, dtype)
    with monkeypatch.context() as m:
        _general_only(m)
        general, general_version = _run(ember, name, args, kwargs, dtype)
    np.testing.assert_array_equal(direct.view(np.uint8), general.view(np.uint8))
    assert version == general_version == 1
    if hasattr(torch.Tensor, name):  # (torch has no maximum_)
        want, _ = _run(torch, name, args, kwargs, dtype)
        np.testing.assert_allclose(direct, want, rtol=1e-6)


@pytest.mark.parametrize(("name", "args", "kwargs"), CASES)
def test_the_direct_path_makes_no_result_array(
    name: str, args: Callable, kwargs: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """float32 under no_grad: written in place, ``core.inplace`` is never reached."""
    monkeypatch.setattr(elementwise, "inplace", lambda *a: pytest.fail("took the general path"))
    _run(ember, name, args, kwargs)


def test_the_write_lands_in_the_tensors_memory_and_its_views() -> None:
    w = ember.tensor(A.copy())
    row = w[1]
    before = w.data_ptr()
    with ember.no_grad():
        w.mul_(2).add_(ember.ones(4), alpha=0.5)
    assert w.data_ptr() == before and w._version == row._version == 2
    np.testing.assert_array_equal(row.numpy(), A[1] * np.float32(2) + np.float32(0.5))


def test_operands_overlapping_the_tensor(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tensor as its own operand, or a transposed view of it: the values of the
    out-of-place result (NumPy buffers the overlap), as the general path gives them.
    (PyTorch refuses a partial overlap; ember computes it as written.)"""
    a = A[:3, :3].copy()
    cases = [
        (lambda x: x.add_(x.mT), a + a.T),
        (lambda x: x.mul_(x), a * a),
        (lambda x: x.addcmul_(x, x.mT), a + a * a.T),
    ]
    for op, want in cases:
        got = ember.tensor(a.copy())
        with ember.no_grad():
            op(got)
        with monkeypatch.context() as m:
            _general_only(m)
            general = ember.tensor(a.copy())
            with ember.no_grad():
                op(general)
        np.testing.assert_array_equal(got.numpy(), want)
        np.testing.assert_array_equal(got.numpy(), general.numpy())


@pytest.mark.parametrize(
    ("make", "op"),
    [
        (lambda: ember.tensor(A.astype(np.float16)), lambda t: t.mul_(0.9)),  # widened
        (lambda: ember.tensor(A.astype(np.int64)), lambda t: t.add_(2)),
        (lambda: ember.tensor(A), lambda t: t.add_(ember.tensor(B.astype(np.float64)))),
        (lambda: ember.tensor(A), lambda t: t.div_(ember.tensor(B), rounding_mode="floor")),
        (lambda: ember.tensor(A), lambda t: t.mul_(np.float64(3.0))),
    ],
)
def test_what_the_direct_write_leaves_to_the_general_path(
    make: Callable, op: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Promotion, float16, integers, rounding division: the general path, as before."""
    with ember.no_grad():
        want = op(make()).numpy().copy()
    taken = []
    general = core.inplace
    monkeypatch.setattr(elementwise, "inplace", lambda *a: taken.append(1) or general(*a))
    with ember.no_grad():
        t = op(make())
    assert taken and t._version == 1
    np.testing.assert_array_equal(t.numpy(), want)


def test_an_operand_that_would_grow_the_tensor_is_refused_as_before() -> None:
    t = ember.ones(4)
    with ember.no_grad(), pytest.raises(ValueError, match=r"output with shape \(4,\) doesn't"):
        t.add_(ember.ones(3, 4))
    assert t._version == 0 and t.tolist() == [1.0] * 4


def test_a_read_only_tensor_is_refused_as_before() -> None:
    data = A.copy()
    data.flags.writeable = False
    t = ember.from_numpy(data)
    with ember.no_grad(), pytest.raises(ValueError, match="read-only"):
        t.mul_(2)
    np.testing.assert_array_equal(t.numpy(), A)


def test_bad_arguments_raise_the_ops_errors() -> None:
    t = ember.ones(2)
    with ember.no_grad():
        with pytest.raises(TypeError, match="unsupported operand types"):
            t.add_("a")
        with pytest.raises(TypeError, match="expected at least one Tensor operand"):
            t.add_(2, alpha=3)
        with pytest.raises(TypeError, match="unexpected keyword argument"):
            t.mul_(2, alpha=3)
    assert t._version == 0


def test_autograd_still_records_or_refuses() -> None:
    """With grad enabled and a tensor that requires grad involved, the general path runs:
    a leaf is refused, an operand that requires grad is recorded."""
    w = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        w.mul_(2)
    x, y = ember.ones(3), ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x.addcmul_(y, y, value=0.5)
    assert x.requires_grad and x.grad_fn is not None
    x.sum().backward()
    assert y.grad.tolist() == [1.0, 2.0, 3.0]


def test_a_direct_write_to_a_saved_tensor_is_detected_by_backward() -> None:
    w = ember.ones(3, requires_grad=True)
    x = ember.tensor([1.0, 2.0, 3.0])
    loss = (w * x).sum()  # saves x for w's gradient
    with ember.no_grad():
        x.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_optimizer_steps_match_the_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Adam, AdamW and SGD with momentum (whose updates are in-place ops): bit-identical
    parameters after a few steps either way."""

    data = _array(8, 5)

    def train(opt_of: Callable) -> list[np.ndarray]:
        ember.manual_seed(0)
        model = ember.nn.Sequential(ember.nn.Linear(5, 4), ember.nn.Tanh(), ember.nn.Linear(4, 2))
        opt = opt_of(model.parameters())
        x = ember.tensor(data)
        for _ in range(3):
            opt.zero_grad()
            model(x).square().mean().backward()
            opt.step()
        return [p.numpy(force=True).copy() for p in model.parameters()]

    optimizers = [
        lambda p: ember.optim.Adam(p, lr=0.01, amsgrad=True),
        lambda p: ember.optim.AdamW(p, lr=0.01, weight_decay=0.1),
        lambda p: ember.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-3),
    ]
    for opt_of in optimizers:
        direct = train(opt_of)
        with monkeypatch.context() as m:
            _general_only(m)
            general = train(opt_of)
        for a, b in zip(direct, general):
            np.testing.assert_array_equal(a.view(np.uint8), b.view(np.uint8))
