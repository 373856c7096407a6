"""nn.functional vs torch where the op database does not fit: in-place forms and random ops.

Random ops draw from different generators, so they are compared through what does not depend
on the draw: eval-mode identity, the set of values an output can take, and moments.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import ember
import ember.nn.functional as F

R = np.random.default_rng(0)

INPLACE = [
    ("relu_", ()),
    ("elu_", (0.7,)),
    ("celu_", (1.5,)),
    ("selu_", ()),
    ("leaky_relu_", (0.2,)),
    ("hardtanh_", (-0.5, 0.8)),
    ("threshold_", (0.3, -2.0)),
    ("rrelu_", (0.1, 0.3)),
]


@pytest.mark.parametrize("name, args", INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace_forms_write_into_the_input_like_torch(name: str, args: tuple) -> None:
    x = R.uniform(-2, 2, (3, 4))
    cot = R.standard_normal((3, 4))
    e_leaf = ember.tensor(x, requires_grad=True)
    t_leaf = torch.tensor(x, requires_grad=True)
    e_mid, t_mid = e_leaf * 1.0, t_leaf * 1.0
    e_out = getattr(F, name)(e_mid, *args)
    t_out = getattr(TF, name)(t_mid, *args)
    assert e_out is e_mid
    np.testing.assert_allclose(e_mid.detach().numpy(), t_mid.detach().numpy(), rtol=1e-12)
    (e_out * ember.tensor(cot)).sum().backward()
    (t_out * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(e_leaf.grad.numpy(), t_leaf.grad.numpy(), rtol=1e-12)


DROPOUTS = [
    ("dropout", (40, 50)),
    ("dropout1d", (40, 50, 3)),
    ("dropout2d", (40, 50, 2, 2)),
    ("dropout3d", (40, 50, 2, 1, 2)),
    ("alpha_dropout", (40, 50)),
    ("feature_alpha_dropout", (40, 50, 3)),
]


def _mask_dims(y: np.ndarray) -> list[int]:
    """The dims along which the dropout pattern never changes."""
    dropped = y == y.min()
    return [d for d in range(y.ndim) if (dropped == dropped.take([0], axis=d)).all()]


@pytest.mark.parametrize("name, shape", DROPOUTS, ids=[n for n, _ in DROPOUTS])
def test_dropout_family_matches_torch_in_distribution(name: str, shape: tuple) -> None:
    x = R.standard_normal(shape)
    e_fn, t_fn = getattr(F, name), getattr(TF, name)
    e_x, t_x = ember.tensor(x), torch.tensor(x)
    assert e_fn(e_x, 0.4, training=False) is e_x
    assert t_fn(t_x, 0.4, training=False) is t_x
    ones_e, ones_t = ember.ones(*shape, dtype=ember.float64), torch.ones(shape, dtype=torch.float64)
    ours, theirs = (
        e_fn(ones_e, 0.4, training=True).numpy(),
        t_fn(ones_t, 0.4, training=True).numpy(),
    )
    np.testing.assert_allclose(np.unique(ours), np.unique(theirs.round(12)), rtol=1e-12)
    assert _mask_dims(ours) == _mask_dims(theirs)
    assert abs((ours == ours.min()).mean() - 0.4) < 0.05
    if "alpha" in name:  # self-normalising: a standard-normal input keeps mean 0 and variance 1
        y = e_fn(e_x, 0.4, training=True).numpy()
        assert abs(y.mean()) < 0.1 and abs(y.var() - 1) < 0.1
    with pytest.raises(ValueError, match="between 0 and 1"):
        e_fn(e_x, 1.5, training=True)


def test_rrelu_training_draws_slopes_within_bounds_like_torch() -> None:
    x = -np.ones((50, 40))
    ours = F.rrelu(ember.tensor(x), 0.1, 0.3, training=True).numpy()
    theirs = TF.rrelu(torch.tensor(x), 0.1, 0.3, training=True).numpy()
    for slopes in (-ours, -theirs):
        assert 0.1 <= slopes.min() and slopes.max() <= 0.3 and abs(slopes.mean() - 0.2) < 0.01
    leaf = ember.tensor(x, requires_grad=True)
    out = F.rrelu(leaf, training=True)
    out.sum().backward()
    np.testing.assert_allclose(leaf.grad.numpy(), out.detach().numpy() / x)
    with pytest.raises(ValueError, match="lower <= upper"):
        F.rrelu(leaf, 0.5, 0.1)


@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_softmax_samples_like_torch(hard: bool) -> None:
    logits = np.log(np.array([0.1, 0.6, 0.3]))
    n = 4000
    ours = F.gumbel_softmax(ember.tensor(np.tile(logits, (n, 1))), tau=0.5, hard=hard).numpy()
    theirs = TF.gumbel_softmax(torch.tensor(np.tile(logits, (n, 1))), tau=0.5, hard=hard).numpy()
    np.testing.assert_allclose(ours.sum(1), 1.0, rtol=1e-12)
    if hard:
        assert set(np.unique(ours)) == set(np.unique(theirs)) == {0.0, 1.0}
        np.testing.assert_allclose(ours.mean(0), [0.1, 0.6, 0.3], atol=0.03)
    np.testing.assert_allclose(ours.mean(0), theirs.mean(0), atol=0.04)
    leaf = ember.tensor(logits, requires_grad=True)
    F.gumbel_softmax(leaf, hard=hard)[1].backward()
    assert np.isfinite(leaf.grad.numpy()).all() and abs(leaf.grad.numpy().sum()) < 1e-12


@pytest.mark.parametrize("shape, dim", [((0,), 0), ((2, 0), 1), ((0, 3), 0), ((2, 0), 0)])
def test_softmax_over_an_empty_or_any_dim_of_an_empty_tensor_is_empty_like_torch(
    shape: tuple, dim: int
) -> None:
    x = np.zeros(shape, np.float32)
    for ours, theirs in ((F.softmax, TF.softmax), (F.log_softmax, TF.log_softmax)):
        t = ember.tensor(x, requires_grad=True)
        got = ours(t, dim=dim)
        want = theirs(torch.tensor(x), dim=dim)
        assert tuple(got.shape) == tuple(want.shape) and got.dtype == ember.float32
        got.sum().backward()
        assert tuple(t.grad.shape) == shape
