"""Op database: ember/ops/scatter_extra.py (scatter_reduce, index_reduce, put, index_put)."""

from __future__ import annotations

import numpy as np
import torch

import ember
from tests.ops.specs import OpSpec, Sample, rand
from tests.ops.torch_errors import quiet

REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def method(name, samples, call, **kw):
    return OpSpec(name, call, call, samples, **kw)


def _scatter_samples(reduce):
    def samples(rng):
        index = np.array([[0, 2, 0, 1], [1, 1, 1, 0]])  # repeats, and row 2 of dim 0 untouched
        out = []
        for include_self in (True, False):
            kw = {"include_self": include_self}
            out.append(Sample((rand(rng, 3, 4), 0, index, rand(rng, 2, 4), reduce), kw))
        out.append(
            Sample((rand(rng, 3, 5), 1, np.array([[4, 0, 4], [0, 0, 2]]), rand(rng, 2, 3), reduce))
        )
        return out

    return samples


def _with_zeros(rng):
    """Products with one zero and with two zeros in a group."""
    x, src = rand(rng, 2, 3), rand(rng, 4, 3)
    x[0, 0] = src[1, 0] = 0.0  # column 0, row 0: two zeros
    src[2, 1] = 0.0  # column 1: one zero
    index = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 0], [0, 1, 0]])
    return [
        Sample((x, 0, index, src, "prod")),
        Sample((x, 0, index, src, "prod"), {"include_self": False}),
    ]


def _ties(rng):
    x = np.array([[1.0, 2.0, 3.0], [0.5, 0.5, 0.5]])
    src = np.array([[1.0, 0.0, 3.0], [1.0, 2.0, -1.0]])
    index = np.zeros((2, 3), dtype=np.int64)
    return [Sample((x, 0, index, src, r)) for r in ("amax", "amin")]


def _legacy_names(rng):
    """ "max" and "min", PyTorch's older names for amax and amin (it has no backward for them)."""
    return [
        Sample((rand(rng, 3, 4), 0, np.array([[0, 2, 0, 1]]), rand(rng, 1, 4), r))
        for r in ("max", "min")
    ]


def _index_reduce_samples(reduce):
    def samples(rng):
        rows = np.array([0, 2, 0])
        return [
            Sample((rand(rng, 3, 4), 0, rows, rand(rng, 3, 4), reduce)),
            Sample((rand(rng, 2, 4), 1, rows, rand(rng, 2, 3), reduce), {"include_self": False}),
        ]

    return samples


def _integers(rng):
    x = np.array([5, 6, 7])
    return [Sample((x, 0, np.array([0, 0, 1]), np.array([1, 2, 4]), r)) for r in REDUCTIONS]


def _put_samples(rng):
    return [
        Sample((rand(rng, 3, 4), np.array([[0, 5], [-1, 7]]), rand(rng, 2, 2))),
        Sample((rand(rng, 3, 4), np.array([1, 1, -12]), rand(rng, 3), True)),
    ]


def _index_put_samples(rng):
    return [
        Sample((rand(rng, 3, 4), (np.array([0, 2]), np.array([1, 3])), rand(rng, 2))),
        Sample((rand(rng, 3, 4), (np.array([1, 1]),), rand(rng, 2, 4), True)),
    ]


def _smaller_index(rng):
    """An index smaller than src: only src's leading block is scattered (torch's backward
    rejects this case, so forward only)."""
    index = np.array([[4, 0], [0, 0]])
    return [Sample((rand(rng, 3, 5), 1, index, rand(rng, 2, 3), r)) for r in REDUCTIONS]


def _index_put(lib):
    def call(x, indices, values, *rest):
        wrap = ember.tensor if lib is ember else torch.tensor
        return x.index_put(tuple(wrap(i) for i in indices), values, *rest)

    return call


def _inplace(name):
    return lambda x, *a, **k: getattr(x.clone(), name)(*a, **k)


SPECS = [
    *[
        OpSpec(
            f"scatter_reduce:{r}",
            ember.scatter_reduce,
            torch.scatter_reduce,
            _scatter_samples(r),
            prims=("ScatterReduce",),
        )
        for r in REDUCTIONS
    ],
    OpSpec("scatter_reduce:zeros", ember.scatter_reduce, torch.scatter_reduce, _with_zeros),
    OpSpec(  # ties: the gradient is shared, which finite differences cannot see
        "scatter_reduce:ties", ember.scatter_reduce, torch.scatter_reduce, _ties, gradcheck=False
    ),
    OpSpec(
        "scatter_reduce:part",
        ember.scatter_reduce,
        torch.scatter_reduce,
        _smaller_index,
        grad=False,
    ),
    OpSpec(
        "scatter_reduce:legacy",
        ember.scatter_reduce,
        torch.scatter_reduce,
        _legacy_names,
        grad=False,
    ),
    OpSpec("scatter_reduce:int", ember.scatter_reduce, torch.scatter_reduce, _integers),
    method(
        "scatter_reduce:.", _scatter_samples("mean"), lambda x, *a, **k: x.scatter_reduce(*a, **k)
    ),
    method("scatter_reduce_", _scatter_samples("amax"), _inplace("scatter_reduce_")),
    *[
        OpSpec(
            f"index_reduce:{r}",
            ember.index_reduce,
            quiet(torch.index_reduce),
            _index_reduce_samples(r),
        )
        for r in REDUCTIONS[1:]
    ],
    method(
        "index_reduce:.",
        _index_reduce_samples("prod"),
        quiet(lambda x, *a, **k: x.index_reduce(*a, **k)),
    ),
    method("index_reduce_", _index_reduce_samples("amin"), quiet(_inplace("index_reduce_"))),
    OpSpec("put", ember.put, torch.put, _put_samples),
    method("put:.", _put_samples, lambda x, *a: x.put(*a)),
    method("put_", _put_samples, _inplace("put_")),
    OpSpec("Tensor.index_put", _index_put(ember), _index_put(torch), _index_put_samples),
]
