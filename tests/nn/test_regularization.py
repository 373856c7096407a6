"""GaussianNoise, ActivityRegularizer, max_norm_/MaxNorm and the vector utilities."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from ember import nn
from ember.nn import utils


def test_gaussian_noise_train_and_eval() -> None:
    layer = nn.GaussianNoise(0.5)
    x = ember.zeros(300, 300)
    noise = layer(x).numpy()
    assert abs(noise.mean()) < 0.01 and noise.std() == pytest.approx(0.5, rel=0.02)
    assert layer.eval()(x) is x
    ember.manual_seed(2)
    a = nn.GaussianNoise(1.0)(x).numpy()
    ember.manual_seed(2)
    np.testing.assert_array_equal(nn.GaussianNoise(1.0)(x).numpy(), a)
    leaf = ember.ones(4, requires_grad=True)
    nn.GaussianNoise(0.1)(leaf).sum().backward()
    assert leaf.grad.tolist() == [1.0] * 4
    assert repr(layer) == "GaussianNoise(std=0.5)"
    with pytest.raises(ValueError, match="std must be non-negative, got -1"):
        nn.GaussianNoise(-1)


def test_activity_regularizer_penalty_and_gradient() -> None:
    lin = nn.Linear(3, 2).double()
    reg = nn.ActivityRegularizer(lin, l1=0.1, l2=0.01)
    data = np.random.default_rng(0).standard_normal((4, 3))
    out = lin(ember.tensor(data))
    y = out.detach().numpy()
    expected = (0.1 * np.abs(y).sum() + 0.01 * (y**2).sum()) / 4
    assert reg.penalty().item() == pytest.approx(expected, rel=1e-12)
    reg.penalty().backward()
    # the same gradient from torch autograd on the same computation
    tw = torch.tensor(lin.weight.detach().numpy(), requires_grad=True)
    tb = torch.tensor(lin.bias.detach().numpy(), requires_grad=True)
    ty = torch.tensor(data) @ tw.T + tb
    ((0.1 * ty.abs().sum() + 0.01 * (ty**2).sum()) / 4).backward()
    np.testing.assert_allclose(lin.weight.grad.numpy(), tw.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(lin.bias.grad.numpy(), tb.grad.numpy(), rtol=1e-12)
    lin(ember.tensor(data))
    assert reg.penalty().item() == pytest.approx(2 * expected, rel=1e-12)  # accumulates
    reg.reset()
    assert reg.penalty().item() == 0.0
    lin.eval()
    lin(ember.tensor(data))
    assert reg.penalty().item() == 0.0  # only training-mode calls count
    lin.train()
    reg.remove()
    lin(ember.tensor(data))
    assert reg.penalty().item() == 0.0
    with pytest.raises(ValueError, match="must be non-negative"):
        nn.ActivityRegularizer(lin, l1=-1.0)
    with pytest.raises(TypeError, match="expected an ember.nn.Module"):
        nn.ActivityRegularizer(lambda t: t, l1=1.0)


def test_activity_regularizer_adds_to_training_loss() -> None:
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    reg = nn.ActivityRegularizer(net[1], l2=0.5)
    x = ember.randn(8, 3)
    base = net(x).pow(2).mean()
    loss = base + reg.penalty()
    loss.backward()
    grad_with = net[0].weight.grad.numpy().copy()
    net.zero_grad()
    reg.reset()
    net(x).pow(2).mean().backward()
    assert not np.allclose(grad_with, net[0].weight.grad.numpy())


def test_max_norm_matches_torch_renorm() -> None:
    w = np.random.default_rng(0).standard_normal((5, 4)) * 2
    for dim in (0, 1):
        ours = utils.max_norm_(ember.tensor(w), 1.5, dim=dim).numpy()
        ref = torch.renorm(torch.tensor(w), 2, dim, 1.5).numpy()
        np.testing.assert_allclose(ours, ref, rtol=1e-6)
    p = nn.Parameter(ember.tensor(w))
    assert utils.max_norm_(p, 1.0) is p and p.is_leaf
    with pytest.raises(ValueError, match="max_norm must be positive"):
        utils.max_norm_(p, 0.0)


def test_max_norm_constraint_on_module() -> None:
    net = nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.Conv1d(8, 4, 3))
    with ember.no_grad():
        for p in net.parameters():
            p.mul_(10)
    constraint = utils.MaxNorm(net, max_value=2.0)
    assert len(constraint.params) == 2  # the Linear and Conv weights only
    bias_before = net[0].bias.detach().numpy().copy()
    ln_before = net[1].weight.detach().numpy().copy()
    constraint.apply()
    for w in (net[0].weight, net[2].weight):
        norms = np.sqrt((w.detach().numpy() ** 2).reshape(w.shape[0], -1).sum(1))
        assert norms.max() <= 2.0 + 1e-6
    np.testing.assert_array_equal(net[0].bias.detach().numpy(), bias_before)
    np.testing.assert_array_equal(net[1].weight.detach().numpy(), ln_before)
    explicit = utils.MaxNorm([net[0].bias], max_value=0.5, dim=0)
    explicit.apply()
    assert np.abs(net[0].bias.detach().numpy()).max() <= 0.5 + 1e-6


def test_parameters_to_vector_round_trip() -> None:
    lin = nn.Linear(3, 2)
    vec = utils.parameters_to_vector(lin.parameters())
    assert vec.shape == (8,)
    np.testing.assert_array_equal(vec.detach().numpy()[:6], lin.weight.detach().numpy().ravel())
    utils.vector_to_parameters(ember.arange(8).float(), lin.parameters())
    assert lin.bias.tolist() == [6.0, 7.0] and isinstance(lin.bias, nn.Parameter)
    with pytest.raises(ValueError, match="vec has 3 elements but the parameters hold 8"):
        utils.vector_to_parameters(ember.zeros(3), lin.parameters())
    assert utils.clip_grad_norm_ is not None and utils.clip_grad_value_ is not None
