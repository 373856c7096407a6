"""Op database: ember/ops/extra.py (inverse hyperbolics, scans, bitwise ops, helpers)."""

from __future__ import annotations

import numpy as np
import torch

import ember
from tests.ops.specs import OpSpec, Sample, positive, rand


def _one(gen=rand, *more):
    """One sample: a (3, 4) array from ``gen`` followed by ``more`` arguments."""
    return lambda rng: [Sample((gen(rng, 3, 4), *more))]


def _pair(gen_a=rand, gen_b=rand):
    return lambda rng: [Sample((gen_a(rng, 3, 4), gen_b(rng, 4)))]


def spec(name, samples, **kw):
    return OpSpec(name, getattr(ember, name), getattr(torch, name), samples, **kw)


def _above_one(rng, *shape):
    return rng.uniform(1.2, 3.0, size=shape)


def _unit(rng, *shape):
    return rng.uniform(-0.9, 0.9, size=shape)


def _prob(rng, *shape):
    return rng.uniform(0.05, 0.95, size=shape)


def _with_zeros(rng, *shape):
    x = rand(rng, *shape)
    x[x < -1.0] = 0.0
    return x


def _cumprod_samples(rng):
    x = rand(rng, 3, 5)
    x[0, 1] = x[1, 3] = x[1, 4] = 0.0  # one zero, two zeros, and a row without any
    return [Sample((x, 1)), Sample((rand(rng, 4, 2), 0))]


def _cum_samples(rng):
    x = np.round(rand(rng, 3, 5), 1)
    x[0, 2] = x[0, 1]  # a tie: the latest index wins
    return [Sample((x, 1)), Sample((rand(rng, 4, 2), 0))]


def _logcumsumexp_samples(rng):
    return [Sample((rand(rng, 3, 5) * 3, 1)), Sample((np.array([1.0, 800.0, -800.0, 2.0]), 0))]


def _special_values(rng):
    return [Sample((np.array([np.nan, np.inf, -np.inf, 0.5, -2.0]),))]


def _fnan_samples(rng):
    a = np.array([1.0, np.nan, np.nan, -2.0])
    b = np.array([np.nan, 2.0, np.nan, 3.0])
    return [Sample((a, b)), Sample((rand(rng, 3, 4), rand(rng, 4)))]


def _xlogy_samples(rng):
    x = rand(rng, 3, 4)
    x[0] = 0.0
    return [Sample((x, positive(rng, 3, 4))), Sample((rand(rng, 4), 2.0))]


def _heaviside_samples(rng):
    x = np.array([-1.5, 0.0, 2.0, 0.0])
    return [Sample((x, np.array([0.5])), nograd=(0, 1))]


def _int_pair(rng):
    a = rng.integers(-50, 50, size=(3, 4))
    return [Sample((a, rng.integers(-8, 8, size=(4,)))), Sample((a, 6))]


def _shift_pair(rng):
    a = rng.integers(-50, 50, size=(3, 4))
    return [Sample((a, rng.integers(0, 5, size=(4,)))), Sample((a, 2))]


def _ints(rng):
    return [Sample((rng.integers(-50, 50, size=(3, 4)),))]


def _inplace_nograd(name, base):
    """An in-place form whose backward torch does not implement: forward only."""
    fn = lambda x: getattr(x.clone(), name)()  # noqa: E731
    return OpSpec(
        f"{base}.{name}", fn, fn, _one(_unit if "tanh" in name else _above_one), grad=False
    )


def _index_fill_samples(rng):
    rows = np.array([3, 0, -1])  # -1 repeats 3: filled once
    return [
        Sample((rand(rng, 3, 4), 1, rows, 1.5)),
        Sample((rand(rng, 4, 2), 0, np.array(2), np.array(0.7))),  # a 0-d value gets a gradient
    ]


def _index_copy_samples(rng):
    return [Sample((rand(rng, 3, 4), 1, np.array([3, 0]), rand(rng, 3, 2)))]


def _masked_scatter_samples(rng):
    x = rand(rng, 3, 4)
    return [
        Sample((x, np.array([True, False, True, True]), rand(rng, 10))),  # source longer
        Sample((x, x > 0, rand(rng, 3, 4))),
    ]


_BOUNDS = np.array([-1.0, 0.0, 0.0, 1.5, 2.0])  # a repeated boundary: left and right differ
_VALUES = np.array([[0.0, np.nan, -3.0], [2.0, 2.5, 0.5]])


def _contiguous(fn):
    """torch's ``fn`` on contiguous copies (it warns about strided inputs)."""
    return lambda *args, **kw: fn(
        *(a.contiguous() if isinstance(a, torch.Tensor) else a for a in args), **kw
    )


def _searchsorted(fn):
    """``fn`` with ``sorter`` passed by position, so that the sample turns it into a tensor."""
    return lambda seq, values, sorter=None, **kw: fn(seq, values, sorter=sorter, **kw)


def _searchsorted_samples(rng):
    shuffled = np.array([1.5, -1.0, 2.0, 0.0])
    return [
        Sample((_BOUNDS, _VALUES)),
        Sample((_BOUNDS, _VALUES), {"right": True}),
        Sample((_BOUNDS, 0.0), {"side": "right", "out_int32": True}),
        Sample((np.sort(rand(rng, 2, 4), -1), rand(rng, 2, 3))),
        Sample((shuffled, _VALUES, np.argsort(shuffled))),
    ]


def _bucketize_samples(rng):
    return [
        Sample((_VALUES, _BOUNDS)),
        Sample((_VALUES, _BOUNDS), {"right": True, "out_int32": True}),
        Sample((1.5, _BOUNDS)),
    ]


def _diag_embed_samples(rng):
    x = rand(rng, 2, 3)
    return [Sample((x,)), Sample((x, 1, 0, 2)), Sample((rand(rng, 3), -1))]


def _cartesian_prod_samples(rng):
    return [
        Sample((rand(rng, 2), rand(rng, 3))),
        Sample((rand(rng, 2), rand(rng, 1), rand(rng, 2))),
        Sample((rand(rng, 3),)),
    ]


def _cross_samples(rng):
    return [
        Sample((rand(rng, 4, 3), rand(rng, 4, 3), 1)),
        Sample((rand(rng, 3, 2), rand(rng, 3, 1)), {"dim": -2}),  # broadcast
    ]


def _bitwise(name, samples):
    return spec(name, samples, prims=("Bitwise",), grad=False, gradcheck=False)


SPECS: list[OpSpec] = [
    spec("acosh", _one(_above_one), prims=("Acosh",), second_order=True),
    spec("asinh", _one(rand), prims=("Asinh",), second_order=True),
    spec("atanh", _one(_unit), prims=("Atanh",), second_order=True),
    *[
        _inplace_nograd(f"{prefix}{name}_", f"a{name}")
        for name in ("cosh", "sinh", "tanh")
        for prefix in ("a", "arc")
    ],
    spec("deg2rad", _one(rand)),
    spec("rad2deg", _one(rand)),
    spec("frac", _one(rand)),
    spec("sinc", lambda rng: [Sample((rand(rng, 3, 4),)), Sample((np.array([0.0, 1.0, -0.5]),))]),
    spec("logaddexp", _pair()),
    spec("logaddexp2", _pair()),
    spec("hypot", _pair()),
    spec("xlogy", _xlogy_samples),
    spec("heaviside", _heaviside_samples, grad=False, gradcheck=False),
    spec(
        "float_power",
        lambda rng: [Sample((positive(rng, 3, 4), rand(rng, 4))), Sample((rand(rng, 3), 2))],
    ),
    spec("fmax", _fnan_samples, gradcheck=False),
    spec("fmin", _fnan_samples, gradcheck=False),
    spec("positive", _one(rand)),
    spec("sgn", _one(rand), grad=False, gradcheck=False),  # torch's gradient is a ZeroTensor
    spec(
        "logit", lambda rng: [Sample((_prob(rng, 3, 4),)), Sample((_prob(rng, 4),), {"eps": 0.2})]
    ),
    spec(
        "nan_to_num",
        lambda rng: [
            Sample((np.array([np.nan, np.inf, -np.inf, 1.5]),), {"nan": 2.0}),
            Sample((np.array([np.inf, -np.inf]),), {"posinf": 9.0, "neginf": -9.0}),
        ],
    ),
    spec("isposinf", _special_values, grad=False),
    spec("isneginf", _special_values, grad=False),
    spec("cumprod", _cumprod_samples, prims=("CumProd",)),
    spec("cummax", _cum_samples, prims=("CumExtremeIndex",)),
    spec("cummin", _cum_samples, prims=("CumExtremeIndex",)),
    spec("logcumsumexp", _logcumsumexp_samples, prims=("LogCumSumExp",)),
    _bitwise("bitwise_and", _int_pair),
    _bitwise("bitwise_or", _int_pair),
    _bitwise("bitwise_xor", _int_pair),
    _bitwise("bitwise_left_shift", _shift_pair),
    _bitwise("bitwise_right_shift", _shift_pair),
    spec("bitwise_not", _ints, prims=("BitwiseNot",), grad=False, gradcheck=False),
    spec("index_fill", _index_fill_samples),
    spec("index_copy", _index_copy_samples),
    spec("masked_scatter", _masked_scatter_samples),
    OpSpec(
        "searchsorted",
        _searchsorted(ember.searchsorted),
        _searchsorted(_contiguous(torch.searchsorted)),
        _searchsorted_samples,
        grad=False,
        gradcheck=False,
    ),
    OpSpec(
        "bucketize",
        ember.bucketize,
        _contiguous(torch.bucketize),
        _bucketize_samples,
        grad=False,
        gradcheck=False,
    ),
    spec("diag_embed", _diag_embed_samples, second_order=True),
    spec("cartesian_prod", _cartesian_prod_samples),
    spec("cross", _cross_samples, second_order=True),
]
