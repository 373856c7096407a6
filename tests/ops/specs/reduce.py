"""Op database: reduce family."""

from __future__ import annotations

import numpy as np
import torch

import ember
from tests.ops.specs import OpSpec, Sample, positive, rand

INF = float("inf")


def _dim_samples(gen=rand, empty: bool = True):
    """Full and partial reductions: negative dims, dim tuples, keepdim, 0-d and zero-size."""

    def make(rng):
        x = gen(rng, 2, 3, 4)
        samples = [
            Sample((x,)),
            Sample((x, 1)),
            Sample((x, -1), {"keepdim": True}),
            Sample((x, (0, 2))),
            Sample((x, (-1, 0)), {"keepdim": True}),
            Sample((x, ())),
            Sample((gen(rng),)),
            Sample((gen(rng), 0)),
            Sample((gen(rng, 5), 0), {"keepdim": True}),
        ]
        if empty:
            samples += [Sample((gen(rng, 2, 0, 3), 1)), Sample((gen(rng, 2, 0, 3), 0))]
        return samples

    return make


def reduction(name, prim, gen=rand, empty=True, second_order=True, **kw):
    return OpSpec(
        name,
        getattr(ember, name),
        getattr(torch, name),
        _dim_samples(gen, empty),
        prims=(prim,),
        second_order=second_order,
        **kw,
    )


def _distinct(rng, *shape):
    """Nonzero values without ties, even in absolute value (extremum gradients are defined)."""
    n = int(np.prod(shape, dtype=np.int64))
    magnitude = (rng.permutation(n) + 1.0) / max(n, 1)
    return (magnitude * rng.choice([-1.0, 1.0], size=n)).reshape(shape)


def _int_samples(rng):
    a = rng.integers(-5, 6, size=(3, 4))
    return [
        Sample((a,)),
        Sample((a, 1)),
        Sample((a.astype(np.int32), 0), {"keepdim": True}),
        Sample((rng.random((3, 4)) > 0.5,)),
        Sample((rng.random((3, 4)) > 0.5, -1)),
    ]


def _ties(rng):
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0], [-1.0, 0.5, -1.0, 0.5]])
    return [
        Sample((x,)),
        Sample((x, 1)),
        Sample((x, 0), {"keepdim": True}),
        Sample((np.array([5.0, 5.0]),)),
    ]


def _extremum_dim_samples(rng):
    x = _distinct(rng, 2, 3, 4)
    return [
        Sample((x, 1)),
        Sample((x, -1), {"keepdim": True}),
        Sample((_distinct(rng), 0)),
        Sample((_distinct(rng, 5), 0), {"keepdim": True}),
        Sample((rand(rng, 2, 0, 3), 0)),
    ]


def _extremum_all_samples(rng):
    return [Sample((_distinct(rng, 3, 4),)), Sample((_distinct(rng),))]


def _arg_samples(rng):
    x = _distinct(rng, 2, 3, 4)
    ties = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    return [
        Sample((x,)),
        Sample((x, 1)),
        Sample((x, -1), {"keepdim": True}),
        Sample((x,), {"keepdim": True}),
        Sample((ties, 1)),
        Sample((ties,)),
        Sample((_distinct(rng),)),
        Sample((_distinct(rng), 0)),
        Sample((rng.integers(-9, 9, size=(3, 5)), 0)),
    ]


def _prod_samples(rng):
    x = rand(rng, 2, 3, 4, low=0.5, high=1.5) * rng.choice([-1.0, 1.0], size=(2, 3, 4))
    return [
        Sample((x,)),
        Sample((x, 1)),
        Sample((x, -1), {"keepdim": True}),
        Sample((rand(rng),)),
        Sample((rand(rng, 2, 0, 3), 1)),
    ]


def _prod_zero_samples(rng):
    one_zero = rand(rng, 3, 4)
    one_zero[0, 1] = 0.0
    one_zero[2, 3] = 0.0
    two_zeros = rand(rng, 3, 4)
    two_zeros[1, 0] = two_zeros[1, 2] = 0.0
    three_zeros = np.array([[0.0, 1.5, 0.0, 0.0], [0.0, 0.0, -2.0, 1.0]])
    return [
        Sample((one_zero, 1)),
        Sample((one_zero,)),
        Sample((two_zeros, 1), {"keepdim": True}),
        Sample((three_zeros, 1)),
        Sample((three_zeros, 0)),
    ]


def _var_samples(rng):
    x = rand(rng, 3, 4, 5)
    return [
        Sample((x,)),
        Sample((x, 1)),
        Sample((x, (0, -1)), {"keepdim": True}),
        Sample((x, -1), {"correction": 0}),
        Sample((x, 2), {"correction": 2, "keepdim": True}),
        Sample((x, 0), {"unbiased": False}),
        Sample((x,), {"unbiased": True}),
        Sample((rand(rng, 6), 0)),
    ]


def _moment_samples(rng):
    x = rand(rng, 3, 4)
    return [
        Sample((x,)),
        Sample((x, 1)),
        Sample((x, 0), {"correction": 0, "keepdim": True}),
        Sample((x, (0, 1))),
        Sample((x, 1), {"unbiased": False, "keepdim": True}),
        Sample((rand(rng, 5),), {"unbiased": True}),
    ]


def _logsumexp_samples(rng):
    x = rand(rng, 2, 3, 4)
    return [
        Sample((x, 1)),
        Sample((x, -1), {"keepdim": True}),
        Sample((x, (0, 2))),
        Sample((rand(rng), 0)),
        Sample((np.array([[1000.0, 1000.0, -5.0], [-1000.0, -1001.0, -999.0]]), 1)),
        Sample((rand(rng, 2, 0), 1)),
    ]


def _logsumexp_inf_samples(rng):
    x = np.array([[-INF, -INF, -INF], [-INF, 1.0, 2.0], [INF, 1.0, -INF], [INF, INF, 0.0]])
    return [Sample((x, 1), nograd=(0,)), Sample((x, 0), {"keepdim": True}, nograd=(0,))]


def _logsumexp_neg_inf_grad(rng):
    """A -inf entry is fine for the gradient as long as a row has a finite value."""
    x = np.array([[-INF, 1.0, 2.0], [0.5, -INF, -1.0]])
    return [Sample((x, 1))]


def _norm_samples(rng):
    x = rand(rng, 3, 4)
    y = _distinct(rng, 2, 3, 4)
    return [
        Sample((x,)),
        Sample((x, 2)),
        Sample((x, 1)),
        Sample((y, INF)),
        Sample((x, 3)),
        Sample((x, 1.5, 1)),
        Sample((x, "fro")),
        Sample((x, "fro", (0, 1))),
        Sample((y, 2, -1), {"keepdim": True}),
        Sample((y, 1, (0, 2))),
        Sample((y, INF, 1)),
        Sample((y, 3, 0), {"keepdim": True}),
        Sample((rand(rng), 2)),
    ]


def _norm_zero_samples(rng):
    z = np.zeros((2, 3))
    z[1] = [1.0, -2.0, 0.5]
    return [Sample((z, p, 1)) for p in (1, 2, 3, 1.5)] + [Sample((np.zeros(4), 2))]


def _norm_zero_inf_samples(rng):
    return [Sample((np.array([[0.0, 0.0], [1.0, -3.0]]), INF, 1))]


def _bool_samples(rng):
    b = rng.random((3, 4)) > 0.3
    x = np.where(rng.random((3, 4)) > 0.5, rand(rng, 3, 4), 0.0)
    return [
        Sample((b,)),
        Sample((b, 1)),
        Sample((b, 0), {"keepdim": True}),
        Sample((x, -1)),
        Sample((x,)),
        Sample((np.zeros((2, 0), dtype=bool), 1)),
        Sample((np.zeros((2, 0), dtype=bool),)),
    ]


def _cumsum_samples(rng):
    return [
        Sample((rand(rng, 3, 4), 1)),
        Sample((rand(rng, 3, 4), -2)),
        Sample((rand(rng, 2, 3, 4), 0)),
        Sample((rand(rng), 0)),
        Sample((rand(rng, 0, 3), 1)),
        Sample((rng.integers(-5, 6, size=(3, 4)), 1)),
        Sample((rng.integers(-5, 6, size=(3, 4)).astype(np.int32), 0)),
        Sample((rng.random((3, 4)) > 0.5, 1)),
    ]


def _count_nonzero_samples(rng):
    x = np.where(rng.random((3, 4, 2)) > 0.5, rand(rng, 3, 4, 2), 0.0)
    return [Sample((x,)), Sample((x,), {"dim": 1}), Sample((x,), {"dim": (0, -1)})]


def _method(name):
    """Call the Tensor method (checks the method binding as well as the function)."""
    return lambda x, *a, **k: getattr(x, name)(*a, **k)


def _with_nans(rng, *shape):
    x = rand(rng, *shape)
    x[rng.random(shape) < 0.3] = np.nan
    return x


def _nan_samples(rng):
    x = _with_nans(rng, 3, 4)
    x[0], x[:, 0] = rand(rng, 4), rand(rng, 3)  # every row and column has a number
    all_nan_row = x.copy()
    all_nan_row[1] = np.nan
    return [
        Sample((x,)),
        Sample((x, 1)),
        Sample((x, 0), {"keepdim": True}),
        Sample((x, (0, 1))),
        # torch's gradient is NaN on an all-NaN slice and ember's 0: only the values compare
        Sample((all_nan_row, 1), nograd=(0,)),
        Sample((rand(rng, 2, 3), -1)),
    ]


SPECS = [
    reduction("sum", "Sum"),
    OpSpec("sum_int", ember.sum, torch.sum, _int_samples, prims=("Sum",), grad=False),
    OpSpec(
        "sum_dtype",
        lambda x: ember.sum(x, dtype=ember.float64),
        lambda x: torch.sum(x, dtype=torch.float64),
        lambda rng: [Sample((rand(rng, 3, 4),))],
        prims=("Sum", "Cast"),
    ),
    reduction("mean", "Sum"),
    OpSpec("mean_method", _method("mean"), _method("mean"), _dim_samples(), prims=("Sum",)),
    OpSpec("prod", ember.prod, torch.prod, _prod_samples, prims=("Prod",), second_order=True),
    OpSpec(
        "prod_zeros", ember.prod, torch.prod, _prod_zero_samples, prims=("Prod",), second_order=True
    ),
    OpSpec("prod_int", ember.prod, torch.prod, _int_samples, prims=("Prod",), grad=False),
    reduction("amax", "Amax", _distinct, empty=False),
    reduction("amin", "Amin", _distinct, empty=False),
    OpSpec(
        "amax_empty_other_dim",
        ember.amax,
        torch.amax,
        lambda rng: [Sample((rand(rng, 2, 0, 3), 0)), Sample((rand(rng, 2, 0, 3), -1))],
        prims=("Amax",),
    ),
    OpSpec("amax_ties", ember.amax, torch.amax, _ties, prims=("Amax",), gradcheck=False),
    OpSpec("amin_ties", ember.amin, torch.amin, _ties, prims=("Amin",), gradcheck=False),
    OpSpec("max_dim", ember.max, torch.max, _extremum_dim_samples, prims=("ArgMax",)),
    OpSpec("min_dim", ember.min, torch.min, _extremum_dim_samples, prims=("ArgMin",)),
    OpSpec("max_all", ember.max, torch.max, _extremum_all_samples, prims=("Amax",)),
    OpSpec("min_all", _method("min"), _method("min"), _extremum_all_samples, prims=("Amin",)),
    OpSpec("max_ties", ember.max, torch.max, _ties, prims=("ArgMax",), gradcheck=False),
    OpSpec("min_ties", ember.min, torch.min, _ties, prims=("ArgMin",), gradcheck=False),
    OpSpec(
        "max_other",
        lambda a, b: ember.max(a, b),
        lambda a, b: torch.max(a, b),
        lambda rng: [Sample((_distinct(rng, 3, 4), _distinct(rng, 4)))],
        prims=("Maximum",),
    ),
    OpSpec("argmax", ember.argmax, torch.argmax, _arg_samples, prims=("ArgMax",), grad=False),
    OpSpec("argmin", ember.argmin, torch.argmin, _arg_samples, prims=("ArgMin",), grad=False),
    OpSpec("var", ember.var, torch.var, _var_samples, prims=("Sum",), second_order=True),
    OpSpec("std", ember.std, torch.std, _var_samples, prims=("Sum",), second_order=True),
    OpSpec("var_mean", ember.var_mean, torch.var_mean, _moment_samples, prims=("Sum",)),
    OpSpec("std_mean", ember.std_mean, torch.std_mean, _moment_samples, prims=("Sum",)),
    OpSpec(
        "logsumexp",
        ember.logsumexp,
        torch.logsumexp,
        _logsumexp_samples,
        prims=("Amax", "Sum"),
        second_order=True,
    ),
    OpSpec(
        "logsumexp_inf",
        ember.logsumexp,
        torch.logsumexp,
        _logsumexp_inf_samples,
        prims=("Amax",),
        grad=False,
    ),
    OpSpec(
        "logsumexp_neg_inf_grad",
        ember.logsumexp,
        torch.logsumexp,
        _logsumexp_neg_inf_grad,
        prims=("Amax",),
        gradcheck=False,
    ),
    OpSpec("norm", ember.norm, torch.norm, _norm_samples, prims=("Norm",), second_order=True),
    OpSpec("norm_zero", ember.norm, torch.norm, _norm_zero_samples, prims=("Norm",)),
    OpSpec(
        "norm_zero_inf",
        ember.norm,
        torch.norm,
        _norm_zero_inf_samples,
        prims=("Norm",),
        gradcheck=False,
    ),
    OpSpec("all", ember.all, torch.all, _bool_samples, prims=("All",), grad=False),
    OpSpec("any", ember.any, torch.any, _bool_samples, prims=("Any_",), grad=False),
    OpSpec("cumsum", ember.cumsum, torch.cumsum, _cumsum_samples, prims=("CumSum",)),
    OpSpec(
        "count_nonzero",
        ember.count_nonzero,
        torch.count_nonzero,
        _count_nonzero_samples,
        prims=("Sum",),
        grad=False,
    ),
    OpSpec(
        "sum_positive_method",
        _method("sum"),
        _method("sum"),
        _dim_samples(positive),
        prims=("Sum",),
        second_order=True,
    ),
    OpSpec("nansum", ember.nansum, torch.nansum, _nan_samples, gradcheck=False),
    OpSpec("nanmean", ember.nanmean, torch.nanmean, _nan_samples, gradcheck=False),
    OpSpec("nansum_int", ember.nansum, torch.nansum, _int_samples, grad=False),
]
