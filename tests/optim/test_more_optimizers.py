"""Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop, LBFGS and Adafactor vs PyTorch: trajectories
and state in float64 and float32, state_dict round trips, argument errors, and jit == eager."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import ember
from ember import optim
from tests.optim import test_optimizers as base

torch = pytest.importorskip("torch")

OPTIONS: list[tuple[str, dict, tuple | None]] = [
    ("Adadelta", dict(), None),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1), None),
    ("Adadelta", dict(lr=0.3, maximize=True), (0.7,)),
    ("Adamax", dict(lr=0.01), None),
    ("Adamax", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), None),
    ("Adamax", dict(lr=0.01, maximize=True), (0.05,)),
    ("NAdam", dict(lr=0.01), None),
    ("NAdam", dict(lr=0.02, betas=(0.5, 0.9), momentum_decay=0.1, weight_decay=0.1), None),
    ("NAdam", dict(lr=0.01, weight_decay=0.2, decoupled_weight_decay=True), None),
    ("NAdam", dict(lr=0.01, maximize=True, eps=1e-4), (0.03,)),
    ("RAdam", dict(lr=0.01), None),
    ("RAdam", dict(lr=0.02, betas=(0.9, 0.8), weight_decay=0.1), None),  # rectified from step 7
    # beta2 = 0.6: rho_inf = 4, never rectified
    ("RAdam", dict(lr=0.01, betas=(0.7, 0.6), weight_decay=0.2, decoupled_weight_decay=True), None),
    ("RAdam", dict(lr=0.01, betas=(0.9, 0.9), maximize=True), (0.05,)),
    ("ASGD", dict(lr=0.05), None),
    ("ASGD", dict(lr=0.1, lambd=1e-2, alpha=0.5, t0=5, weight_decay=0.1), None),
    ("ASGD", dict(lr=0.05, t0=0.0, maximize=True), (0.2,)),
    ("Rprop", dict(lr=0.01), None),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.08)), None),
    ("Rprop", dict(lr=0.02, maximize=True), (0.1,)),
]
IDS = [base._id(o) for o in OPTIONS]
# float64 agrees to rounding; float32 to float32 rounding grown over 20 steps
TOLERANCE = {"float64": dict(rtol=1e-12, atol=1e-13), "float32": dict(rtol=2e-5, atol=2e-6)}


def _run(
    lib: str,
    name: str,
    kwargs: dict,
    group_lrs: tuple | None,
    dtype: str,
    shapes: list[tuple[int, ...]] | None = None,
) -> tuple:
    """Parameters after each of ``STEPS`` steps on the shared gradients, and the final state
    (numpy arrays and numbers, keyed by parameter index). ``shapes`` replaces the shared
    parameters' shapes (the gradients follow the same pattern: the second is skipped every
    third step)."""
    mod = torch if lib == "torch" else ember
    if shapes is None:
        inits, grads = base._init(), base._grad_sequence()
    else:
        rng = np.random.default_rng(0)
        inits = [rng.standard_normal(s) for s in shapes]
        rng = np.random.default_rng(1)
        grads = [
            [rng.standard_normal(s) if (i != 1 or t % 3) else None for i, s in enumerate(shapes)]
            for t in range(base.STEPS)
        ]
    params = [mod.tensor(a.astype(dtype), requires_grad=True) for a in inits]
    opt = getattr(mod.optim, name)(base._groups(mod, params, group_lrs), **kwargs)
    out = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else mod.tensor(g.astype(dtype))
        opt.step()
        out.append([p.detach().numpy().copy() for p in params])
    return out, {i: _numpy_state(s) for i, s in opt.state_dict()["state"].items()}


def _numpy_state(state: dict) -> dict:
    return {k: v.detach().numpy().copy() if hasattr(v, "detach") else v for k, v in state.items()}


def _assert_states_equal(ours: dict, ref: dict, **tol: float) -> None:
    assert ours.keys() == ref.keys()
    for i in ref:
        assert ours[i].keys() == ref[i].keys(), i
        for key, value in ref[i].items():
            got = ours[i][key]
            if isinstance(value, np.ndarray):
                assert got.dtype == value.dtype, key
            np.testing.assert_allclose(got, value, **tol, err_msg=f"param {i} {key}")


def assert_matches_torch(
    option: tuple, dtype: str, shapes: list[tuple[int, ...]] | None = None
) -> dict:
    """The parameters after every step and the final state of ember's run equal torch's (to
    ``TOLERANCE``); returns ember's final state."""
    name, kwargs, group_lrs = option
    ours, our_state = _run("ember", name, kwargs, group_lrs, dtype, shapes)
    ref, ref_state = _run("torch", name, kwargs, group_lrs, dtype, shapes)
    for t, (a, b) in enumerate(zip(ours, ref)):
        for i, (x, y) in enumerate(zip(a, b)):
            assert x.dtype == y.dtype
            np.testing.assert_allclose(x, y, **TOLERANCE[dtype], err_msg=f"step {t} param {i}")
    _assert_states_equal(our_state, ref_state, **TOLERANCE[dtype])
    return our_state


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("option", OPTIONS, ids=IDS)
def test_trajectory_and_state_match_torch(option: tuple, dtype: str) -> None:
    assert_matches_torch(option, dtype)


@pytest.mark.parametrize("option", OPTIONS[::3], ids=IDS[::3])
def test_foreach_and_capturable_change_nothing(option: tuple) -> None:
    """The flags PyTorch has are accepted, and the run is bit-identical."""
    name, kwargs, group_lrs = option
    flagged = {**kwargs, "foreach": True, "capturable": True}
    ours, our_state = _run("ember", name, flagged, group_lrs, "float64")
    ref, ref_state = _run("ember", name, kwargs, group_lrs, "float64")
    for a, b in zip(ours, ref):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    _assert_states_equal(our_state, ref_state, rtol=0, atol=0)


@pytest.mark.parametrize("option", OPTIONS[1::3], ids=IDS[1::3])
def test_state_dict_round_trip(option: tuple) -> None:
    base.test_state_dict_round_trip(option)


@pytest.mark.parametrize("name", sorted({o[0] for o in OPTIONS} | {"Adafactor"}))
def test_jitted_step_equals_eager(name: str) -> None:
    """Ten compiled steps of an MLP (lr from a scheduler) equal ten eager ones: one graph,
    the same parameters and optimizer state."""

    def make() -> tuple:
        ember.manual_seed(1)
        model = ember.nn.Sequential(
            ember.nn.Linear(6, 16, dtype=ember.float64),
            ember.nn.Tanh(),
            ember.nn.Linear(16, 4, dtype=ember.float64),
        )
        opt = getattr(optim, name)(model.parameters(), lr=0.01)
        sched = optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)

        def step(x: ember.Tensor, y: ember.Tensor) -> ember.Tensor:
            opt.zero_grad()
            loss = ember.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            return loss

        return model, opt, sched, step

    (eager_model, eager_opt, eager_sched, eager_step), (model, opt, sched, step) = make(), make()
    jitted = ember.jit(step)
    ember.manual_seed(2)
    x, y = ember.randn(8, 6, dtype=ember.float64), ember.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    for _ in range(10):
        assert jitted(x, y).item() == pytest.approx(eager_step(x, y).item(), rel=1e-12)
        sched.step()
        eager_sched.step()
    assert jitted.traces == 1
    for p, q in zip(eager_model.parameters(), model.parameters()):
        np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=1e-12, atol=1e-14)
        assert opt.state[q]["step"].item() == 10.0
        assert opt.state[q].keys() == eager_opt.state[p].keys()
        for key, value in eager_opt.state[p].items():
            np.testing.assert_allclose(
                opt.state[q][key].numpy(), value.numpy(), rtol=1e-12, atol=1e-14, err_msg=key
            )


# -- LBFGS ------------------------------------------------------------------------------------
def _rosenbrock(mod: Any, dtype: str) -> tuple[list, Callable]:
    xy = mod.tensor(np.array([-1.5, 2.0], dtype=dtype), requires_grad=True)

    def loss() -> Any:
        return (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2

    return [xy], loss


def _least_squares(mod: Any, dtype: str) -> tuple[list, Callable]:
    """A linear layer fit to noisy targets (a 3x2 weight and a bias, 8 samples)."""
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((8, 3)).astype(dtype), rng.standard_normal((8, 2)).astype(dtype)
    w = mod.tensor(rng.standard_normal((3, 2)).astype(dtype), requires_grad=True)
    bias = mod.tensor(np.zeros(2, dtype=dtype), requires_grad=True)
    inputs, targets = mod.tensor(a), mod.tensor(b)

    def loss() -> Any:
        return ((inputs @ w + bias - targets) ** 2).mean()

    return [w, bias], loss


PROBLEMS = {"rosenbrock": _rosenbrock, "least_squares": _least_squares}
LBFGS_OPTIONS = [
    dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", history_size=3, max_iter=7),
    dict(lr=0.1, max_iter=10),
    dict(lr=0.5, history_size=2, max_eval=6, max_iter=8),
]


def _lbfgs_run(lib: str, problem: str, kwargs: dict, dtype: str, steps: int = 2) -> tuple:
    """(losses returned, parameters, state) after ``steps`` calls of ``step(closure)``."""
    mod = torch if lib == "torch" else ember
    params, loss_fn = PROBLEMS[problem](mod, dtype)
    opt = mod.optim.LBFGS(params, **kwargs)

    def closure() -> Any:
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(steps)]
    return losses, [p.detach().numpy().copy() for p in params], opt.state_dict()["state"][0]


def _lbfgs_state(state: dict) -> dict:
    """The state both keep: counters, last direction and step, and the update history."""
    out = {k: float(state[k]) for k in ("t", "H_diag", "prev_loss")}
    out.update({k: state[k].numpy() for k in ("d", "prev_flat_grad")})
    for key in ("old_dirs", "old_stps"):
        out.update({f"{key}{i}": v.numpy() for i, v in enumerate(state[key])})
    out.update({f"ro{i}": float(v) for i, v in enumerate(state["ro"])})
    return out


LBFGS_IDS = [base._id(("LBFGS", o, None)) for o in LBFGS_OPTIONS]


@pytest.mark.parametrize("kwargs", LBFGS_OPTIONS, ids=LBFGS_IDS)
@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_lbfgs_matches_torch(problem: str, kwargs: dict) -> None:
    """Two float64 steps: the same iterations and evaluations, the same values to rounding.

    The state is held to 1e-9 absolute, 1e-12 of Rosenbrock's gradients (about 1e3): near the
    minimum the direction and the gradient differences in the history are rounding noise."""
    (losses, params, state), (ref_losses, ref_params, ref_state) = (
        _lbfgs_run(lib, problem, kwargs, "float64") for lib in ("ember", "torch")
    )
    assert (state["func_evals"], state["n_iter"]) == (ref_state["func_evals"], ref_state["n_iter"])
    tol = dict(rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(losses, ref_losses, **tol)
    for x, y in zip(params, ref_params):
        np.testing.assert_allclose(x, y, **tol)
    ours, ref = _lbfgs_state(state), _lbfgs_state(ref_state)
    assert ours.keys() == ref.keys()
    for key, value in ref.items():
        np.testing.assert_allclose(ours[key], value, rtol=1e-9, atol=1e-9, err_msg=key)


@pytest.mark.parametrize("kwargs", LBFGS_OPTIONS, ids=LBFGS_IDS)
@pytest.mark.parametrize("problem", sorted(PROBLEMS))
def test_lbfgs_float32(problem: str, kwargs: dict) -> None:
    """float32 parameters: fixed steps follow PyTorch to float32 rounding; line searches
    (whose scalars are doubles here, float32 tensors in PyTorch) may branch differently once
    rounding dominates, so they are held to reaching the same minimum."""
    ours = _lbfgs_run("ember", problem, kwargs, "float32")
    ref = _lbfgs_run("torch", problem, kwargs, "float32")
    assert all(p.dtype == np.float32 for p in ours[1])
    if kwargs.get("line_search_fn") is None:
        assert ours[2]["func_evals"] == ref[2]["func_evals"]
        tol = dict(rtol=1e-4, atol=1e-5)
    else:
        tol = dict(rtol=0, atol=2e-3)
    for x, y in zip(ours[1], ref[1]):
        np.testing.assert_allclose(x, y, **tol)


@pytest.mark.parametrize("kwargs", LBFGS_OPTIONS[1::2], ids=LBFGS_IDS[1::2])
def test_lbfgs_state_dict_round_trip(kwargs: dict) -> None:
    """Save after two steps, load into a fresh LBFGS on copied parameters: the same run."""
    params, loss_fn = _rosenbrock(ember, "float64")
    opt = optim.LBFGS(params, **kwargs)

    def closure_for(opt: Any, loss_fn: Callable) -> Callable:
        def closure() -> Any:
            opt.zero_grad()
            loss = loss_fn()
            loss.backward()
            return loss

        return closure

    for _ in range(2):
        opt.step(closure_for(opt, loss_fn))
    saved = copy.deepcopy(opt.state_dict())
    clones, clone_loss = _rosenbrock(ember, "float64")
    clones[0].detach().copy_(params[0].detach())
    fresh = optim.LBFGS(clones, **kwargs)
    fresh.load_state_dict(saved)
    for _ in range(2):
        a = opt.step(closure_for(opt, loss_fn)).item()
        b = fresh.step(closure_for(fresh, clone_loss)).item()
        assert a == b
    np.testing.assert_array_equal(params[0].detach().numpy(), clones[0].detach().numpy())
    assert opt.state[params[0]]["func_evals"] == fresh.state[clones[0]]["func_evals"]


def test_lbfgs_needs_a_closure_and_one_group() -> None:
    w = ember.zeros(2, requires_grad=True)
    with pytest.raises(TypeError):
        optim.LBFGS([w]).step()
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        optim.LBFGS([{"params": [w]}, {"params": [ember.zeros(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="only 'strong_wolfe' is supported"):
        optim.LBFGS([w], line_search_fn="armijo")


def test_lbfgs_stops_at_a_minimum() -> None:
    """A zero gradient returns after the first evaluation, leaving the parameters."""
    w = ember.zeros(2, requires_grad=True)
    opt = optim.LBFGS([w])
    calls = []

    def closure() -> Any:
        calls.append(1)
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 0.0 and len(calls) == 1
    np.testing.assert_array_equal(w.detach().numpy(), [0.0, 0.0])


# -- errors ---------------------------------------------------------------------------------
W = ember.zeros(2, requires_grad=True)
TW = torch.zeros(2, requires_grad=True)
ERRORS = [
    ("Adadelta", dict(rho=1.1), "Invalid rho value: 1.1"),
    ("Adadelta", dict(eps=-1e-6), "Invalid epsilon value: -1e-06"),
    ("Adadelta", dict(lr=-1.0), "Invalid learning rate: -1.0"),
    ("Adamax", dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    ("Adamax", dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    ("NAdam", dict(momentum_decay=-1.0), "Invalid momentum_decay value: -1.0"),
    ("NAdam", dict(betas=(-0.1, 0.9)), "Invalid beta parameter at index 0: -0.1"),
    ("RAdam", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    ("RAdam", dict(weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    ("ASGD", dict(lr=-0.5), "Invalid learning rate: -0.5"),
    ("ASGD", dict(weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    ("Rprop", dict(etas=(1.5, 1.2)), "Invalid eta values: 1.5, 1.2"),
    ("Rprop", dict(etas=(0.5, 0.9)), "Invalid eta values: 0.5, 0.9"),
    ("LBFGS", dict(lr=-1.0), "Invalid learning rate: -1.0"),
    ("Adafactor", dict(lr=-1.0), "Learning rate should be >= 0 but is: -1.0"),
    ("Adafactor", dict(beta2_decay=0.5), "beta2_decay should be <= 0 but is: 0.5"),
    ("Adafactor", dict(eps=(-1.0, 1e-3)), "epsilon1 should be >= 0 but is: -1.0"),
    ("Adafactor", dict(eps=(None, -0.1)), "epsilon2 should be >= 0 but is: -0.1"),
    ("Adafactor", dict(d=0.5), "Clipping threshold d should be >= 1 but is: 0.5"),
    ("Adafactor", dict(weight_decay=-0.1), "weight_decay should be >= 0 but is: -0.1"),
]


@pytest.mark.parametrize("name, kwargs, match", ERRORS, ids=[f"{e[0]}-{e[2]}" for e in ERRORS])
def test_bad_hyperparameters_raise_like_torch(name: str, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        getattr(torch.optim, name)([TW], **kwargs)
    with pytest.raises(ValueError, match=f"{name}: {match}"):
        getattr(optim, name)([W], **kwargs)
    with pytest.raises(ValueError, match=match):  # a group's own value is checked too
        getattr(optim, name)([{"params": [W], **kwargs}])


@pytest.mark.parametrize("name", sorted({o[0] for o in OPTIONS}))
def test_differentiable_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name}: differentiable=True is not supported"):
        getattr(optim, name)([W], differentiable=True)


# -- Adafactor --------------------------------------------------------------------------------
# a matrix and a 3-D parameter (factored over their last two dimensions), a vector skipped
# every third step and a scalar (both with the full second moment)
ADAFACTOR_SHAPES = [(3, 4), (5,), (2, 3, 4), ()]
ADAFACTOR_OPTIONS: list[tuple[str, dict, tuple | None]] = [
    ("Adafactor", dict(), None),
    ("Adafactor", dict(lr=0.5), None),  # the relative step 1 / sqrt(t) is below lr from t = 5
    ("Adafactor", dict(lr=0.05, beta2_decay=-0.5, weight_decay=0.1), None),
    ("Adafactor", dict(eps=(0.3, 1.5)), None),  # both epsilons bind
    ("Adafactor", dict(d=2.0, maximize=True), (0.3,)),  # no clipping, per-group lr
    ("Adafactor", dict(eps=(1e-6, 1e-3), weight_decay=0.2, foreach=True), (0.02,)),
]
ADAFACTOR_IDS = [base._id(o) for o in ADAFACTOR_OPTIONS]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("option", ADAFACTOR_OPTIONS, ids=ADAFACTOR_IDS)
def test_adafactor_matches_torch(option: tuple, dtype: str) -> None:
    """20 steps: parameters every step and the final state (``row_var`` and ``col_var`` of the
    factored parameters, ``variance`` of the others, ``step``)."""
    our_state = assert_matches_torch(option, dtype, ADAFACTOR_SHAPES)
    assert our_state[2]["row_var"].shape == (2, 3, 1)
    assert our_state[2]["col_var"].shape == (2, 1, 4)


def test_adafactor_clips_and_scales() -> None:
    """One step whose factored estimate is far from the gradient: the update is scaled to an
    RMS of d and applied with alpha = max(eps2, RMS(p)) * min(lr, 1 / sqrt(1))."""
    p = ember.tensor(np.ones((2, 2)), requires_grad=True)
    opt = optim.Adafactor([p], lr=0.5, d=1.0)
    p.grad = ember.tensor([[1.0, 0.0], [0.0, 1e-3]], dtype=ember.float64)
    opt.step()  # a factored estimate far from the gradient: RMS(update) > 1, clipped to 1
    # alpha = max(1e-3, RMS(p) = 1) * min(0.5, 1) = 0.5; the clipped update has RMS 1
    change = 1 - p.detach().numpy()
    assert np.sqrt((change**2).mean()) == pytest.approx(0.5, rel=1e-12)


@pytest.mark.parametrize("option", ADAFACTOR_OPTIONS[1::2], ids=ADAFACTOR_IDS[1::2])
def test_adafactor_state_dict_round_trip(option: tuple) -> None:
    base.test_state_dict_round_trip(option)


def test_adafactor_loads_torch_state() -> None:
    """A state_dict saved by torch's Adafactor (as numpy) resumes the same run in ember."""
    name, kwargs, _ = ADAFACTOR_OPTIONS[2]
    grads = base._grad_sequence()
    runs = {}
    for lib, mod in (("torch", torch), ("ember", ember)):
        params = [mod.tensor(a, requires_grad=True) for a in base._init()]
        runs[lib] = params, getattr(mod.optim, name)(params, **kwargs)
    params, opt = runs["torch"]
    for step_grads in grads[:10]:
        for p, g in zip(params, step_grads):
            p.grad = None if g is None else torch.tensor(g)
        opt.step()
    saved = opt.state_dict()
    ours, fresh = runs["ember"]
    for q, p in zip(ours, params):
        q.detach().copy_(ember.tensor(p.detach().numpy()))
    fresh.load_state_dict(
        {
            "state": {
                i: {k: ember.tensor(v.numpy()) for k, v in s.items()}
                for i, s in saved["state"].items()
            },
            "param_groups": saved["param_groups"],
        }
    )
    assert fresh.state[ours[0]]["step"].dtype == ember.float32
    for lib, mod in (("torch", torch), ("ember", ember)):
        for step_grads in grads[10:]:
            for p, g in zip(runs[lib][0], step_grads):
                p.grad = None if g is None else mod.tensor(g)
            runs[lib][1].step()
    for q, p in zip(ours, params):
        np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=1e-12, atol=1e-13)


def test_adafactor_bad_lr_tensor_and_flags() -> None:
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        torch.optim.Adafactor([TW], lr=torch.tensor([0.1, 0.2]))
    with pytest.raises(ValueError, match="Adafactor: Tensor lr must be 1-element"):
        optim.Adafactor([W], lr=ember.tensor([0.1, 0.2]))
    for kwarg in ("capturable", "differentiable", "amsgrad"):  # not Adafactor's (nor torch's)
        with pytest.raises(TypeError):
            torch.optim.Adafactor([TW], **{kwarg: True})
        with pytest.raises(TypeError):
            optim.Adafactor([W], **{kwarg: True})
