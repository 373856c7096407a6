"""Op database: convolution and pooling family (vs torch.nn.functional)."""

from __future__ import annotations

import warnings

import numpy as np
import torch.nn.functional as F

from ember.nn import functional as E  # the public names, so the coverage measure sees them
from tests.ops.specs import OpSpec, Sample, rand

PRIMS_CONV = ("Conv", "ConvTranspose", "ConvWeight", "Im2Col")  # Im2Col: groups > 1
PRIMS_WINDOWS = ("WindowSum", "WindowSpread")
PRIMS_TRANSPOSED = ("ConvTranspose", "Conv", "ConvWeight", "Col2Im")  # Col2Im: groups > 1
PRIMS_MAX = ("MaxPoolIndices", "MaxPoolGather", "MaxPoolScatter")


def _quiet(fn):
    """``fn`` without torch's UserWarning about the padded copy for even 'same' kernels."""

    def call(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Using padding='same'", UserWarning)
            return fn(*args, **kwargs)

    return call


def _conv2d_samples(rng):
    def case(x, w, bias=True, **kw):
        b = rand(rng, w[0]) if bias else None
        args = (rand(rng, *x), rand(rng, *w)) + ((b,) if bias else ())
        return Sample(args, kw, label=f"x{x} w{w} bias={bias}")

    return [
        case((2, 2, 5, 5), (3, 2, 3, 3)),
        case((1, 2, 5, 6), (2, 2, 3, 3), bias=False, stride=2, padding=1),
        case((1, 2, 6, 5), (2, 2, 2, 4), padding="same", dilation=2),
        case((1, 2, 5, 5), (2, 2, 3, 3), padding="same"),
        case((1, 2, 6, 7), (2, 2, 2, 3), padding="valid", stride=(2, 1), dilation=(1, 2)),
        case((1, 2, 5, 5), (2, 2, 3, 2), padding=(2, 0), stride=(1, 3)),
        case((1, 4, 5, 5), (4, 2, 2, 2), groups=2),
        case((1, 3, 5, 5), (6, 1, 3, 3), bias=False, groups=3),  # depthwise, multiplier 2
        case((2, 5, 5), (3, 2, 3, 3)),  # unbatched
        case((1, 2, 4, 4), (3, 2, 1, 1)),  # 1x1
        case((3, 3, 9, 9), (4, 3, 3, 3), stride=2, padding=1),  # larger than gradcheck samples
    ]


def _conv1d_samples(rng):
    def case(x, w, bias=True, **kw):
        args = (rand(rng, *x), rand(rng, *w)) + ((rand(rng, w[0]),) if bias else ())
        return Sample(args, kw, label=f"x{x} w{w} bias={bias}")

    return [
        case((2, 3, 8), (4, 3, 3)),
        case((1, 3, 9), (2, 3, 3), bias=False, stride=2, padding=1, dilation=2),
        case((1, 2, 7), (2, 2, 4), padding="same"),
        case((1, 4, 8), (6, 2, 3), groups=2, padding="valid"),
        case((3, 8), (2, 3, 2)),  # unbatched
    ]


def _conv3d_samples(rng):
    def case(x, w, bias=True, **kw):
        args = (rand(rng, *x), rand(rng, *w)) + ((rand(rng, w[0]),) if bias else ())
        return Sample(args, kw, label=f"x{x} w{w} bias={bias}")

    return [
        case((2, 2, 4, 4, 3), (3, 2, 2, 2, 2)),
        case((1, 2, 5, 4, 4), (2, 2, 3, 2, 2), bias=False, stride=(2, 1, 2), padding=1),
        case((1, 2, 4, 4, 4), (2, 1, 2, 2, 2), padding="same", dilation=(1, 2, 1), groups=2),
        case((2, 3, 4, 3), (2, 2, 2, 2, 2)),  # unbatched
    ]


def _conv_transpose2d_samples(rng):
    def case(x, w, bias=True, **kw):
        args = (rand(rng, *x), rand(rng, *w))
        if bias:
            args += (rand(rng, w[1] * kw.get("groups", 1)),)
        return Sample(args, kw, label=f"x{x} w{w} bias={bias}")

    return [
        case((1, 2, 3, 3), (2, 3, 3, 3)),
        case((1, 2, 3, 4), (2, 2, 3, 3), bias=False, stride=2, padding=1, output_padding=1),
        case((1, 4, 3, 3), (4, 1, 2, 3), groups=2, stride=(2, 1), output_padding=(1, 0)),
        case((1, 2, 3, 3), (2, 2, 2, 2), stride=1, dilation=2, output_padding=1),
        case((1, 2, 4, 3), (2, 2, 3, 3), stride=3, padding=(0, 2), output_padding=2),
        case((2, 3, 3), (2, 2, 2, 2), stride=2),  # unbatched
    ]


def _conv_transpose1d_samples(rng):
    def case(x, w, bias=True, **kw):
        args = (rand(rng, *x), rand(rng, *w))
        if bias:
            args += (rand(rng, w[1] * kw.get("groups", 1)),)
        return Sample(args, kw, label=f"x{x} w{w} bias={bias}")

    return [
        case((2, 3, 5), (3, 2, 3)),
        case((1, 4, 5), (4, 2, 3), bias=False, stride=3, padding=1, output_padding=2, groups=2),
        case((2, 4), (2, 3, 2), dilation=2),
    ]


def _conv_transpose3d_samples(rng):
    def case(x, w, bias=True, **kw):
        args = (rand(rng, *x), rand(rng, *w))
        if bias:
            args += (rand(rng, w[1] * kw.get("groups", 1)),)
        return Sample(args, kw, label=f"x{x} w{w} bias={bias}")

    return [
        case((1, 2, 3, 2, 3), (2, 2, 2, 2, 2)),
        case((1, 2, 2, 3, 2), (2, 1, 2, 2, 3), stride=(2, 1, 2), output_padding=(1, 0, 1)),
        case((1, 4, 2, 2, 2), (4, 1, 2, 2, 2), bias=False, groups=2, padding=1, dilation=2),
        case((2, 2, 3, 2), (2, 2, 2, 2, 2), stride=2),  # unbatched
    ]


def _distinct(rng, *shape):
    """Values spaced apart, so that no window has a near-tie (finite differences stay valid)."""
    return rng.permutation(np.prod(shape)).reshape(shape) * 0.25 - 3.0


def _max_pool2d_samples(rng):
    def case(x, **kw):
        return Sample((_distinct(rng, *x),), kw, label=f"x{x}")

    return [
        case((2, 2, 6, 6), kernel_size=2),
        case((1, 2, 7, 7), kernel_size=3, stride=2, padding=1),
        case((1, 2, 7, 6), kernel_size=(3, 2), stride=2, padding=(1, 0), ceil_mode=True),
        case((1, 1, 8, 8), kernel_size=2, stride=1, dilation=2),
        case((1, 2, 5, 7), kernel_size=2, dilation=(2, 1), ceil_mode=True),
        case((1, 2, 6, 5), kernel_size=3, stride=2, padding=1, return_indices=True),
        case((2, 5, 5), kernel_size=2, ceil_mode=True, return_indices=True),  # unbatched
    ]


def _max_pool1d_samples(rng):
    def case(x, **kw):
        return Sample((_distinct(rng, *x),), kw, label=f"x{x}")

    return [
        case((2, 3, 8), kernel_size=2),
        case((1, 2, 9), kernel_size=3, stride=2, padding=1, ceil_mode=True, return_indices=True),
        case((2, 9), kernel_size=2, dilation=3),
    ]


def _max_pool3d_samples(rng):
    def case(x, **kw):
        return Sample((_distinct(rng, *x),), kw, label=f"x{x}")

    return [
        case((2, 2, 4, 4, 4), kernel_size=2),
        case((1, 2, 5, 4, 5), kernel_size=(3, 2, 3), stride=2, padding=1, ceil_mode=True),
        case((1, 1, 5, 5, 4), kernel_size=2, stride=1, dilation=(2, 1, 2), return_indices=True),
        case((2, 4, 3, 4), kernel_size=2, return_indices=True),  # unbatched
    ]


def _max_pool_ties_samples(rng):
    x = rng.integers(0, 3, size=(2, 2, 6, 6)).astype(np.float64)
    special = np.full((1, 2, 5, 5), -np.inf)
    special[0, 0, 1:3, 1:4] = [[1.0, np.nan, 2.0], [np.nan, 0.5, 3.0]]
    special[0, 1, 4, 4] = 7.0
    return [
        Sample((x,), {"kernel_size": 2, "return_indices": True}),
        Sample((x,), {"kernel_size": 3, "stride": 1, "padding": 1}),  # overlapping windows
        # NaN wins (the last one, as PyTorch); a window of -inf points at its first real element
        Sample((special,), {"kernel_size": 3, "stride": 2, "padding": 1, "return_indices": True}),
        Sample((special,), {"kernel_size": 2, "ceil_mode": True, "return_indices": True}),
    ]


def _avg_pool2d_samples(rng):
    def case(x, **kw):
        return Sample((rand(rng, *x),), kw, label=f"x{x}")

    return [
        case((2, 2, 6, 6), kernel_size=2),
        case((1, 2, 7, 7), kernel_size=3, stride=2, padding=1),
        case((1, 2, 7, 7), kernel_size=3, stride=2, padding=1, count_include_pad=False),
        case((1, 2, 6, 7), kernel_size=(3, 2), stride=2, padding=1, ceil_mode=True),
        case(
            (1, 2, 6, 7),
            kernel_size=3,
            stride=2,
            padding=1,
            ceil_mode=True,
            count_include_pad=False,
        ),
        case((1, 2, 5, 5), kernel_size=2, stride=1, divisor_override=3),
        case((2, 5, 6), kernel_size=2),  # unbatched
    ]


def _avg_pool3d_samples(rng):
    def case(x, **kw):
        return Sample((rand(rng, *x),), kw, label=f"x{x}")

    return [
        case((2, 2, 4, 4, 4), kernel_size=2),
        case((1, 2, 5, 4, 5), kernel_size=3, stride=2, padding=1, count_include_pad=False),
        case((1, 1, 5, 4, 4), kernel_size=(3, 2, 2), stride=2, padding=1, ceil_mode=True),
        case((1, 2, 4, 4, 3), kernel_size=2, stride=1, divisor_override=3),
        case((2, 4, 3, 4), kernel_size=2),  # unbatched
    ]


def _avg_pool1d_samples(rng):
    def case(x, **kw):
        return Sample((rand(rng, *x),), kw, label=f"x{x}")

    return [
        case((2, 3, 8), kernel_size=2),
        case((1, 2, 9), kernel_size=3, stride=2, padding=1, ceil_mode=True),
        case((1, 2, 9), kernel_size=4, stride=3, padding=2, count_include_pad=False),
        case((2, 7), kernel_size=3),
    ]


def _adaptive2d_samples(rng):
    x = rand(rng, 2, 2, 7, 6)
    return [
        Sample((x, 3)),
        Sample((x, (4, None))),
        Sample((x, (5, 4))),
        Sample((x, (7, 6))),
        Sample((rand(rng, 2, 6, 4), (3, 3))),  # unbatched
    ]


def _adaptive1d_samples(rng):
    return [
        Sample((rand(rng, 2, 3, 7), 3)),
        Sample((rand(rng, 2, 3, 8), 4)),
        Sample((rand(rng, 3, 5), 2)),
    ]


def _adaptive3d_samples(rng):
    x = rand(rng, 2, 2, 5, 4, 3)
    return [
        Sample((x, 2)),
        Sample((x, (3, None, 2))),
        Sample((rand(rng, 2, 4, 5, 3), (2, 3, 3))),  # unbatched
    ]


def _unfold_samples(rng):
    return [
        Sample((rand(rng, 2, 2, 5, 5), 2)),
        Sample((rand(rng, 1, 2, 6, 5), (2, 3)), {"padding": 1, "stride": 2}),
        Sample((rand(rng, 1, 2, 6, 6), 2), {"dilation": 2, "stride": (1, 2)}),
        Sample((rand(rng, 2, 4, 4), 3), {"padding": 1}),  # unbatched
    ]


def _fold_samples(rng):
    return [
        Sample((rand(rng, 2, 8, 16), (5, 5), 2)),
        Sample((rand(rng, 1, 12, 12), (6, 5), (2, 3)), {"padding": 1, "stride": 2}),
        Sample((rand(rng, 8, 6), (4, 4), 2), {"dilation": (1, 2), "stride": (1, 1)}),
    ]


SPECS = [
    OpSpec(
        "conv2d", E.conv2d, _quiet(F.conv2d), _conv2d_samples, prims=PRIMS_CONV, second_order=True
    ),
    OpSpec("conv1d", E.conv1d, _quiet(F.conv1d), _conv1d_samples, prims=PRIMS_CONV),
    OpSpec("conv3d", E.conv3d, _quiet(F.conv3d), _conv3d_samples, prims=PRIMS_CONV),
    OpSpec(
        "conv_transpose2d",
        E.conv_transpose2d,
        F.conv_transpose2d,
        _conv_transpose2d_samples,
        prims=PRIMS_TRANSPOSED,
        second_order=True,
    ),
    OpSpec(
        "conv_transpose1d",
        E.conv_transpose1d,
        F.conv_transpose1d,
        _conv_transpose1d_samples,
        prims=PRIMS_TRANSPOSED,
    ),
    OpSpec(
        "conv_transpose3d",
        E.conv_transpose3d,
        F.conv_transpose3d,
        _conv_transpose3d_samples,
        prims=PRIMS_TRANSPOSED,
    ),
    OpSpec(
        "max_pool2d",
        E.max_pool2d,
        F.max_pool2d,
        _max_pool2d_samples,
        prims=PRIMS_MAX,
        second_order=True,
    ),
    OpSpec("max_pool1d", E.max_pool1d, F.max_pool1d, _max_pool1d_samples, prims=PRIMS_MAX),
    OpSpec("max_pool3d", E.max_pool3d, F.max_pool3d, _max_pool3d_samples, prims=PRIMS_MAX),
    OpSpec(
        "max_pool2d_ties",
        E.max_pool2d,
        F.max_pool2d,
        _max_pool_ties_samples,
        prims=PRIMS_MAX,
        gradcheck=False,  # ties make max pooling non-differentiable there
    ),
    OpSpec("avg_pool2d", E.avg_pool2d, F.avg_pool2d, _avg_pool2d_samples, prims=PRIMS_WINDOWS),
    OpSpec("avg_pool1d", E.avg_pool1d, F.avg_pool1d, _avg_pool1d_samples, prims=PRIMS_WINDOWS),
    OpSpec("avg_pool3d", E.avg_pool3d, F.avg_pool3d, _avg_pool3d_samples, prims=PRIMS_WINDOWS),
    OpSpec(
        "adaptive_avg_pool2d",
        E.adaptive_avg_pool2d,
        F.adaptive_avg_pool2d,
        _adaptive2d_samples,
    ),
    OpSpec(
        "adaptive_avg_pool1d",
        E.adaptive_avg_pool1d,
        F.adaptive_avg_pool1d,
        _adaptive1d_samples,
    ),
    OpSpec(
        "adaptive_avg_pool3d",
        E.adaptive_avg_pool3d,
        F.adaptive_avg_pool3d,
        _adaptive3d_samples,
    ),
    OpSpec("unfold", E.unfold, F.unfold, _unfold_samples, prims=("Im2Col",), second_order=True),
    OpSpec("fold", E.fold, F.fold, _fold_samples, prims=("Col2Im",), second_order=True),
]
