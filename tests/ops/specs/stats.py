"""Op database: ember/ops/stats.py (median, mode, kthvalue, quantile, cov, trapezoid, cdist …)."""

from __future__ import annotations

import math

import numpy as np
import torch

import ember
from tests.ops.specs import OpSpec, Sample, rand


def spec(name, samples, **kw):
    return OpSpec(name, getattr(ember, name), getattr(torch, name), samples, **kw)


def _with_nan(rng):
    x = rand(rng, 3, 5)
    x[1, 2] = x[1, 4] = x[2, :].max() + np.nan
    return x


def _median_samples(rng):
    return [
        Sample((rand(rng, 3, 5), 1)),
        Sample((rand(rng, 4, 3), 0, True)),
        Sample((rand(rng, 3, 4),)),  # over all elements: the value only
        Sample((rand(rng, 6),), {"dim": -1}),
        Sample((_with_nan(rng), 1), nograd=(0,)),
        Sample((_with_nan(rng),), nograd=(0,)),
    ]


def _kthvalue_samples(rng):
    return [
        Sample((rand(rng, 3, 5), 2)),
        Sample((rand(rng, 4, 3), 4, 0, True)),
        Sample((rand(rng, 5), 5)),
    ]


def _mode_samples(rng):
    ties = rng.integers(0, 4, size=(3, 7)).astype(float)  # repeated values, equal counts
    return [Sample((ties,)), Sample((ties, 0, True))]


def _aminmax_samples(rng):
    return [
        Sample((rand(rng, 3, 4),)),
        Sample((rand(rng, 3, 4),), {"dim": 1}),
        Sample((rand(rng, 3, 4),), {"dim": 0, "keepdim": True}),
    ]


def _quantile_samples(rng):
    q = np.array([0.0, 0.25, 0.6, 1.0])
    return [
        Sample((rand(rng, 3, 5), 0.3)),
        Sample((rand(rng, 3, 5), q, 1), nograd=(1,)),
        Sample((rand(rng, 4, 3), q, 0, True), nograd=(1,)),
        Sample((rand(rng, 3, 4), q), {"keepdim": True}, nograd=(1,)),
        *[
            Sample((rand(rng, 3, 6), q, 1), {"interpolation": mode}, nograd=(1,))
            for mode in ("lower", "higher", "midpoint", "nearest")
        ],
        Sample((_with_nan(rng), q, 1), nograd=(0, 1)),
        Sample((np.array([[np.nan, np.nan], [1.0, 2.0]]), 0.5, 1), nograd=(0,)),
    ]


def _cov_samples(rng):
    return [
        Sample((rand(rng, 3, 6),)),
        Sample((rand(rng, 6),)),
        Sample((rand(rng, 2, 5),), {"correction": 0}),
        Sample((rand(rng, 2, 4), rng.integers(1, 4, size=4), rng.uniform(0.5, 2.0, size=4)),
               nograd=(2,)),
    ]  # fmt: skip


def _cov(lib):
    """cov with the weights passed by position, so that the sample turns them into tensors."""
    return lambda x, fweights=None, aweights=None, **kw: lib.cov(
        x, fweights=fweights, aweights=aweights, **kw
    )


def _trapezoid_samples(rng):
    points = np.cumsum(rng.uniform(0.1, 1.0, size=5))
    return [
        Sample((rand(rng, 3, 5),)),
        Sample((rand(rng, 3, 5), points)),
        Sample((rand(rng, 5, 3), points), {"dim": 0}),
        Sample((rand(rng, 3, 5),), {"dx": 0.5}),
        Sample((rand(rng, 3, 5), np.sort(rand(rng, 3, 5), 1))),
    ]


def _vander_samples(rng):
    return [
        Sample((rand(rng, 4),)),
        Sample((rand(rng, 3), 5, True)),
        Sample((rng.integers(-3, 4, size=4),), {"N": 3}),
    ]


def _dist_samples(rng):
    return [Sample((rand(rng, 3, 4), rand(rng, 4), p)) for p in (2, 1, 3.5, math.inf)]


def _dist_count_samples(rng):
    """p = 0 counts the differing elements (torch's backward of it fails: forward only)."""
    a = rand(rng, 3, 4)
    b = a.copy()
    b[0, 1] = 5.0
    return [Sample((a, b, 0)), Sample((a, rand(rng, 4), 0))]


def _cdist_samples(rng):
    return [
        Sample((rand(rng, 4, 3), rand(rng, 5, 3))),
        Sample((rand(rng, 4, 3), rand(rng, 2, 3), 1.0)),
        Sample((rand(rng, 2, 4, 3), rand(rng, 2, 5, 3), 3.0)),
        Sample((rand(rng, 4, 3), rand(rng, 5, 3), math.inf)),
    ]


def _renorm_samples(rng):
    return [
        Sample((rand(rng, 3, 4), 2, 0, 1.0)),
        Sample((rand(rng, 3, 4), 1, 1, 2.0)),
        Sample((rand(rng, 2, 3, 2), 3, -1, 1.5)),
    ]


def _histc_samples(rng):
    return [
        Sample((rand(rng, 3, 4),), {"bins": 5}),
        Sample((rand(rng, 10), 4, -1.0, 1.0)),  # the elements outside are not counted
        Sample((np.full(3, 2.0),), {"bins": 3}),  # one value: a range around it
    ]


def _histogram(lib):
    """histogram with the weight passed by position, so that the sample makes it a tensor."""
    return lambda x, bins, weight=None, **kw: lib.histogram(x, bins, weight=weight, **kw)


def _histogram_samples(rng):
    x = rand(rng, 3, 4)
    return [
        Sample((x, 5)),
        Sample((x, np.array([-2.0, -0.5, 0.0, 2.0]))),
        Sample((x, 3, rng.uniform(0.5, 2.0, size=(3, 4))), {"range": (-1.0, 1.5)}),
        Sample((x, 4), {"density": True}),
    ]


def _bincount_samples(rng):
    x = rng.integers(0, 6, size=10)
    return [
        Sample((x,)),
        Sample((x, rng.uniform(-1.0, 1.0, size=10))),
        Sample((x, rng.integers(0, 5, size=10))),  # integer weights sum in float64
        Sample((x,), {"minlength": 9}),
    ]


def _unique_samples(rng):
    ints = rng.integers(0, 4, size=(5, 3))
    return [
        Sample((ints,)),
        Sample((ints,), {"return_inverse": True, "return_counts": True}),
        Sample((np.round(rand(rng, 8), 0),), {"return_counts": True}),
        Sample((ints[:, :1].repeat(2, 1),), {"dim": 0, "return_inverse": True}),
        Sample((np.array(3),), {"return_inverse": True}),
    ]


def _unique_consecutive_samples(rng):
    runs = np.array([1, 1, 2, 2, 3, 1, 1, 2])
    return [
        Sample((runs,)),
        Sample((runs,), {"return_inverse": True, "return_counts": True}),
        Sample((np.array([[1, 2], [1, 2], [3, 4], [1, 2]]),), {"dim": 0, "return_counts": True}),
    ]


SPECS: list[OpSpec] = [
    spec("median", _median_samples, prims=("SelectIndex",)),
    spec("nanmedian", _median_samples),
    spec("kthvalue", _kthvalue_samples),
    spec("mode", _mode_samples, gradcheck=False),  # ties: a nudge changes which value is picked
    spec("aminmax", _aminmax_samples),
    spec("msort", lambda rng: [Sample((rand(rng, 4, 3),)), Sample((rand(rng, 5),))]),
    spec("quantile", _quantile_samples),
    spec("nanquantile", _quantile_samples),
    OpSpec("cov", _cov(ember), _cov(torch), _cov_samples),
    spec("corrcoef", lambda rng: [Sample((rand(rng, 3, 6),)), Sample((rand(rng, 5),))]),
    spec("trapezoid", _trapezoid_samples),
    spec("trapz", _trapezoid_samples),
    spec("cumulative_trapezoid", _trapezoid_samples),
    # torch's vander backward fails (it writes into a saved tensor): tests/ops/test_stats.py
    spec("vander", _vander_samples, grad=False, gradcheck=False),
    spec("dist", _dist_samples),
    OpSpec("dist.p0", ember.dist, torch.dist, _dist_count_samples, grad=False),
    spec("cdist", _cdist_samples),
    spec("renorm", _renorm_samples),
    spec("pdist", lambda rng: [Sample((rand(rng, 4, 3),)), Sample((rand(rng, 5, 2), 1.0))]),
    # counting: no derivatives (torch's raise), so forward only
    spec("histc", _histc_samples, prims=("HistogramEdges",), grad=False),
    OpSpec(
        "histogram",
        _histogram(ember),
        _histogram(torch),
        _histogram_samples,
        prims=("HistogramCounts",),
        grad=False,
    ),
    spec("bincount", _bincount_samples, prims=("BinCount",), grad=False),
    spec("unique", _unique_samples, prims=("Unique",), grad=False),
    spec("unique_consecutive", _unique_consecutive_samples, grad=False),
]
