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
]
