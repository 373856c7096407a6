"""Op database: ember/ops/special.py (lgamma, digamma, polygamma, erfc, erfinv, i0, igamma …)
and the ``ember.special`` namespace."""

from __future__ import annotations

import numpy as np
import torch

import ember
from tests.ops.specs import OpSpec, Sample, positive

# away from the poles of lgamma and digamma at 0, -1, -2 …; both sides of the minimum near 1.46
_GAMMA_ARGS = np.array([[-3.7, -2.5, -1.2, -0.4], [0.05, 0.7, 1.46, 2.0], [3.3, 9.5, 10.5, 30.0]])


def _gamma_samples(rng):
    return [
        Sample((_GAMMA_ARGS,)),
        Sample((rng.uniform(0.2, 12.0, size=(2, 5)),)),
    ]


def _unit(rng, *shape):
    return rng.uniform(-0.95, 0.95, size=shape)


def _erfinv_samples(rng):
    return [Sample((_unit(rng, 3, 4),)), Sample((np.array([-0.99, 0.6, 1e-9, 0.98]),))]


def _erfc_samples(rng):
    return [Sample((rng.uniform(-3.0, 3.0, size=(3, 4)),)), Sample((np.array([-6.0, 3.5, 9.0]),))]


def _i0_samples(rng):
    return [Sample((rng.uniform(-6.0, 6.0, size=(3, 4)),)), Sample((np.array([-35.0, 0.0, 42.0]),))]


def _igamma_samples(rng):
    a = positive(rng, 3, 4) * 3  # the series (x < a + 1) and the continued fraction (beyond)
    x = rng.uniform(0.1, 8.0, size=(3, 4))
    return [
        Sample((a, x), nograd=(0,)),
        Sample((np.array([0.5, 4.0, 20.0]), np.array([2.5])), nograd=(0,)),
    ]


def _polygamma_samples(rng):
    return [Sample((n, _GAMMA_ARGS)) for n in (0, 1, 2, 5)]


def _mvlgamma_samples(rng):
    x = rng.uniform(2.5, 6.0, size=(3, 4))
    return [Sample((x,), {"p": 1}), Sample((x,), {"p": 4})]


def spec(name, samples, **kw):
    return OpSpec(name, getattr(ember, name), getattr(torch, name), samples, **kw)


def special(name, samples, **kw):
    """An ``ember.special`` function against ``torch.special``'s."""
    fns = [lambda *a, lib=lib, **k: getattr(lib.special, name)(*a, **k) for lib in (ember, torch)]
    return OpSpec(f"special.{name}", *fns, samples, **kw)


def _polygamma_method(name):
    """``x.polygamma(n)`` and ``x.polygamma_(n)``: the tensor comes first, then n."""

    def call(x, n):
        return getattr(x.clone() if name.endswith("_") else x, name)(n)

    def samples(rng):
        return [Sample((_GAMMA_ARGS, 2))]

    return OpSpec(f"polygamma.{name}", call, call, samples, gradcheck=False)


SPECS: list[OpSpec] = [
    spec("lgamma", _gamma_samples, prims=("Lgamma",), second_order=True),
    spec("digamma", _gamma_samples, prims=("Polygamma",), second_order=True),
    spec("polygamma", _polygamma_samples, second_order=True, rtol32=3e-4),
    _polygamma_method("polygamma"),
    _polygamma_method("polygamma_"),
    spec("mvlgamma", _mvlgamma_samples),
    spec("erfc", _erfc_samples, prims=("Erfc",), second_order=True),
    spec("erfinv", _erfinv_samples, prims=("Erfinv",), second_order=True, rtol32=3e-4),
    spec("i0", _i0_samples, prims=("I0", "I1"), second_order=True),
    spec("igamma", _igamma_samples, prims=("Igamma",)),
    spec("igammac", _igamma_samples, prims=("Igamma",)),
    special("gammaln", _gamma_samples),
    special("psi", _gamma_samples),
    special("multigammaln", _mvlgamma_samples),
    special("i1", _i0_samples, second_order=True),
    special("gammainc", _igamma_samples),
    special("gammaincc", _igamma_samples),
    special("ndtr", _erfc_samples),
    special("expit", _erfc_samples),
]
