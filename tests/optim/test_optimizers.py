"""Optimizers vs PyTorch: 20-step trajectories on identical gradients, state_dict, errors."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

import ember
from ember import optim
from ember.nn.clip_grad import clip_grad_norm_, clip_grad_value_

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (5,), ()]
STEPS = 20


def _init(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in SHAPES]


def _grad_sequence(seed: int = 1) -> list[list[np.ndarray]]:
    """Deterministic gradients; the middle parameter has none every third step (skipped)."""
    rng = np.random.default_rng(seed)
    return [
        [rng.standard_normal(s) if (i != 1 or t % 3) else None for i, s in enumerate(SHAPES)]
        for t in range(STEPS)
    ]


def _groups(lib: Any, params: list, group_lrs: tuple | None) -> Any:
    if group_lrs is None:
        return params
    return [{"params": params[:1], "lr": group_lrs[0]}, {"params": params[1:]}]


def _trajectory(lib: str, name: str, kwargs: dict, group_lrs: tuple | None, grads: list) -> list:
    mod = torch if lib == "torch" else ember
    params = [mod.tensor(a.copy(), requires_grad=True) for a in _init()]
    opt = getattr(torch.optim if lib == "torch" else optim, name)(
        _groups(mod, params, group_lrs), **kwargs
    )
    out = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else mod.tensor(g.copy())
        opt.step()
        out.append([np.array(p.detach().numpy(), copy=True) for p in params])
    return out


OPTIONS: list[tuple[str, dict, tuple | None]] = [
    ("SGD", dict(lr=0.1), None),
    ("SGD", dict(lr=0.1, momentum=0.9), None),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01), None),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1), None),
    ("SGD", dict(lr=0.05, momentum=0.5, maximize=True), (0.2,)),
    ("Adam", dict(lr=0.01), None),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), None),
    ("Adam", dict(lr=0.01, amsgrad=True), None),
    ("Adam", dict(lr=0.01, amsgrad=True, maximize=True, weight_decay=0.05), (0.1,)),
    ("AdamW", dict(lr=0.01), None),
    ("AdamW", dict(lr=0.01, weight_decay=0.5, amsgrad=True), (0.05,)),
    ("AdamW", dict(lr=0.01, maximize=True), None),
    ("RMSprop", dict(lr=0.01), None),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1, momentum=0.9), None),
    ("RMSprop", dict(lr=0.01, centered=True), None),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5, eps=1e-4), (0.003,)),
    ("RMSprop", dict(lr=0.01, maximize=True), None),
    ("Adagrad", dict(lr=0.1), None),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1), None),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6), (0.3,)),
    ("Adagrad", dict(lr=0.1, maximize=True), None),
]


def _id(o: tuple) -> str:
    name, kwargs, groups = o
    opts = "-".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{name}-{opts}" + ("-groups" if groups else "")


@pytest.mark.parametrize("option", OPTIONS, ids=[_id(o) for o in OPTIONS])
def test_trajectory_matches_torch(option: tuple) -> None:
    name, kwargs, group_lrs = option
    grads = _grad_sequence()
    ours = _trajectory("ember", name, kwargs, group_lrs, grads)
    ref = _trajectory("torch", name, kwargs, group_lrs, grads)
    for t, (a, b) in enumerate(zip(ours, ref)):
        for i, (x, y) in enumerate(zip(a, b)):
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6, err_msg=f"step {t} param {i}")


@pytest.mark.parametrize("option", OPTIONS[1::2], ids=[_id(o) for o in OPTIONS[1::2]])
def test_state_dict_round_trip(option: tuple) -> None:
    """Save after 10 steps, load into a fresh optimizer on copied params: same trajectory."""
    name, kwargs, group_lrs = option
    grads = _grad_sequence()
    params = [ember.tensor(a, requires_grad=True) for a in _init()]
    opt = getattr(optim, name)(_groups(ember, params, group_lrs), **kwargs)

    def run(opt: Any, params: list, steps: list) -> None:
        for step_grads in steps:
            for p, g in zip(params, step_grads):
                p.grad = None if g is None else ember.tensor(g)
            opt.step()

    run(opt, params, grads[:10])
    saved = copy.deepcopy(opt.state_dict())
    assert sorted(saved["state"]) == list(range(len(params)))
    assert [g["params"] for g in saved["param_groups"]] == (
        [[0, 1, 2]] if group_lrs is None else [[0], [1, 2]]
    )
    clones = [ember.tensor(p.detach().numpy().copy(), requires_grad=True) for p in params]
    fresh = getattr(optim, name)(_groups(ember, clones, group_lrs), **kwargs)
    fresh.load_state_dict(saved)
    run(opt, params, grads[10:])
    run(fresh, clones, grads[10:])
    for a, b in zip(params, clones):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_state_dict_loads_torch_state() -> None:
    """A state dict saved by torch (tensors converted) resumes the same trajectory."""
    grads = _grad_sequence()
    tp = [torch.tensor(a, requires_grad=True) for a in _init()]
    topt = torch.optim.Adam(tp, lr=0.01, amsgrad=True)
    for step_grads in grads[:5]:
        for p, g in zip(tp, step_grads):
            p.grad = None if g is None else torch.tensor(g)
        topt.step()
    sd = topt.state_dict()
    sd = {
        "state": {
            k: {n: ember.tensor(v.numpy()) for n, v in s.items()} for k, s in sd["state"].items()
        },
        "param_groups": sd["param_groups"],
    }
    ep = [ember.tensor(p.detach().numpy().copy(), requires_grad=True) for p in tp]
    eopt = optim.Adam(ep, lr=0.01, amsgrad=True)
    eopt.load_state_dict(sd)
    for step_grads in grads[5:]:
        for p, q, g in zip(ep, tp, step_grads):
            p.grad = None if g is None else ember.tensor(g)
            q.grad = None if g is None else torch.tensor(g)
        eopt.step()
        topt.step()
    for p, q in zip(ep, tp):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-10)


def test_float32_parameters_stay_float32() -> None:
    w = ember.ones(3, dtype=ember.float32, requires_grad=True)
    opt = optim.Adam([w], lr=0.1, weight_decay=0.1)
    w.grad = ember.ones(3, dtype=ember.float32)
    opt.step()
    assert w.dtype is ember.float32 and opt.state[w]["exp_avg"].dtype is ember.float32
    assert w.grad is not None and w.is_leaf and w.requires_grad


def test_zero_grad_and_closure() -> None:
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.5)
    w.grad = ember.tensor([1.0, 1.0])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert w.grad is None

    def closure() -> Any:
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_allclose(w.detach().numpy(), [0.0, 0.0])


def test_add_param_group_uses_defaults() -> None:
    a, b = ember.zeros(2, requires_grad=True), ember.zeros(3, requires_grad=True)
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["lr"] == 0.01
    assert opt.param_groups[1]["params"] == [b] or opt.param_groups[1]["params"][0] is b


W = ember.zeros(2, requires_grad=True)


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: optim.SGD([W], lr=-1), ValueError, "Invalid learning rate: -1"),
        (lambda: optim.SGD([W], lr=0.1, momentum=-0.5), ValueError, "Invalid momentum value"),
        (lambda: optim.SGD([W], lr=0.1, nesterov=True), ValueError, "Nesterov momentum requires"),
        (lambda: optim.Adam([W], betas=(1.0, 0.9)), ValueError, "beta parameter at index 0: 1.0"),
        (lambda: optim.AdamW([W], eps=-1e-8), ValueError, "Invalid epsilon value"),
        (lambda: optim.RMSprop([W], alpha=-0.1), ValueError, "Invalid alpha value: -0.1"),
        (lambda: optim.Adagrad([W], lr_decay=-1), ValueError, "Invalid lr_decay value"),
        (lambda: optim.Adam([W], weight_decay=-1), ValueError, "Invalid weight_decay value"),
        (lambda: optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
        (lambda: optim.SGD(W, lr=0.1), TypeError, "iterable of Tensors"),
        (lambda: optim.SGD([W, W], lr=0.1), ValueError, "appear more than once"),
        (lambda: optim.SGD([W * 2], lr=0.1), ValueError, "non-leaf"),
        (lambda: optim.SGD([np.zeros(2)], lr=0.1), TypeError, "only optimize Tensors"),
        (lambda: optim.SGD({W}, lr=0.1), TypeError, "ordered collections"),
        (lambda: optim.SGD([{"params": [W], "lr": -2}], lr=0.1), ValueError, "learning rate: -2"),
    ],
)
def test_optimizer_errors(make: Any, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        make()


def test_load_state_dict_errors() -> None:
    a, b = ember.zeros(2, requires_grad=True), ember.zeros(3, requires_grad=True)
    saved = optim.Adam([a, b]).state_dict()
    with pytest.raises(ValueError, match="doesn't match the size.*2 vs 1"):
        optim.Adam([a]).load_state_dict(saved)
    with pytest.raises(ValueError, match="number of parameter groups: 1 vs 2"):
        optim.Adam([{"params": [a]}, {"params": [b]}]).load_state_dict(saved)


# -- gradient clipping ----------------------------------------------------------------------
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type: float, max_norm: float) -> None:
    rng = np.random.default_rng(2)
    grads = [rng.standard_normal(s) for s in SHAPES[:2]] + [None]
    ep = [ember.zeros(s, dtype=ember.float64, requires_grad=True) for s in SHAPES[:2] + [(2,)]]
    tp = [torch.zeros(s, dtype=torch.float64, requires_grad=True) for s in SHAPES[:2] + [(2,)]]
    for p, q, g in zip(ep, tp, grads):
        if g is not None:
            p.grad, q.grad = ember.tensor(g), torch.tensor(g)
    total = clip_grad_norm_(ep, max_norm, norm_type)
    ref = torch.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
    np.testing.assert_allclose(total.numpy(), ref.numpy(), rtol=1e-12)
    for p, q in zip(ep[:2], tp[:2]):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)
    assert ep[2].grad is None


def test_clip_grad_norm_nonfinite() -> None:
    w = ember.zeros(2, requires_grad=True)
    w.grad = ember.tensor([float("inf"), 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(w, 1.0, error_if_nonfinite=True)
    assert clip_grad_norm_([], 1.0).item() == 0.0


def test_clip_grad_value_matches_torch() -> None:
    g = _grad_sequence()[0][0]
    e, t = ember.zeros(g.shape, requires_grad=True), torch.zeros(g.shape, requires_grad=True)
    e.grad, t.grad = ember.tensor(g.astype("float32")), torch.tensor(g.astype("float32"))
    clip_grad_value_([e], 0.5)
    torch.nn.utils.clip_grad_value_([t], 0.5)
    np.testing.assert_array_equal(e.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_step_writes_are_seen_by_saved_tensor_checks(name: str) -> None:
    """A step updates parameters through ember's in-place ops, so a graph that saved a
    parameter notices the update instead of differentiating with the new value."""
    p = ember.randn(3, requires_grad=True)
    loss = (p * p).sum()
    p.grad = ember.ones(3)
    getattr(optim, name)([p], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
