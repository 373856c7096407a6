"""Module forms of the newer nn.functional ops vs torch: forward and input gradients."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

import ember

R = np.random.default_rng(1)
PM = R.choice([-1.0, 1.0], size=6)


def _pair(make: Callable) -> tuple:
    return make(ember.nn), make(torch.nn)


CASES = [
    ("Tanhshrink", lambda nn: nn.Tanhshrink(), [(3, 4)], {}),
    ("Hardshrink", lambda nn: nn.Hardshrink(0.8), [(3, 4)], {}),
    ("Softshrink", lambda nn: nn.Softshrink(), [(3, 4)], {}),
    ("RReLU", lambda nn: nn.RReLU(0.1, 0.4).eval(), [(3, 4)], {}),
    ("Softmax2d", lambda nn: nn.Softmax2d(), [(2, 3, 2, 2)], {}),
    ("MarginRankingLoss", lambda nn: nn.MarginRankingLoss(0.3), [(6,), (6,)], {"target": PM}),
    ("HingeEmbeddingLoss", lambda nn: nn.HingeEmbeddingLoss(), [(6,)], {"target": PM}),
    (
        "CosineEmbeddingLoss",
        lambda nn: nn.CosineEmbeddingLoss(0.1, reduction="sum"),
        [(6, 3), (6, 3)],
        {"target": PM},
    ),
    ("SoftMarginLoss", lambda nn: nn.SoftMarginLoss(), [(6,)], {"target": PM}),
    (
        "MultiLabelSoftMarginLoss",
        lambda nn: nn.MultiLabelSoftMarginLoss(),
        [(2, 3)],
        {"target": np.array([[1.0, 0, 1], [0, 0, 1]])},
    ),
    (
        "MultiLabelMarginLoss",
        lambda nn: nn.MultiLabelMarginLoss(),
        [(2, 3)],
        {"target": np.array([[2, -1, 0], [0, 1, -1]])},
    ),
    (
        "MultiMarginLoss",
        lambda nn: nn.MultiMarginLoss(p=2, margin=0.5),
        [(3, 4)],
        {"target": np.array([0, 3, 1])},
    ),
    ("TripletMarginLoss", lambda nn: nn.TripletMarginLoss(swap=True), [(4, 3)] * 3, {}),
    (
        "TripletMarginWithDistanceLoss",
        lambda nn: nn.TripletMarginWithDistanceLoss(margin=2.0),
        [(4, 3)] * 3,
        {},
    ),
    (
        "PoissonNLLLoss",
        lambda nn: nn.PoissonNLLLoss(full=True),
        [(3, 2)],
        {"target": np.array([[0.0, 3], [2, 5], [1, 0]])},
    ),
    (
        "GaussianNLLLoss",
        lambda nn: nn.GaussianNLLLoss(),
        [(3, 2), (3, 2)],
        {"var": np.full((3, 1), 0.7)},
    ),
]


@pytest.mark.parametrize("name, make, shapes, extra", CASES, ids=[c[0] for c in CASES])
def test_module_matches_torch(name: str, make: Callable, shapes: list, extra: dict) -> None:
    ours, theirs = _pair(make)
    arrays = [R.uniform(-2, 2, s) for s in shapes]
    e_in = [ember.tensor(a, requires_grad=True) for a in arrays]
    t_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    e_extra = [ember.tensor(v) for v in extra.values()]
    t_extra = [torch.tensor(v) for v in extra.values()]
    e_out, t_out = ours(*e_in, *e_extra), theirs(*t_in, *t_extra)
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-10)
    e_out.sum().backward()
    t_out.sum().backward()
    for e, t in zip(e_in, t_in):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-9, atol=1e-12)
    assert repr(ours).split("(")[0] == name


def test_module_option_errors() -> None:
    with pytest.raises(ValueError, match="only p == 1 and p == 2"):
        ember.nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        ember.nn.TripletMarginLoss(margin=0.0)
    with pytest.raises(ValueError, match="3-D or 4-D"):
        ember.nn.Softmax2d()(ember.ones(2, 2))
