"""nn.init statistics and the default initialisations of the layers (bounds equal torch's)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import ember
from ember import nn
from ember.nn import init


def big(*shape: int) -> ember.Tensor:
    return ember.zeros(*shape, dtype=ember.float64)


def stats(t: ember.Tensor) -> tuple[float, float]:
    a = t.numpy()
    return float(a.mean()), float(a.std())


def test_calculate_gain_matches_torch() -> None:
    for name in ("linear", "conv2d", "sigmoid", "tanh", "relu", "selu", "leaky_relu"):
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.2)
    )
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")


def test_fan_in_and_fan_out() -> None:
    w = ember.zeros(8, 3, 5, 5)
    assert init._calculate_fan_in_and_fan_out(w) == (75, 200)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(ember.zeros(3))


def test_uniform_normal_constant_eye() -> None:
    w = init.uniform_(big(200, 300), -2.0, 4.0)
    a = w.numpy()
    assert a.min() >= -2.0 and a.max() < 4.0
    assert stats(w)[0] == pytest.approx(1.0, abs=0.02)
    assert stats(w)[1] == pytest.approx(6 / math.sqrt(12), rel=0.01)
    assert stats(init.normal_(big(200, 300), 1.5, 0.5)) == pytest.approx((1.5, 0.5), abs=0.01)
    assert (init.constant_(big(2, 3), 0.7).numpy() == 0.7).all()
    assert (init.ones_(big(2)).numpy() == 1).all() and not init.zeros_(ember.ones(2)).numpy().any()
    np.testing.assert_array_equal(init.eye_(big(2, 3)).numpy(), np.eye(2, 3))
    with pytest.raises(ValueError, match="only tensors with 2 dimensions"):
        init.eye_(big(2, 2, 2))


def test_xavier_and_kaiming_statistics() -> None:
    shape = (300, 200)
    fan_in, fan_out = 200, 300
    a = init.xavier_uniform_(big(*shape), gain=2.0).numpy()
    bound = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.99 * bound
    assert stats(init.xavier_normal_(big(*shape)))[1] == pytest.approx(
        math.sqrt(2 / (fan_in + fan_out)), rel=0.02
    )
    k = init.kaiming_uniform_(big(*shape), nonlinearity="relu").numpy()
    assert np.abs(k).max() <= math.sqrt(6 / fan_in) and np.abs(k).max() > 0.99 * math.sqrt(
        6 / fan_in
    )
    kn = init.kaiming_normal_(big(*shape), mode="fan_out", nonlinearity="relu")
    assert stats(kn)[1] == pytest.approx(math.sqrt(2 / fan_out), rel=0.02)
    with pytest.raises(ValueError, match="mode 'fan_avg' not supported"):
        init.kaiming_uniform_(big(3, 3), mode="fan_avg")


def test_orthogonal_and_trunc_normal() -> None:
    for shape in ((6, 4), (4, 6), (3, 2, 2)):
        w = init.orthogonal_(big(*shape), gain=1.5).numpy().reshape(shape[0], -1)
        gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
        np.testing.assert_allclose(gram, 2.25 * np.eye(gram.shape[0]), atol=1e-10)
    t = init.trunc_normal_(big(300, 300), mean=0.5, std=1.0, a=-1.0, b=2.0).numpy()
    assert t.min() >= -1.0 and t.max() <= 2.0
    ref = torch.nn.init.trunc_normal_(
        torch.zeros(300, 300, dtype=torch.float64), 0.5, 1.0, -1.0, 2.0
    )
    assert t.mean() == pytest.approx(ref.mean().item(), abs=0.01)
    assert t.std() == pytest.approx(ref.std().item(), abs=0.01)


def test_generator_argument_and_seed_reproducibility() -> None:
    g = ember.Generator().manual_seed(5)
    a = init.normal_(big(10), generator=g).numpy().copy()
    g.manual_seed(5)
    np.testing.assert_array_equal(init.normal_(big(10), generator=g).numpy(), a)
    ember.manual_seed(1)
    l1 = nn.Linear(4, 3)
    ember.manual_seed(1)
    l2 = nn.Linear(4, 3)
    np.testing.assert_array_equal(l1.weight.detach().numpy(), l2.weight.detach().numpy())


def test_init_is_in_place_without_autograd() -> None:
    p = nn.Parameter(ember.zeros(3, 3))
    before = p._version
    assert init.normal_(p) is p and p.is_leaf and p.node is None and p._version > before


def _max_abs(t: ember.Tensor) -> float:
    return float(np.abs(t.detach().numpy()).max())


@pytest.mark.parametrize(
    "factory",
    [
        lambda n: n.Linear(50, 40),
        lambda n: n.Conv2d(6, 30, 3, groups=2),
        lambda n: n.Conv1d(4, 20, 5),
        lambda n: n.ConvTranspose2d(6, 30, 3, groups=3),
        lambda n: n.Bilinear(20, 30, 40),
    ],
)
def test_default_uniform_bounds_equal_torchs(factory: object) -> None:
    """Weights and biases lie in torch's ±1/sqrt(fan_in) and the weights fill that range."""
    em, tm = factory(nn), factory(torch.nn)
    weight = em.weight
    fan_in = (
        weight.shape[1]
        if isinstance(em, nn.Bilinear)
        else (init._calculate_fan_in_and_fan_out(weight)[0])
    )
    bound = 1 / math.sqrt(fan_in)
    for name in ("weight", "bias"):
        ours, theirs = em.get_parameter(name), tm.get_parameter(name)
        assert ours.shape == tuple(theirs.shape)
        assert _max_abs(ours) <= bound and theirs.detach().abs().max().item() <= bound
    assert _max_abs(weight) > 0.95 * bound


def test_default_init_of_other_layers_matches_torch() -> None:
    for factory in (
        lambda n: n.BatchNorm2d(4),
        lambda n: n.LayerNorm(4),
        lambda n: n.GroupNorm(2, 4),
        lambda n: n.PReLU(3),
    ):
        em, tm = factory(nn), factory(torch.nn)
        for (name, ours), (_, theirs) in zip(em.state_dict().items(), tm.state_dict().items()):
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy(), err_msg=name)
    emb = nn.Embedding(400, 50, padding_idx=3)
    w = emb.weight.detach().numpy()
    assert not w[3].any() and abs(w.std() - 1.0) < 0.02 and abs(w.mean()) < 0.02
