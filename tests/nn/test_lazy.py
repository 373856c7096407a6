"""Lazy layers vs torch: the first call infers the input size and turns the module into the
full layer (same class, repr and state_dict names as torch's), which then matches torch's
forward and gradients from the same weights."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

import ember
from tests.nn.helpers import compare_module

R = np.random.default_rng(11)

CASES = [
    ("LazyLinear", lambda nn: nn.LazyLinear(3), (4, 2, 5)),
    ("LazyLinear-nobias", lambda nn: nn.LazyLinear(2, bias=False), (3, 4)),
    ("LazyConv1d", lambda nn: nn.LazyConv1d(4, 3, padding=1), (2, 3, 6)),
    ("LazyConv2d", lambda nn: nn.LazyConv2d(2, (2, 3), stride=2, groups=2), (2, 4, 5, 5)),
    (
        "LazyConv2d-unbatched",
        lambda nn: nn.LazyConv2d(2, 2, padding_mode="reflect", padding=1),
        (3, 4, 4),
    ),
    ("LazyConv3d", lambda nn: nn.LazyConv3d(2, 2), (1, 3, 3, 4, 3)),
    (
        "LazyConvTranspose1d",
        lambda nn: nn.LazyConvTranspose1d(3, 2, stride=2, output_padding=1),
        (2, 4, 5),
    ),
    ("LazyConvTranspose2d", lambda nn: nn.LazyConvTranspose2d(2, 3, dilation=2), (1, 3, 3, 3)),
    ("LazyConvTranspose3d", lambda nn: nn.LazyConvTranspose3d(2, 2, bias=False), (2, 2, 3, 2)),
    ("LazyBatchNorm1d", lambda nn: nn.LazyBatchNorm1d(), (6, 4)),
    ("LazyBatchNorm2d", lambda nn: nn.LazyBatchNorm2d(momentum=0.3), (3, 2, 3, 3)),
    ("LazyBatchNorm3d", lambda nn: nn.LazyBatchNorm3d(affine=False), (2, 3, 2, 2, 3)),
    ("LazyInstanceNorm1d", lambda nn: nn.LazyInstanceNorm1d(track_running_stats=False), (2, 3, 5)),
    ("LazyInstanceNorm2d", lambda nn: nn.LazyInstanceNorm2d(bias=False), (2, 3, 4, 4)),
    ("LazyInstanceNorm3d", lambda nn: nn.LazyInstanceNorm3d(eps=1e-3), (2, 2, 3, 2, 3)),
]


def _built(make: Callable, lib: object, x: np.ndarray) -> object:
    """The lazy module of ``lib`` after a first call on ``x``."""
    module = make(lib.nn)
    assert module.has_uninitialized_params()
    module(lib.tensor(x, dtype=lib.float32))
    return module


@pytest.mark.parametrize("make, shape", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_lazy_module_materialises_like_torch(make: Callable, shape: tuple) -> None:
    x = R.uniform(-2, 2, shape)
    ours, theirs = compare_module(
        lambda: _built(make, ember, x), lambda: _built(make, torch, x), [x], "float64"
    )
    assert type(ours).__name__ == type(theirs).__name__
    assert repr(ours) == repr(theirs)
    assert not hasattr(ours, "has_uninitialized_params")


def test_lazy_keeps_hooks_and_mode_and_initialises_with_the_inferred_fan_in() -> None:
    seen = []
    lazy = ember.nn.LazyLinear(4).eval()
    lazy.register_forward_hook(lambda m, args, out: seen.append(tuple(out.shape)))
    lazy(ember.ones(2, 100))
    assert seen == [(2, 4)] and not lazy.training
    assert isinstance(lazy, ember.nn.Linear) and lazy.in_features == 100
    assert float(lazy.weight.abs().max()) <= 0.1  # U(-1/sqrt(100), 1/sqrt(100))
    assert [n for n, _ in lazy.named_parameters()] == ["weight", "bias"]
    with pytest.raises(TypeError, match="must be a Tensor"):
        ember.nn.LazyConv1d(2, 2)(None)
