"""Module forms of the 3-D, pooling, normalisation, distance, fold, padding and upsampling
functionals vs torch: forward, parameter and input gradients, state_dict names and repr."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

import ember
from tests.nn.helpers import compare_module

R = np.random.default_rng(7)


def _rand(*shape: int) -> np.ndarray:
    return R.uniform(-2, 2, shape)


def _positive(*shape: int) -> np.ndarray:
    return R.uniform(0.5, 2, shape)


def _distinct(*shape: int) -> np.ndarray:
    """No near-ties inside a window, so max pooling gradients are well defined."""
    return R.permutation(np.prod(shape)).reshape(shape) * 0.25 - 3.0


def _pooled(nd: int, shape: tuple) -> list[np.ndarray]:
    """(values, indices) of torch's 2-wide max pooling, the inputs of MaxUnpool."""
    pool = (torch.nn.functional.max_pool1d, torch.nn.functional.max_pool2d,
            torch.nn.functional.max_pool3d)[nd - 1]  # fmt: skip
    values, idx = pool(torch.from_numpy(_distinct(*shape)), 2, return_indices=True)
    return [values.numpy(), idx.numpy()]


CASES = [
    (
        "Conv3d",
        lambda nn: nn.Conv3d(2, 3, (2, 3, 2), stride=(1, 2, 1), padding=1),
        [_rand(2, 2, 4, 5, 4)],
    ),
    (
        "Conv3d-circular",
        lambda nn: nn.Conv3d(4, 2, 2, padding=1, groups=2, padding_mode="circular", bias=False),
        [_rand(1, 4, 3, 4, 3)],
    ),
    (
        "Conv3d-same",
        lambda nn: nn.Conv3d(2, 2, 3, padding="same", dilation=(1, 2, 1)),
        [_rand(2, 4, 5, 4)],
    ),
    (
        "ConvTranspose3d",
        lambda nn: nn.ConvTranspose3d(2, 3, 2, stride=2, output_padding=1),
        [_rand(1, 2, 2, 3, 2)],
    ),
    (
        "ConvTranspose3d-groups",
        lambda nn: nn.ConvTranspose3d(4, 2, (2, 1, 2), groups=2, dilation=2),
        [_rand(1, 4, 2, 2, 3)],
    ),
    (
        "MaxPool3d",
        lambda nn: nn.MaxPool3d(2, stride=1, padding=1, ceil_mode=True),
        [_distinct(1, 2, 4, 4, 3)],
    ),
    (
        "AvgPool3d",
        lambda nn: nn.AvgPool3d((2, 2, 3), padding=1, count_include_pad=False),
        [_rand(2, 2, 4, 5, 4)],
    ),
    ("AvgPool3d-divisor", lambda nn: nn.AvgPool3d(2, 1, divisor_override=3), [_rand(2, 3, 3, 4)]),
    ("AdaptiveAvgPool3d", lambda nn: nn.AdaptiveAvgPool3d((2, None, 3)), [_rand(2, 2, 5, 4, 4)]),
    ("AdaptiveMaxPool1d", lambda nn: nn.AdaptiveMaxPool1d(3), [_distinct(2, 3, 7)]),
    ("AdaptiveMaxPool2d", lambda nn: nn.AdaptiveMaxPool2d((2, None)), [_distinct(2, 2, 5, 4)]),
    ("AdaptiveMaxPool3d", lambda nn: nn.AdaptiveMaxPool3d(2), [_distinct(1, 2, 5, 4, 3)]),
    ("LPPool1d", lambda nn: nn.LPPool1d(2, 3), [_positive(2, 3, 7)]),
    (
        "LPPool2d",
        lambda nn: nn.LPPool2d(3, (2, 3), stride=1, ceil_mode=True),
        [_positive(2, 2, 5, 5)],
    ),
    ("LPPool3d", lambda nn: nn.LPPool3d(1.5, 2), [_positive(1, 2, 4, 4, 5)]),
    ("MaxUnpool1d", lambda nn: nn.MaxUnpool1d(2), _pooled(1, (2, 3, 8))),
    ("MaxUnpool2d", lambda nn: nn.MaxUnpool2d(2, stride=2), _pooled(2, (2, 2, 4, 6))),
    ("MaxUnpool3d", lambda nn: nn.MaxUnpool3d((2, 2, 2)), _pooled(3, (1, 2, 4, 4, 2))),
    ("InstanceNorm3d", lambda nn: nn.InstanceNorm3d(3, affine=True), [_rand(2, 3, 3, 4, 3)]),
    (
        "InstanceNorm3d-stats",
        lambda nn: nn.InstanceNorm3d(2, momentum=0.3, track_running_stats=True),
        [_rand(2, 3, 4, 3)],
    ),
    ("RMSNorm", lambda nn: nn.RMSNorm([3, 4]), [_rand(2, 3, 4)]),
    ("RMSNorm-eps", lambda nn: nn.RMSNorm(4, eps=1e-3, elementwise_affine=False), [_rand(3, 4)]),
    (
        "LocalResponseNorm",
        lambda nn: nn.LocalResponseNorm(3, alpha=0.1, beta=0.6, k=2.0),
        [_rand(2, 5, 3, 3)],
    ),
    ("ChannelShuffle", lambda nn: nn.ChannelShuffle(2), [_rand(2, 6, 3)]),
    ("Fold", lambda nn: nn.Fold((4, 5), 2, padding=1, stride=(1, 2)), [_rand(2, 12, 15)]),
    ("Unfold", lambda nn: nn.Unfold((2, 3), dilation=(2, 1), stride=2), [_rand(2, 3, 5, 6)]),
    ("CosineSimilarity", lambda nn: nn.CosineSimilarity(dim=0), [_rand(4, 3), _rand(4, 3)]),
    (
        "PairwiseDistance",
        lambda nn: nn.PairwiseDistance(p=1.0, keepdim=True),
        [_rand(4, 3), _rand(4, 3)],
    ),
    ("CircularPad1d", lambda nn: nn.CircularPad1d((1, 2)), [_rand(2, 3, 4)]),
    ("CircularPad2d", lambda nn: nn.CircularPad2d(1), [_rand(2, 3, 3)]),
    ("CircularPad3d", lambda nn: nn.CircularPad3d((1, 0, 0, 2, 1, 1)), [_rand(1, 2, 3, 3, 2)]),
    ("UpsamplingNearest2d", lambda nn: nn.UpsamplingNearest2d(scale_factor=2), [_rand(1, 2, 3, 2)]),
    ("UpsamplingBilinear2d", lambda nn: nn.UpsamplingBilinear2d(size=(5, 7)), [_rand(2, 2, 3, 4)]),
]


@pytest.mark.parametrize("make, inputs", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_module_matches_torch(make: Callable, inputs: list) -> None:
    ours, theirs = compare_module(lambda: make(ember.nn), lambda: make(torch.nn), inputs, "float64")
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conv3d_float32_and_float64(dtype: str) -> None:
    compare_module(
        lambda: ember.nn.Conv3d(3, 2, 3, stride=2), lambda: torch.nn.Conv3d(3, 2, 3, stride=2),
        [_rand(2, 3, 5, 5, 5)], dtype,
    )  # fmt: skip


INDEXED = [
    (
        "MaxPool3d",
        lambda nn: nn.MaxPool3d(2, stride=(1, 2, 2), return_indices=True),
        (2, 2, 5, 4, 4),
    ),
    ("AdaptiveMaxPool1d", lambda nn: nn.AdaptiveMaxPool1d(3, return_indices=True), (2, 3, 7)),
    ("AdaptiveMaxPool2d", lambda nn: nn.AdaptiveMaxPool2d(3, return_indices=True), (2, 5, 4)),
    (
        "AdaptiveMaxPool3d",
        lambda nn: nn.AdaptiveMaxPool3d((2, 3, 3), return_indices=True),
        (1, 2, 5, 4, 4),
    ),
]


@pytest.mark.parametrize("make, shape", [c[1:] for c in INDEXED], ids=[c[0] for c in INDEXED])
def test_pools_return_indices_like_torch(make: Callable, shape: tuple) -> None:
    x = _distinct(*shape)
    (ev, ei), (tv, ti) = make(ember.nn)(ember.tensor(x)), make(torch.nn)(torch.tensor(x))
    np.testing.assert_array_equal(ev.numpy(), tv.numpy())
    np.testing.assert_array_equal(ei.numpy(), ti.numpy())


def test_unpool_output_size_like_torch() -> None:
    values, idx = _pooled(2, (1, 1, 5, 5))
    e = ember.nn.MaxUnpool2d(2)(ember.tensor(values), ember.tensor(idx), output_size=(5, 5))
    t = torch.nn.MaxUnpool2d(2)(torch.tensor(values), torch.tensor(idx), output_size=(5, 5))
    np.testing.assert_array_equal(e.numpy(), t.numpy())


DROPOUTS = [
    ("Dropout1d", (40, 8, 5)),
    ("Dropout3d", (40, 8, 2, 3, 2)),
    ("AlphaDropout", (40, 50)),
    ("FeatureAlphaDropout", (40, 8, 3, 5)),
]


def _dropout_levels(module: Callable, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(dropped mask, kept map's (slope, intercept), dropped value) of one training draw: a
    dropped element takes one constant, a kept one an affine function of its input."""
    dropped_value = np.unique(module(np.ones_like(x))).min()
    out = module(x)
    dropped = np.isclose(out, dropped_value)
    return dropped, np.polyfit(x[~dropped], out[~dropped], 1), dropped_value


@pytest.mark.parametrize("name, shape", DROPOUTS, ids=[d[0] for d in DROPOUTS])
def test_dropout_modules_like_torch(name: str, shape: tuple) -> None:
    """Identity in eval mode; in training, torch's dropped value and kept scaling, at about
    rate p, whole channels at once for the feature forms (the masks themselves differ: the
    generators are not torch's)."""
    x = _positive(*shape)
    ours, theirs = getattr(ember.nn, name)(p=0.4), getattr(torch.nn, name)(p=0.4)
    assert repr(ours) == repr(theirs)
    np.testing.assert_array_equal(ours.eval()(ember.tensor(x)).numpy(), x)
    np.testing.assert_array_equal(theirs.eval()(torch.tensor(x)).numpy(), x)
    ours.train(), theirs.train()
    ember.manual_seed(0)
    e_mask, e_fit, e_value = _dropout_levels(lambda a: ours(ember.tensor(a)).numpy(), x)
    t_mask, t_fit, t_value = _dropout_levels(lambda a: theirs(torch.tensor(a)).numpy(), x)
    np.testing.assert_allclose(e_fit, t_fit, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(e_value, t_value, rtol=1e-12)
    for mask in (e_mask, t_mask):
        assert 0.3 < mask.mean() < 0.5
        if name != "AlphaDropout":  # one draw per (sample, channel)
            per_channel = mask.reshape(*shape[:2], -1)
            assert (per_channel == per_channel[..., :1]).all()


def test_module_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="expected 4D or 5D input"):
        ember.nn.InstanceNorm3d(2)(ember.ones(2, 3))
    with pytest.raises(ValueError, match="expected a 2D or 3D input"):
        ember.nn.CircularPad1d(1)(ember.ones(2, 2, 2, 2))
    with pytest.raises(ValueError, match="does not end with normalized_shape"):
        ember.nn.RMSNorm(3)(ember.ones(2, 4))
    with pytest.raises(ValueError, match="divisible by groups"):
        ember.nn.ChannelShuffle(4)(ember.ones(1, 6, 2))
    with pytest.raises(ValueError, match="expected weight to be 5-D|channels"):
        ember.nn.Conv3d(2, 2, 2)(ember.ones(1, 3, 3, 3, 3))


def _containers(lib: object) -> object:
    """A module holding a ParameterList, a ParameterDict and two Buffers, built with ``lib``."""
    nn = lib.nn
    w = np.arange(6.0).reshape(2, 3) / 7

    class Holder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weights = nn.ParameterList([nn.Parameter(lib.tensor(w))])
            self.weights.append(nn.Parameter(lib.tensor(w.T.copy())))
            self.scales = nn.ParameterDict({"a": nn.Parameter(lib.tensor([0.5, 2.0, 1.5]))})
            self.scales["b"] = nn.Parameter(lib.tensor([1.0, -1.0]))
            self.shift = nn.Buffer(lib.tensor([0.25, 0.5, 0.75]))
            self.step = nn.Buffer(lib.tensor(3.0), persistent=False)

        def forward(self, x: object) -> object:
            h = (x @ self.weights[0] + self.shift) * self.scales["a"]
            return (h @ self.weights[1]) * self.scales["b"] * self.step

    return Holder()


def test_parameter_containers_and_buffers_like_torch() -> None:
    ours, theirs = _containers(ember), _containers(torch)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert list(ours.state_dict()) == list(theirs.state_dict())  # step is not persistent
    assert len(ours.weights) == len(theirs.weights) and list(ours.scales) == list(theirs.scales)
    x = _rand(4, 2)
    e_out, t_out = ours(ember.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-12)
    e_out.sum().backward()
    t_out.sum().backward()
    for (name, e), (_, t) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-12, err_msg=name)


BAGS = [
    ("mean", {}, [np.array([[1, 2, 4], [5, 4, 3]])]),
    ("sum-offsets", {"mode": "sum"}, [np.array([1, 2, 4, 5, 4, 3]), np.array([0, 2, 2])]),
    ("max-padding", {"mode": "max", "padding_idx": 4}, [np.array([[1, 4], [4, 4], [3, 0]])]),
    (
        "sum-weighted-last-offset",
        {"mode": "sum", "include_last_offset": True, "max_norm": 1.5},
        [np.array([1, 2, 4, 5, 3]), np.array([0, 3, 5]), _rand(5)],
    ),
]


@pytest.mark.parametrize("kwargs, inputs", [b[1:] for b in BAGS], ids=[b[0] for b in BAGS])
def test_embedding_bag_matches_torch(kwargs: dict, inputs: list) -> None:
    ours, theirs = compare_module(
        lambda: ember.nn.EmbeddingBag(6, 3, **kwargs),
        lambda: torch.nn.EmbeddingBag(6, 3, **kwargs),
        inputs,
        "float64",
    )
    assert repr(ours) == repr(theirs)
    np.testing.assert_array_equal(ours.weight.detach().numpy(), theirs.weight.detach().numpy())


def test_embedding_bag_from_pretrained_and_errors() -> None:
    w = _rand(4, 2)
    ours = ember.nn.EmbeddingBag.from_pretrained(ember.tensor(w), mode="max", padding_idx=1)
    theirs = torch.nn.EmbeddingBag.from_pretrained(torch.tensor(w), mode="max", padding_idx=1)
    assert repr(ours) == repr(theirs) and not ours.weight.requires_grad
    idx = np.array([[0, 1], [3, 2]])
    np.testing.assert_array_equal(
        ours(ember.tensor(idx)).numpy(), theirs(torch.tensor(idx)).detach().numpy()
    )
    bag = ember.nn.EmbeddingBag(4, 2)
    with pytest.raises(ValueError, match="offsets must start at 0"):
        bag(ember.tensor([0, 1, 2]), ember.tensor([1, 2]))
    with pytest.raises(ValueError, match="offsets must be None for 2-D input"):
        bag(ember.tensor([[0, 1]]), ember.tensor([0]))
    with pytest.raises(ValueError, match="only supported for mode='sum'"):
        bag(ember.tensor([[0, 1]]), per_sample_weights=ember.ones(1, 2))
    with pytest.raises(ValueError, match="mode must be"):
        ember.nn.EmbeddingBag(4, 2, mode="min")
