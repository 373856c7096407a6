"""Muon vs PyTorch: trajectories and momentum buffers step by step, its lr adjustments,
argument errors, a state_dict round trip, and jit == eager."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember import optim
from ember.optim.muon import orthogonalize
from tests.optim import test_optimizers as base
from tests.optim.test_more_optimizers import assert_matches_torch

torch = pytest.importorskip("torch")

# a wide, a tall (skipped every third step) and a square matrix
SHAPES = [(3, 5), (6, 2), (4, 4)]
OPTIONS: list[tuple[str, dict, tuple | None]] = [
    ("Muon", dict(), None),
    ("Muon", dict(lr=0.02, momentum=0.9, nesterov=False, weight_decay=0.0), None),
    ("Muon", dict(lr=0.01, adjust_lr_fn="match_rms_adamw", ns_steps=3), None),
    ("Muon", dict(lr=0.05, adjust_lr_fn="original", eps=1e-3), (0.01,)),
    ("Muon", dict(ns_coefficients=(2.0, -1.5, 0.5)), None),
]
IDS = [base._id(o) for o in OPTIONS]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("option", OPTIONS, ids=IDS)
def test_trajectory_and_state_match_torch(option: tuple, dtype: str) -> None:
    """20 steps: the parameters after each and the final momentum buffers. Both
    orthogonalise in bfloat16 with the same roundings, so the updates agree exactly."""
    assert_matches_torch(option, dtype, SHAPES)


@pytest.mark.parametrize("shape", [(3, 5), (6, 2)])
def test_orthogonalize_matches_torch_and_flattens_the_spectrum(shape: tuple) -> None:
    g = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    ours = orthogonalize(ember.tensor(g), (3.4445, -4.7750, 2.0315), 5, 1e-7)
    from torch.optim._muon import _zeropower_via_newtonschulz

    ref = _zeropower_via_newtonschulz(torch.tensor(g), (3.4445, -4.7750, 2.0315), 5, 1e-7)
    assert ours.dtype is ember.bfloat16 and tuple(ours.shape) == shape
    # the same roundings: at most an entry rounded the other way after a float32 sum
    np.testing.assert_allclose(ours.float().numpy(), ref.float().numpy(), atol=0.01)
    singular = np.linalg.svd(ours.float().numpy(), compute_uv=False)
    assert ((singular > 0.5) & (singular < 1.5)).all()  # US'Vᵀ with S' near the identity


ERRORS = [
    (dict(lr=-1.0), "Learning rate should be >= 0 but is: -1.0"),
    (dict(momentum=-0.1), "momentum should be >= 0 but is: -0.1"),
    (dict(weight_decay=-0.1), "weight decay should be >= 0 but is: -0.1"),
    (dict(adjust_lr_fn="cosine"), "Adjust learning rate function cosine is not supported"),
]


@pytest.mark.parametrize("kwargs,message", ERRORS, ids=[m for _, m in ERRORS])
def test_argument_errors_match_torch(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        torch.optim.Muon([torch.zeros(2, 3, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError, match=message):
        optim.Muon([ember.zeros(2, 3, requires_grad=True)], **kwargs)


def test_only_matrices() -> None:
    message = "Muon only supports 2D parameters whereas we found a parameter with size"
    with pytest.raises(ValueError, match=message):
        torch.optim.Muon([torch.zeros(3, requires_grad=True)])
    with pytest.raises(ValueError, match=message):
        optim.Muon([ember.zeros(3, requires_grad=True)])


@pytest.mark.parametrize("kwargs,message", [
    (dict(ns_steps=100), "Number of steps must be less than 100"),
    (dict(ns_coefficients=(1.0, 2.0)), "Coefficients must be a tuple of exactly 3 values"),
])  # fmt: skip
def test_newton_schulz_arguments(kwargs: dict, message: str) -> None:
    """torch checks these in the first step; ember when the group is made."""
    p = torch.zeros(2, 3, requires_grad=True)
    p.grad = torch.ones(2, 3)
    with pytest.raises(ValueError, match=message):
        torch.optim.Muon([p], **kwargs).step()
    with pytest.raises(ValueError, match=message):
        optim.Muon([ember.zeros(2, 3, requires_grad=True)], **kwargs)


def test_defaults_match_torch() -> None:
    ours = optim.Muon([ember.zeros(2, 3, requires_grad=True)]).defaults
    ref = torch.optim.Muon([torch.zeros(2, 3, requires_grad=True)]).defaults
    assert ours == ref


@pytest.mark.parametrize("option", OPTIONS[::2], ids=IDS[::2])
def test_state_dict_round_trip(option: tuple) -> None:
    name, kwargs, _ = option
    p = ember.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    opt = optim.Muon([p], **kwargs)
    p.grad = ember.ones(3, 4, dtype=ember.float64)
    opt.step()
    clone = ember.tensor(p.detach().numpy().copy(), requires_grad=True)
    resumed = optim.Muon([clone], **kwargs)
    resumed.load_state_dict(opt.state_dict())
    for q, o in ((p, opt), (clone, resumed)):
        q.grad = ember.full((3, 4), 0.5, dtype=ember.float64)
        o.step()
    np.testing.assert_array_equal(p.detach().numpy(), clone.detach().numpy())


def _train(compiled: bool, steps: int = 10) -> tuple:
    """Losses, the weight and its momentum buffer after ``steps`` Muon steps of a linear
    classifier, the step compiled by ``ember.jit`` or eager; and the step function."""
    ember.manual_seed(1)
    weight = ember.nn.Parameter(ember.randn(4, 6) * 0.3)
    x, y = ember.randn(8, 6), ember.tensor([0, 1, 2, 3, 0, 1, 2, 3])
    opt = optim.Muon([weight], lr=0.02)
    schedule = optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)

    def step() -> ember.Tensor:
        opt.zero_grad()
        loss = ember.nn.functional.cross_entropy(x @ weight.T, y)
        loss.backward()
        opt.step()
        return loss

    run = ember.jit(step) if compiled else step
    losses = []
    for _ in range(steps):
        losses.append(run().item())
        schedule.step()
    return losses, weight.detach().numpy(), opt.state[weight]["momentum_buffer"].numpy(), run


def test_jitted_step_equals_eager() -> None:
    """Ten compiled steps (lr from a scheduler) equal ten eager ones, from one graph."""
    *compiled, run = _train(compiled=True)
    *eager, _ = _train(compiled=False)
    assert run.traces == 1
    for got, expected in zip(compiled, eager):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
