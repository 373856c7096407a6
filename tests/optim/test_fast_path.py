"""The optimizers' array fast path against their per-parameter op rule: bit-identical runs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import ember
from ember import optim

SHAPES = [(3, 4), (5,), (2, 3, 2), ()]  # the 0-d parameter always takes the op path
STEPS = 12

OPTIONS = [
    ("Adam", {"lr": 0.05}),
    ("Adam", {"lr": 0.05, "betas": (0.8, 0.9), "weight_decay": 0.1, "amsgrad": True}),
    ("Adam", {"lr": 0.05, "maximize": True, "eps": 1e-3}),
    ("AdamW", {"lr": 0.05, "weight_decay": 0.1}),
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 1.0, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "maximize": True}),
]


def _id(option: tuple) -> str:
    name, kwargs = option
    return name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


def _run(name: str, kwargs: dict, dtype: Any, fast: bool) -> tuple[list, dict, Any]:
    """Params after ``STEPS`` steps on fixed gradients (one param skips every third step)."""
    rng = np.random.default_rng(0)
    params = [
        ember.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in SHAPES
    ]
    opt = getattr(optim, name)(params, **kwargs)
    opt._fast_path_enabled = fast
    for t in range(STEPS):
        for i, p in enumerate(params):
            g = rng.standard_normal(p.shape).astype(dtype)
            p.grad = None if (i == 1 and t % 3 == 0) else ember.tensor(g)
        opt.step()
    return [p.detach().numpy() for p in params], opt.state_dict(), opt


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("option", OPTIONS, ids=[_id(o) for o in OPTIONS])
def test_fast_path_is_bit_identical(option: tuple, dtype: Any) -> None:
    """Same parameters and same state_dict (torch format: tensors, int steps) either way."""
    name, kwargs = option
    fast_params, fast_state, _ = _run(name, kwargs, dtype, True)
    ref_params, ref_state, _ = _run(name, kwargs, dtype, False)
    for i, (a, b) in enumerate(zip(fast_params, ref_params)):
        np.testing.assert_array_equal(a, b, err_msg=f"param {i}")
    assert fast_state["param_groups"] == ref_state["param_groups"]
    assert fast_state["state"].keys() == ref_state["state"].keys()
    for i, s in ref_state["state"].items():
        assert fast_state["state"][i].keys() == s.keys()
        for key, value in s.items():
            got = fast_state["state"][i][key]
            if isinstance(value, ember.Tensor):
                assert isinstance(got, ember.Tensor) and got.dtype is value.dtype
                np.testing.assert_array_equal(got.numpy(), value.numpy(), err_msg=key)
            else:
                assert type(got) is type(value) and got == value, key


def test_fast_path_is_taken_and_bumps_versions() -> None:
    """The op rule is not called for array-friendly params; writes bump version counters."""
    p = ember.randn(4, 3, requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    opt._update = None  # any call to the op rule would fail
    p.grad = ember.ones(4, 3)
    before = p._version
    opt.step()
    assert p._version > before
    assert opt.state[p]["exp_avg"]._version > 0


def test_saved_tensor_check_sees_fast_writes() -> None:
    """A graph that saved a parameter notices the fast path's in-place update."""
    p = ember.randn(3, requires_grad=True)
    loss = (p * p).sum()
    p.grad = ember.ones(3)
    optim.SGD([p], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_subclass_with_its_own_rule_keeps_it() -> None:
    """A subclass overriding ``_update`` alone is not bypassed by the inherited fast path."""
    calls = []

    class Counting(optim.SGD):
        def _update(self, p: Any, grad: Any, state: dict, group: dict) -> None:
            calls.append(p)
            super()._update(p, grad, state, group)

    p = ember.randn(3, requires_grad=True)
    p.grad = ember.ones(3)
    Counting([p], lr=0.1).step()
    assert len(calls) == 1


@pytest.mark.parametrize("case", ["grad dtype", "tensor lr"])
def test_op_rule_used_when_arrays_do_not_fit(case: str, monkeypatch: Any) -> None:
    """A gradient of another dtype, or a tensor hyperparameter, takes the op rule."""
    calls = []
    rule = optim.SGD._update

    def spy(self: Any, p: Any, grad: Any, state: dict, group: dict) -> None:
        calls.append(p)
        rule(self, p, grad, state, group)

    monkeypatch.setattr(optim.SGD, "_update", spy)
    p = ember.randn(3, requires_grad=True)
    p.grad = ember.ones(3, dtype=ember.float64 if case == "grad dtype" else ember.float32)
    optim.SGD([p], lr=ember.tensor(0.1) if case == "tensor lr" else 0.1).step()
    assert len(calls) == 1
