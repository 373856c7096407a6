"""Op database: ember/ops/numeric.py (copysign, signbit, nextafter, ldexp, frexp, gcd, lcm,
angle, isreal) and ember/ops/predicates.py (is_complex … is_same_size, isin)."""

from __future__ import annotations

import numpy as np
import torch

import ember
from tests.ops.specs import OpSpec, Sample, rand

_SIGNED = np.array([1.5, -0.0, 0.0, -2.25, np.inf, -np.inf, np.nan])


def spec(name, samples, **kw):
    return OpSpec(name, getattr(ember, name), getattr(torch, name), samples, **kw)


def _nograd(name, samples):
    return spec(name, samples, grad=False, gradcheck=False)


def _ints(rng, *shape):
    return rng.integers(-30, 30, size=shape)


def _copysign_samples(rng):
    return [
        Sample((rand(rng, 3, 4), rand(rng, 4))),
        Sample((rand(rng, 3), -1.5)),
        Sample((_ints(rng, 3, 4), _ints(rng, 4))),  # integers give the default float dtype
    ]


def _signbit_samples(rng):
    return [Sample((_SIGNED,)), Sample((_ints(rng, 3, 4),))]


def _nextafter_samples(rng):
    x = np.array([1.0, -0.0, 0.0, 2.5, 1e-310, np.inf])
    return [
        Sample((x, np.array([2.0, 1.0, -1.0, 2.5, 0.0, 0.0]))),
        Sample((rand(rng, 3, 4), x[:4])),
    ]


def _ldexp_samples(rng):
    return [Sample((rand(rng, 3, 4), rng.integers(-4, 5, size=(4,)).astype(float)))]


def _ldexp_int_samples(rng):
    """Integer exponents: forward only, as torch's gradient there truncates 2 ** -k to 0."""
    return [
        Sample((rand(rng, 3, 4), rng.integers(-4, 5, size=(4,)))),
        Sample((_ints(rng, 3), rng.integers(-2, 3, size=(3,)))),
    ]


def _frexp_samples(rng):
    return [Sample((rand(rng, 3, 4) * 100,)), Sample((_SIGNED,), nograd=(0,))]


def _gcd_samples(rng):
    a = _ints(rng, 3, 4)
    a[0, 0] = 0
    return [Sample((a, _ints(rng, 4))), Sample((np.array([0, -4, 6]), np.array([0, 6, -4])))]


def _angle_samples(rng):
    return [Sample((rand(rng, 3, 4),)), Sample((_SIGNED,), nograd=(0,)), Sample((_ints(rng, 4),))]


def _isin_samples(rng):
    a = _ints(rng, 3, 4) % 7
    return [
        Sample((a, np.array([0, 3, 5]))),
        Sample((a, np.array([[1], [2]])), {"invert": True}),
        Sample((a, 3)),
        Sample((4, a)),
        Sample((np.array([1.5, -0.0, 2.0]), np.array([0, 2])), {"assume_unique": True}),
    ]


def _tensor_samples(rng):
    return [Sample((rand(rng, 3, 4),)), Sample((_ints(rng, 3),)), Sample((np.array([True]),))]


def _nonzero_samples(rng):
    return [Sample((np.array([0.0]),)), Sample((np.array([[np.nan]]),)), Sample((np.array(3),))]


def _same_size_samples(rng):
    return [Sample((rand(rng, 3, 4), _ints(rng, 3, 4))), Sample((rand(rng, 3, 4), rand(rng, 4, 3)))]


SPECS: list[OpSpec] = [
    spec("copysign", _copysign_samples, prims=("Copysign",)),
    spec("signbit", _signbit_samples, prims=("SignBit",), grad=False, gradcheck=False),
    OpSpec(
        "nextafter",
        ember.nextafter,
        torch.nextafter,
        _nextafter_samples,
        prims=("Nextafter",),
        grad=False,  # torch has no derivative for it (ember raises as torch does)
        gradcheck=False,
    ),
    spec("ldexp", _ldexp_samples),
    OpSpec("ldexp.int_exponent", ember.ldexp, torch.ldexp, _ldexp_int_samples, grad=False),
    spec("frexp", _frexp_samples, prims=("FrexpMantissa", "FrexpExponent")),
    spec("gcd", _gcd_samples, prims=("GcdLcm",), grad=False, gradcheck=False),
    _nograd("lcm", _gcd_samples),
    spec("angle", _angle_samples, prims=("Angle",)),
    _nograd("isreal", _tensor_samples),
    _nograd("is_complex", _tensor_samples),
    _nograd("is_floating_point", _tensor_samples),
    _nograd("is_signed", _tensor_samples),
    _nograd("is_nonzero", _nonzero_samples),
    _nograd("is_same_size", _same_size_samples),
    spec("isin", _isin_samples, prims=("IsIn",), grad=False, gradcheck=False),
]
