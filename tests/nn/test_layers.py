"""Every layer vs torch: same state, forward and all gradients in float64 and float32."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from ember import nn
from tests.nn.helpers import compare_module

R = np.random.default_rng(0)


def x(*shape: int, low: float = -2.0, high: float = 2.0) -> np.ndarray:
    return R.uniform(low, high, size=shape)


# (id, ember factory, torch factory, inputs); factories get the nn namespace.
CASES = [
    ("linear", lambda n: n.Linear(4, 3), [x(2, 4)]),
    ("linear_nobias_3d", lambda n: n.Linear(4, 3, bias=False), [x(2, 5, 4)]),
    ("bilinear", lambda n: n.Bilinear(3, 4, 2), [x(5, 3), x(5, 4)]),
    ("conv1d", lambda n: n.Conv1d(2, 3, 3, stride=2, padding=1), [x(2, 2, 7)]),
    (
        "conv1d_same_reflect",
        lambda n: n.Conv1d(2, 3, 3, padding="same", dilation=2, padding_mode="reflect"),
        [x(2, 2, 8)],
    ),
    ("conv2d_groups", lambda n: n.Conv2d(4, 6, 3, padding=1, groups=2), [x(2, 4, 5, 5)]),
    (
        "conv2d_rect",
        lambda n: n.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2)),
        [x(2, 2, 6, 7)],
    ),
    (
        "conv2d_same",
        lambda n: n.Conv2d(2, 3, (3, 5), padding="same", dilation=(2, 1)),
        [x(1, 2, 5, 6)],
    ),
    ("conv2d_valid", lambda n: n.Conv2d(2, 3, 3, padding="valid", bias=False), [x(1, 2, 5, 5)]),
    *[
        (
            f"conv2d_{mode}",
            lambda n, mode=mode: n.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=mode),
            [x(2, 2, 5, 6)],
        )
        for mode in ("reflect", "replicate", "circular")
    ],
    (
        "conv_transpose1d",
        lambda n: n.ConvTranspose1d(2, 3, 3, stride=2, padding=1, output_padding=1),
        [x(2, 2, 5)],
    ),
    (
        "conv_transpose2d",
        lambda n: n.ConvTranspose2d(4, 2, 3, stride=2, padding=1, groups=2, dilation=1),
        [x(2, 4, 3, 4)],
    ),
    ("maxpool1d", lambda n: n.MaxPool1d(2), [x(2, 3, 8)]),
    ("maxpool2d", lambda n: n.MaxPool2d(3, stride=2, padding=1), [x(2, 3, 6, 5)]),
    ("avgpool1d", lambda n: n.AvgPool1d(3, stride=2, padding=1), [x(2, 3, 8)]),
    (
        "avgpool2d",
        lambda n: n.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
        [x(2, 3, 6, 5)],
    ),
    ("adaptive_avg1d", lambda n: n.AdaptiveAvgPool1d(3), [x(2, 3, 7)]),
    ("adaptive_avg2d", lambda n: n.AdaptiveAvgPool2d((2, 3)), [x(2, 3, 5, 7)]),
    ("batchnorm1d_2d", lambda n: n.BatchNorm1d(3), [x(6, 3)]),
    ("batchnorm1d_3d", lambda n: n.BatchNorm1d(3, affine=False), [x(4, 3, 5)]),
    ("batchnorm2d", lambda n: n.BatchNorm2d(3, momentum=None), [x(4, 3, 2, 3)]),
    ("batchnorm3d", lambda n: n.BatchNorm3d(2), [x(3, 2, 2, 3, 2)]),
    ("batchnorm2d_nostats", lambda n: n.BatchNorm2d(3, track_running_stats=False), [x(2, 3, 2, 2)]),
    ("layernorm", lambda n: n.LayerNorm((4, 5)), [x(2, 3, 4, 5)]),
    ("layernorm_nobias", lambda n: n.LayerNorm(5, bias=False), [x(3, 5)]),
    ("layernorm_noaffine", lambda n: n.LayerNorm(5, elementwise_affine=False), [x(3, 5)]),
    ("groupnorm", lambda n: n.GroupNorm(2, 4), [x(2, 4, 3, 3)]),
    ("groupnorm_noaffine", lambda n: n.GroupNorm(4, 4, affine=False), [x(2, 4, 5)]),
    (
        "embedding_padding",
        lambda n: n.Embedding(10, 3, padding_idx=1),
        [np.array([[1, 2, 3], [1, 9, 2]])],
    ),
    ("upsample_nearest", lambda n: n.Upsample(scale_factor=2), [x(1, 2, 3, 4)]),
    ("upsample_nearest_size", lambda n: n.Upsample(size=(5, 7)), [x(1, 2, 3, 4)]),
    ("upsample_nearest_1d", lambda n: n.Upsample(scale_factor=1.7), [x(1, 2, 5)]),
    (
        "upsample_bilinear_ac",
        lambda n: n.Upsample(size=(5, 7), mode="bilinear", align_corners=True),
        [x(1, 2, 3, 4)],
    ),
    (
        "upsample_bilinear",
        lambda n: n.Upsample(scale_factor=1.5, mode="bilinear", align_corners=False),
        [x(2, 2, 4, 5)],
    ),
    (
        "upsample_bilinear_down",
        lambda n: n.Upsample(size=(2, 3), mode="bilinear"),
        [x(1, 1, 5, 7)],
    ),
    ("upsample_linear", lambda n: n.Upsample(scale_factor=2, mode="linear"), [x(1, 2, 5)]),
    ("prelu_channels", lambda n: n.PReLU(3), [x(2, 3, 4)]),
    ("prelu_shared", lambda n: n.PReLU(), [x(2, 3)]),
    ("flatten", lambda n: n.Flatten(), [x(2, 3, 4)]),
    ("unflatten", lambda n: n.Unflatten(1, (2, 3)), [x(2, 6)]),
    ("identity", lambda n: n.Identity(), [x(2, 3)]),
    ("softmax", lambda n: n.Softmax(dim=1), [x(3, 4, 2)]),
    ("logsoftmax", lambda n: n.LogSoftmax(dim=-1), [x(3, 4)]),
    ("softmin", lambda n: n.Softmin(dim=0), [x(3, 4)]),
    ("glu", lambda n: n.GLU(), [x(3, 4)]),
    ("sequential", lambda n: n.Sequential(n.Linear(3, 4), n.Tanh(), n.Linear(4, 2)), [x(5, 3)]),
    ("pixel_shuffle", lambda n: n.PixelShuffle(2), [x(2, 8, 3, 4)]),
    ("pixel_shuffle_unbatched", lambda n: n.PixelShuffle(3), [x(9, 2, 2)]),
    ("pixel_unshuffle", lambda n: n.PixelUnshuffle(2), [x(2, 3, 4, 6)]),
    ("pixel_unshuffle_5d", lambda n: n.PixelUnshuffle(2), [x(2, 1, 2, 4, 2)]),
    ("reflection_pad1d", lambda n: n.ReflectionPad1d((2, 1)), [x(2, 3, 5)]),
    ("reflection_pad2d", lambda n: n.ReflectionPad2d((1, 2, 2, 0)), [x(2, 3, 4, 5)]),
    ("reflection_pad3d", lambda n: n.ReflectionPad3d(1), [x(1, 2, 3, 3, 4)]),
    ("reflection_pad2d_unbatched", lambda n: n.ReflectionPad2d(1), [x(3, 4, 5)]),
    ("replication_pad1d", lambda n: n.ReplicationPad1d((3, 1)), [x(2, 3, 4)]),
    ("replication_pad2d", lambda n: n.ReplicationPad2d((1, 2, 3, 0)), [x(2, 3, 4, 5)]),
    ("replication_pad3d", lambda n: n.ReplicationPad3d((1, 0, 2, 1, 0, 2)), [x(1, 2, 3, 3, 2)]),
    ("zero_pad1d", lambda n: n.ZeroPad1d((1, 2)), [x(2, 3, 4)]),
    ("zero_pad2d_crop", lambda n: n.ZeroPad2d((1, -1, 2, 0)), [x(2, 3, 4, 5)]),
    ("zero_pad3d", lambda n: n.ZeroPad3d(1), [x(1, 2, 3, 3, 2)]),
    ("constant_pad1d", lambda n: n.ConstantPad1d(2, 1.5), [x(2, 3, 4)]),
    ("constant_pad2d", lambda n: n.ConstantPad2d((1, 0, 2, 1), -3.0), [x(3, 4, 5)]),
    ("constant_pad3d", lambda n: n.ConstantPad3d(1, 0.5), [x(1, 2, 3, 3, 2)]),
    ("instancenorm1d", lambda n: n.InstanceNorm1d(3), [x(4, 3, 5)]),
    ("instancenorm1d_unbatched", lambda n: n.InstanceNorm1d(3, affine=True), [x(3, 5)]),
    ("instancenorm2d_affine", lambda n: n.InstanceNorm2d(3, affine=True), [x(2, 3, 4, 3)]),
    (
        "instancenorm2d_stats",
        lambda n: n.InstanceNorm2d(3, affine=True, track_running_stats=True, momentum=0.3),
        [x(2, 3, 4, 3)],
    ),
]

ACTIVATIONS = [
    lambda n: n.ReLU(),
    lambda n: n.LeakyReLU(0.2),
    lambda n: n.ELU(alpha=0.7),
    lambda n: n.CELU(alpha=1.3),
    lambda n: n.SELU(),
    lambda n: n.GELU(),
    lambda n: n.GELU(approximate="tanh"),
    lambda n: n.SiLU(),
    lambda n: n.Sigmoid(),
    lambda n: n.Tanh(),
    lambda n: n.Softplus(),
    lambda n: n.Softplus(beta=2.0, threshold=1.5),
    lambda n: n.Hardtanh(-0.5, 1.5),
    lambda n: n.ReLU6(),
    lambda n: n.Mish(),
    lambda n: n.Softsign(),
    lambda n: n.Hardsigmoid(),
    lambda n: n.Hardswish(),
    lambda n: n.LogSigmoid(),
    lambda n: n.Threshold(0.3, -1.0),
]
CASES += [
    (type(f(torch.nn)).__name__ + str(i), f, [x(3, 5, low=-7.0, high=7.0)])
    for i, f in enumerate(ACTIVATIONS)
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_layer_matches_torch(case: tuple, dtype: str) -> None:
    name, factory, inputs = case
    # torch evaluates these two backward formulas with float32 constants even in float64
    loose = dtype == "float64" and name.startswith(("CELU", "Hardsigmoid"))
    tol = {"rtol": 1e-6, "atol": 1e-8} if loose else None
    compare_module(lambda: factory(nn), lambda: factory(torch.nn), inputs, dtype, tol=tol)


@pytest.mark.parametrize("factory", [lambda n: n.BatchNorm1d(3), lambda n: n.Dropout(0.5)])
def test_eval_mode_matches_torch(factory: object) -> None:
    compare_module(lambda: factory(nn), lambda: factory(torch.nn), [x(4, 3)], "float64", False)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_instance_norm_running_stats_match_torch(momentum: float | None) -> None:
    """Trained running statistics (momentum=None: never updated, like torch) and eval output."""

    def make(n: object) -> object:
        return n.InstanceNorm1d(3, momentum=momentum, track_running_stats=True)

    em, tm = make(nn).double(), make(torch.nn).double()
    for _ in range(3):
        batch = x(4, 3, 6)
        em(ember.tensor(batch))
        tm(torch.tensor(batch))
    for name, b in em.named_buffers():
        np.testing.assert_allclose(b.numpy(), dict(tm.named_buffers())[name].numpy(), rtol=1e-12)
    batch = x(2, 3, 6)
    np.testing.assert_allclose(
        em.eval()(ember.tensor(batch)).numpy(), tm.eval()(torch.tensor(batch)).numpy(), rtol=1e-10
    )


def test_new_layers_repr_like_torch() -> None:
    for make in (
        lambda n: n.ReflectionPad2d((1, 1, 2, 0)),
        lambda n: n.ReplicationPad3d(1),
        lambda n: n.ZeroPad1d((1, 2)),
        lambda n: n.ConstantPad2d(1, 3.5),
        lambda n: n.PixelShuffle(2),
        lambda n: n.PixelUnshuffle(3),
        lambda n: n.InstanceNorm1d(4, affine=True, track_running_stats=True),
    ):
        assert repr(make(nn)) == repr(make(torch.nn))


@pytest.mark.parametrize(
    "fn",
    [
        lambda t: nn.functional.pixel_shuffle(t, 2),
        lambda t: nn.functional.pixel_unshuffle(t, 2),
        *[lambda t, m=m: nn.functional.pad(t, (2, 1, 1, 2), m) for m in ("reflect", "replicate")],
        lambda t: nn.functional.pad(t, (2, 1, 1, 3), "circular"),
        lambda t: nn.functional.pad(t, (2, -1, 1, 0), "constant", 0.5),
        lambda t: nn.functional.instance_norm(t, weight=t[0, :, 0, 0] * 0 + 2.0),
    ],
    ids=["pixel_shuffle", "pixel_unshuffle", "reflect", "replicate", "circular", "constant",
         "instance_norm"],
)  # fmt: skip
def test_new_functional_gradients_match_finite_differences(fn: object) -> None:
    t = ember.tensor(x(2, 4, 4, 4), requires_grad=True)
    assert ember.autograd.gradcheck(fn, (t,))


def test_new_layer_errors() -> None:
    with pytest.raises(ValueError, match="divisible by the square of upscale_factor=2"):
        nn.PixelShuffle(2)(ember.ones(1, 3, 2, 2))
    with pytest.raises(ValueError, match="divisible by downscale_factor=2"):
        nn.PixelUnshuffle(2)(ember.ones(1, 3, 3, 2))
    with pytest.raises(ValueError, match="expected a 3D or 4D input"):
        nn.ReflectionPad2d(1)(ember.ones(4, 4))
    with pytest.raises(ValueError, match="padding must be an int or 4 ints"):
        nn.ZeroPad2d((1, 2))
    with pytest.raises(ValueError, match="expected more than 1 spatial element"):
        nn.InstanceNorm1d(3)(ember.ones(2, 3, 1))
    with pytest.raises(ValueError, match="weight should contain 3 elements not 4"):
        nn.InstanceNorm2d(4, affine=True)(ember.ones(2, 3, 2, 2))


@pytest.mark.parametrize("name", ["LSTM", "GRU", "RNN"])
def test_flatten_parameters_is_a_no_op_like_cpu_torch(name: str) -> None:
    rnn = getattr(nn, name)(3, 4)
    before = [p.detach().numpy().copy() for p in rnn.parameters()]
    assert rnn.flatten_parameters() is None
    assert all(np.array_equal(a, p.detach().numpy()) for a, p in zip(before, rnn.parameters()))


@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
def test_batchnorm_running_stats_after_several_steps(momentum: float | None) -> None:
    em, tm = (
        nn.BatchNorm2d(3, momentum=momentum).double(),
        torch.nn.BatchNorm2d(3, momentum=momentum).double(),
    )
    for step in range(4):
        data = x(5, 3, 2, 2) * (step + 1) + step
        em(ember.tensor(data))
        tm(torch.tensor(data))
    for name, b in tm.named_buffers():
        np.testing.assert_allclose(em.get_buffer(name).numpy(), b.numpy(), rtol=1e-12, atol=1e-12)
    assert em.num_batches_tracked.item() == 4 and em.num_batches_tracked.dtype is ember.int64
    em.eval(), tm.eval()
    data = x(2, 3, 2, 2)
    np.testing.assert_allclose(
        em(ember.tensor(data)).detach().numpy(), tm(torch.tensor(data)).detach().numpy(), rtol=1e-12
    )


def test_conv_transpose_output_size() -> None:
    em, tm = (
        nn.ConvTranspose2d(2, 3, 3, stride=2).double(),
        torch.nn.ConvTranspose2d(2, 3, 3, stride=2).double(),
    )
    em.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    data = x(1, 2, 4, 4)
    ours = em(ember.tensor(data), output_size=(10, 10))
    theirs = tm(torch.tensor(data), output_size=(10, 10))
    assert ours.shape == (1, 3, 10, 10)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match="requested an output size of"):
        em(ember.tensor(data), output_size=(12, 12))


def test_embedding_padding_row_gets_no_gradient_and_from_pretrained() -> None:
    emb = nn.Embedding(5, 2, padding_idx=0)
    assert not emb.weight[0].detach().numpy().any()
    out = emb(ember.tensor([0, 1, 0, 3]))
    out.sum().backward()
    g = emb.weight.grad.numpy()
    assert not g[0].any() and (g[1] == 1).all() and (g[3] == 1).all()
    pre = nn.Embedding.from_pretrained(ember.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert not pre.weight.requires_grad
    assert pre(ember.tensor([1])).tolist() == [[3.0, 4.0]]
    assert nn.Embedding.from_pretrained(ember.ones(2, 2), freeze=False).weight.requires_grad


def test_embedding_max_norm_matches_torch() -> None:
    torch.manual_seed(0)
    tm = torch.nn.Embedding(6, 3, max_norm=1.0).double()
    em = nn.Embedding(6, 3, max_norm=1.0).double()
    em.load_state_dict({"weight": ember.tensor(tm.weight.detach().numpy() * 3)})
    with torch.no_grad():
        tm.weight.mul_(3)
    idx = np.array([[0, 2], [2, 5]])
    ours, theirs = em(ember.tensor(idx)), tm(torch.tensor(idx))
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(em.weight.detach().numpy(), tm.weight.detach().numpy(), rtol=1e-6)


def test_layers_accept_device_and_dtype() -> None:
    lin = nn.Linear(3, 2, device="cpu", dtype=ember.float64)
    assert lin.weight.dtype is ember.float64 and lin.bias.dtype is ember.float64
    conv = nn.Conv2d(1, 2, 3, dtype=ember.float64)
    bn = nn.BatchNorm1d(2, dtype=ember.float64)
    assert conv.weight.dtype is ember.float64 and bn.running_var.dtype is ember.float64


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize(
    ("name", "shape"),
    [("BatchNorm1d", (2, 1)), ("BatchNorm1d", (2, 1, 4)), ("BatchNorm2d", (2, 1, 4, 4)),
     ("BatchNorm3d", (2, 1, 2, 2, 2))],
)  # fmt: skip
def test_batchnorm_rejects_a_wrong_channel_count_like_torch(
    name: str, shape: tuple, train: bool
) -> None:
    """A 1-channel input to a 64-channel BatchNorm is an error in torch, not a broadcast."""
    with pytest.raises(RuntimeError, match="running_mean should contain 1 elements not 64"):
        getattr(torch.nn, name)(64).train(train)(torch.ones(shape))
    with pytest.raises(ValueError, match="running_mean should contain 1 elements not 64"):
        getattr(nn, name)(64).train(train)(ember.ones(shape))
    with pytest.raises(ValueError, match="weight should contain 1 elements not 64"):
        getattr(nn, name)(64, track_running_stats=False).train(train)(ember.ones(shape))


def test_layer_errors() -> None:
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        nn.Conv2d(3, 4, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv1d(1, 1, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="expected 4D input \\(got 3D input\\)"):
        nn.BatchNorm2d(3)(ember.ones(2, 3, 4))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(ember.ones(1, 3))
    with pytest.raises(ValueError, match="expected 5D input \\(got 4D input\\)"):
        nn.BatchNorm3d(3)(ember.ones(2, 3, 4, 4))
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)
    with pytest.raises(ValueError, match="divisible by num_groups"):
        nn.GroupNorm(3, 4)
    with pytest.raises(ValueError, match="does not end with normalized_shape"):
        nn.LayerNorm(4)(ember.ones(2, 3))
    with pytest.raises(ValueError, match="in_features 3 vs 4"):
        nn.Linear(4, 2)(ember.ones(2, 3))
