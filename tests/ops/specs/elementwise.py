"""Op database: elementwise family."""

from __future__ import annotations

import numpy as np
import torch

import ember
from tests.ops.specs import OpSpec, Sample, positive, rand

SHAPES = [(3, 4), (), (2, 0, 3), (2, 3, 4)]


def _unary_samples(gen=rand):
    def make(rng):
        return [Sample((gen(rng, *s),)) for s in SHAPES]

    return make


def _binary_samples(gen_a=rand, gen_b=rand):
    pairs = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (2, 3)), ((0, 3), (3,))]

    def make(rng):
        return [Sample((gen_a(rng, *a), gen_b(rng, *b))) for a, b in pairs]

    return make


def unary(name, prim, gen=rand, second_order=True, gradcheck=True, tfn=None):
    return OpSpec(
        name,
        getattr(ember, name),
        tfn or getattr(torch, name),
        _unary_samples(gen),
        prims=(prim,),
        second_order=second_order,
        gradcheck=gradcheck,
    )


def binary(name, prim, gen_a=rand, gen_b=rand, second_order=True, grad=True):
    return OpSpec(
        name,
        getattr(ember, name),
        getattr(torch, name),
        _binary_samples(gen_a, gen_b),
        prims=(prim,),
        second_order=second_order,
        grad=grad,
        gradcheck=grad,
    )


def nonzero_rand(rng, *shape):
    return np.asarray(rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 2.0, size=shape))


def unit(rng, *shape):
    return rng.uniform(-0.9, 0.9, size=shape)


def _scalar_operands(rng):
    x = rand(rng, 3, 4)
    return [Sample((x, 2.5)), Sample((x, 3)), Sample((1.5, x)), Sample((x, True))]


def _int_samples(rng):
    a = rng.integers(-5, 6, size=(3, 4))
    b = rng.integers(1, 4, size=(4,))
    return [Sample((a, b)), Sample((a, 2)), Sample((a.astype(np.int32), 1.5))]


def _where_samples(rng):
    c = rng.random((3, 4)) > 0.5
    return [
        Sample((c, rand(rng, 3, 4), rand(rng, 3, 4))),
        Sample((c, rand(rng, 4), rand(rng, 3, 1))),
        Sample((c, rand(rng, 3, 4), 0.0)),
    ]


def _clamp_samples(rng):
    x = rand(rng, 3, 4)
    return [
        Sample((x,), {"min": -0.5, "max": 0.5}),
        Sample((x,), {"min": 0.1}),
        Sample((x,), {"max": -0.2}),
    ]


def _pow_samples(rng):
    return [
        Sample((positive(rng, 3, 4), rand(rng, 3, 4))),
        Sample((rand(rng, 3, 4), 2)),
        Sample((rand(rng, 3, 4), 3.0)),
        Sample((positive(rng, 3), 0.5)),
        Sample((2.0, rand(rng, 3, 4))),
    ]


def _cast_samples(rng):
    return [
        Sample((rand(rng, 3, 4),), {"dtype": "float64"}),
        Sample((rand(rng, 3, 4),), {"dtype": "float32"}),
        Sample((rand(rng, 3, 4) * 10,), {"dtype": "int64"}),
    ]


def _cast(lib):
    return lambda x, dtype: x.to(getattr(lib, dtype))


def _compare(name):
    return OpSpec(
        name,
        getattr(ember, name),
        getattr(torch, name),
        _binary_samples(),
        prims=(name.capitalize(),),
        grad=False,
    )


def _logical(name, prim):
    def make(rng):
        a, b = rng.random((3, 4)) > 0.5, rng.random((4,)) > 0.3
        return [Sample((a, b))]

    return OpSpec(name, getattr(ember, name), getattr(torch, name), make, prims=(prim,), grad=False)


def _special_values(rng):
    x = np.array([[0.0, -1.0, np.inf], [-np.inf, np.nan, 2.5]])
    return [Sample((x,), nograd=(0,))]


def _isclose_samples(rng):
    x = rand(rng, 3, 4)
    y = x + rng.choice([0.0, 1e-9, 1e-6, 1e-3], size=(3, 4))
    special = np.array([np.inf, -np.inf, np.nan, np.inf, 1.0, np.nan])
    other = np.array([np.inf, np.inf, np.nan, 1e30, np.nan, 1.0])
    ints = rng.integers(0, 4, size=(5,))
    return [
        Sample((x, y)),
        Sample((x, y), {"rtol": 0.0, "atol": 1e-7}),
        Sample((x, y[0])),
        Sample((special, other)),
        Sample((special, other), {"equal_nan": True}),
        Sample((ints, ints + rng.integers(0, 2, size=(5,))), {"atol": 1}),
        Sample((rng.random(4) > 0.5, rng.random(4) > 0.5)),
    ]


def _addc_samples(rng):
    return [
        Sample((rand(rng, 3, 4), rand(rng, 3, 4), nonzero_rand(rng, 4))),
        Sample((rand(rng, 4), rand(rng, 3, 1), nonzero_rand(rng, 3, 4)), {"value": -0.5}),
    ]


def _bound_samples(rng):
    return [Sample((rand(rng, 3, 4), 0.3)), Sample((rand(rng, 3, 4), rand(rng, 4)))]


SPECS = [
    unary("neg", "Neg"),
    unary("exp", "Exp"),
    unary("exp2", "Exp2"),
    unary("log", "Log", positive),
    unary("log2", "Log2", positive),
    unary("log10", "Log10", positive),
    unary("log1p", "Log1p", positive),
    unary("expm1", "Expm1"),
    unary("sqrt", "Sqrt", positive),
    unary("rsqrt", "Rsqrt", positive),
    unary("sin", "Sin"),
    unary("cos", "Cos"),
    unary("tan", "Tan", unit),
    unary("asin", "Asin", unit),
    unary("acos", "Acos", unit),
    unary("atan", "Atan"),
    unary("sinh", "Sinh"),
    unary("cosh", "Cosh"),
    unary("tanh", "Tanh"),
    unary("sigmoid", "Sigmoid"),
    unary("relu", "Relu", nonzero_rand),
    unary("erf", "Erf"),
    unary("abs", "Abs", nonzero_rand),
    unary("sign", "Sign", nonzero_rand, gradcheck=False),
    unary("floor", "Floor", gradcheck=False),
    unary("ceil", "Ceil", gradcheck=False),
    unary("round", "Round", gradcheck=False),
    unary("trunc", "Trunc", gradcheck=False),
    unary("reciprocal", "Reciprocal", nonzero_rand),
    unary("square", "Mul"),
    OpSpec(
        "sigmoid_extreme",
        ember.sigmoid,
        torch.sigmoid,
        lambda rng: [Sample((np.array([-1e4, -50.0, 0.0, 50.0, 1e4]),))],
        prims=("Sigmoid",),
        gradcheck=False,
    ),
    OpSpec("isnan", ember.isnan, torch.isnan, _special_values, prims=("IsNan",), grad=False),
    OpSpec("isinf", ember.isinf, torch.isinf, _special_values, prims=("IsInf",), grad=False),
    OpSpec(
        "isfinite", ember.isfinite, torch.isfinite, _special_values, prims=("IsFinite",), grad=False
    ),
    OpSpec(
        "logical_not",
        ember.logical_not,
        torch.logical_not,
        lambda rng: [Sample((rng.random((3, 4)) > 0.5,))],
        prims=("LogicalNot",),
        grad=False,
    ),
    binary("add", "Add"),
    binary("sub", "Sub"),
    binary("mul", "Mul"),
    binary("div", "Div", gen_b=nonzero_rand),
    binary("maximum", "Maximum"),
    binary("minimum", "Minimum"),
    binary("atan2", "Atan2", gen_b=nonzero_rand),
    binary("remainder", "Remainder", gen_b=nonzero_rand, second_order=False),
    binary("fmod", "Fmod", gen_b=nonzero_rand, second_order=False),
    binary("floor_divide", "FloorDivide", gen_b=nonzero_rand, grad=False),
    OpSpec("pow", ember.pow, torch.pow, _pow_samples, prims=("Pow",), second_order=True),
    OpSpec("mul_scalar", ember.mul, torch.mul, _scalar_operands, prims=("Mul",)),
    OpSpec("add_scalar", ember.add, torch.add, _scalar_operands, prims=("Add",)),
    OpSpec(
        "int_promotion_div", ember.div, torch.div, _int_samples, prims=("Div", "Cast"), grad=False
    ),
    OpSpec("int_promotion_add", ember.add, torch.add, _int_samples, prims=("Add",), grad=False),
    OpSpec("where", ember.where, torch.where, _where_samples, prims=("Where",), second_order=True),
    OpSpec("clamp", ember.clamp, torch.clamp, _clamp_samples, prims=("Clamp",)),
    OpSpec("cast", _cast(ember), _cast(torch), _cast_samples, prims=("Cast",), gradcheck=False),
    OpSpec("clone", ember.clone, torch.clone, _unary_samples(), prims=("Copy",)),
    OpSpec(
        "lerp",
        ember.lerp,
        torch.lerp,
        lambda rng: [Sample((rand(rng, 3, 4), rand(rng, 3, 4), rand(rng, 3, 4)))],
        prims=("Add", "Sub", "Mul"),
    ),
    _compare("eq"),
    _compare("ne"),
    _compare("lt"),
    _compare("le"),
    _compare("gt"),
    _compare("ge"),
    _logical("logical_and", "LogicalAnd"),
    _logical("logical_or", "LogicalOr"),
    _logical("logical_xor", "LogicalXor"),
    OpSpec("isclose", ember.isclose, torch.isclose, _isclose_samples, grad=False),
    OpSpec("allclose", ember.allclose, torch.allclose, _isclose_samples, grad=False),
    OpSpec("addcmul", ember.addcmul, torch.addcmul, _addc_samples, second_order=True),
    OpSpec("addcdiv", ember.addcdiv, torch.addcdiv, _addc_samples, second_order=True),
    OpSpec("clamp_min", ember.clamp_min, torch.clamp_min, _bound_samples),
    OpSpec("clamp_max", ember.clamp_max, torch.clamp_max, _bound_samples),
]
