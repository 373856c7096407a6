"""Op database: index family (getitem, index_put, gather/scatter, masks, sort, top-k)."""

from __future__ import annotations

import numpy as np
import torch

import ember
from tests.ops.specs import OpSpec, Sample, rand

S = slice(None)


def ints(*values: int | list) -> np.ndarray:
    """An int64 index array (becomes a non-differentiable index tensor)."""
    return np.asarray(values if len(values) != 1 else values[0], dtype=np.int64)


def _index(x, *tensors, build):
    """``x[build(*tensors)]``: the same call works on ember and torch tensors."""
    return x[build(*tensors)]


def _index_put(x, v, *tensors, build, accumulate=False):
    """Functional ``x[build(*tensors)] = v`` (``torch.index_put`` takes only tensor indices)."""
    return (ember.index_put if isinstance(x, ember.Tensor) else torch.index_put)(
        x, build(*tensors), v, accumulate=accumulate
    )


def _basic_samples(rng):
    x = rand(rng, 3, 4, 5)
    builds = [
        lambda: (1, slice(None, None, 2)),
        lambda: (-1, slice(-3, None), slice(4, 0, None)),
        lambda: (slice(0, 3, 2), -2, slice(1, None, 3)),
        lambda: (None, Ellipsis, slice(1, 3), None),
        lambda: (Ellipsis, -2),
        lambda: (slice(1, 1),),
        lambda: (2, 3, 4),
        lambda: (),
    ]
    samples = [Sample((x,), {"build": b}, label=f"basic{k}") for k, b in enumerate(builds)]
    samples.append(Sample((rand(rng),), {"build": lambda: (None, Ellipsis)}, label="0-d"))
    samples.append(Sample((rand(rng, 2, 0, 3),), {"build": lambda: (S, S, 1)}, label="empty"))
    return samples


def _advanced_samples(rng):
    x = rand(rng, 3, 4, 5)
    return [
        Sample((x, ints(2, 0, 2, 2)), {"build": lambda i: i}, label="repeated"),
        Sample((x, ints([[1, 1], [0, -1]])), {"build": lambda i: (S, i)}, label="2-D index"),
        Sample((x, ints(1, 0, 1), ints(4, 4, 0)), {"build": lambda i, j: (i, S, j)}, label="i:j"),
        Sample((x, ints(3, 3), ints(0, 0)), {"build": lambda i, j: (S, i, j)}, label=":ij"),
        Sample((x, ints(2, 0, 2)), {"build": lambda i: (1, i, slice(None, None, 2))}, label="mix"),
        Sample((x, ints(0, 2)), {"build": lambda i: (i, None, slice(1, 3))}, label="mix-none"),
        Sample((x, ints(1, 1)), {"build": lambda i: (Ellipsis, i)}, label="ellipsis"),
        Sample((x, x > 0.5), {"build": lambda m: m}, label="full mask"),
        Sample((x, ints(1, 0, 1) > 0), {"build": lambda m: m}, label="row mask"),
        Sample((x, ints(1, 0, 0, 1) > 0), {"build": lambda m: (S, m, 0)}, label="mid mask"),
        Sample((x, x[0] > 0), {"build": lambda m: (1, m)}, label="2-D mask"),
        Sample(
            (
                x,
                ints(
                    [],
                ),
            ),
            {"build": lambda i: i},
            label="empty index",
        ),
    ]


def _index_put_samples(rng):
    x = rand(rng, 3, 4)
    return [
        Sample((x, rand(rng, 2, 4), ints(2, 0)), {"build": lambda i: (i,)}, label="rows"),
        Sample((x, rand(rng, 4), ints(2, 0)), {"build": lambda i: (i,)}, label="broadcast v"),
        Sample((x, rand(rng), ints(1, 0), ints(3, 3)), {"build": lambda i, j: (i, j)}, label="ij"),
        Sample(
            (x, rand(rng, 3), np.arange(12).reshape(3, 4) % 5 == 0),
            {"build": lambda m: (m,)},
            label="mask",
        ),
        Sample(
            (x, rand(rng, 4, 4), ints(2, 0, 2, 2)),
            {"build": lambda i: (i,), "accumulate": True},
            label="accumulate repeated",
        ),
        Sample(
            (x, rand(rng, 3), ints(1, 1, 1), ints(0, 0, 3)),
            {"build": lambda i, j: (i, j), "accumulate": True},
            label="accumulate ij",
        ),
    ]


def _gather_samples(rng):
    return [
        Sample((rand(rng, 3, 4), 1, ints([[0, 2], [1, 0]])), label="index smaller than input"),
        Sample((rand(rng, 3, 4), 0, ints([[2, 0, 2], [2, 2, 1]])), label="dim 0, repeats"),
        Sample((rand(rng, 2, 3, 4), -1, ints(rng.integers(0, 4, (2, 3, 6)))), label="dim -1"),
        Sample((rand(rng, 2, 3, 4), 1, ints(rng.integers(0, 3, (1, 2, 2)))), label="3-D small"),
        Sample((rand(rng, 3, 4), 1, np.zeros((3, 0), np.int64)), label="empty index"),
        Sample((rand(rng, 5), 0, ints(4, 0, 4)), label="1-D"),
    ]


def _unique_rows(rng, rows: int, k: int, n: int) -> np.ndarray:
    """``rows`` rows of ``k`` distinct indices into ``range(n)`` (scatter without duplicates)."""
    return np.stack([rng.permutation(n)[:k] for _ in range(rows)]).astype(np.int64)


def _scatter_samples(rng):
    return [
        # torch's own backward fails for a src larger than index, so src gets no gradient there
        Sample(
            (rand(rng, 3, 5), 1, _unique_rows(rng, 2, 3, 5), rand(rng, 3, 4)),
            nograd=(3,),
            label="src larger than index",
        ),
        Sample((rand(rng, 3, 5), 1, _unique_rows(rng, 2, 3, 5), rand(rng, 2, 3)), label="src"),
        Sample((rand(rng, 4, 3), 0, _unique_rows(rng, 2, 4, 4).T, rand(rng, 4, 2)), label="dim0"),
        Sample((rand(rng, 3, 5), -1, _unique_rows(rng, 3, 2, 5), 2.5), label="scalar src"),
        Sample(
            (
                rand(rng, 2, 3, 4),
                2,
                _unique_rows(rng, 6, 4, 4).reshape(2, 3, 4),
                rand(rng, 2, 3, 4),
            ),
            label="3-D permutation",
        ),
    ]


def _scatter_add_samples(rng):
    return [
        Sample(
            (rand(rng, 3, 5), 1, ints([[0, 0, 4], [1, 1, 1]]), rand(rng, 3, 4)),
            nograd=(3,),
            label="src larger than index",
        ),
        Sample((rand(rng, 3, 5), 1, ints([[0, 0, 4], [1, 1, 1]]), rand(rng, 2, 3)), label="dups"),
        Sample((rand(rng, 4, 3), 0, ints(rng.integers(0, 4, (5, 3))), rand(rng, 5, 3)), label="0"),
        Sample(
            (rand(rng, 2, 3), -1, ints(rng.integers(0, 3, (2, 7))), rand(rng, 2, 7)), label="many"
        ),
    ]


def _index_select_samples(rng):
    x = rand(rng, 3, 4, 2)
    return [
        Sample((x, 1, ints(3, 0, 3))),
        Sample((x, 0, ints(2))),
        Sample((x, -1, ints([]))),
    ]


def _index_add_samples(rng):
    return [
        Sample((rand(rng, 3, 4), 1, ints(3, 0, 3), rand(rng, 3, 3))),
        Sample((rand(rng, 4, 2), 0, ints(1, 1, 0), rand(rng, 3, 2)), {"alpha": 2.5}),
    ]


def _masked_fill_samples(rng):
    x = rand(rng, 3, 4)
    return [
        Sample((x, x > 0, -1.5), label="scalar"),
        Sample((x, rng.random(4) > 0.5, 3.0), label="broadcast mask"),
        Sample((x, x < 0, rand(rng)), label="0-d tensor value"),
        Sample((rand(rng), np.array(True), 2.0), label="0-d"),
    ]


def _masked_select_samples(rng):
    x = rand(rng, 3, 4)
    return [Sample((x, x > 0)), Sample((x, rng.random(4) > 0.5)), Sample((rand(rng, 4), x > 0))]


def _take_along_dim_samples(rng):
    x = rand(rng, 3, 4)
    return [
        Sample((x, ints(rng.integers(0, 4, (3, 2))), 1)),
        Sample((x, ints(rng.integers(0, 3, (1, 4))), 0), label="broadcast"),
        Sample((x, ints(11, 0, 5, 5)), label="flattened"),
        Sample((rand(rng, 2, 3, 4), ints(rng.integers(0, 4, (1, 3, 2))), -1), label="3-D"),
    ]


def _take_samples(rng):
    return [
        Sample((rand(rng, 3, 4), ints([[0, 11], [5, 5]]))),
        Sample((rand(rng, 3, 4), ints(-1, 2))),
        Sample((rand(rng), ints(0, 0))),
    ]


def _nonzero_samples(rng):
    x = rng.integers(-1, 2, (3, 4)).astype(np.float64)
    return [
        Sample((x,)),
        Sample((x,), {"as_tuple": True}),
        Sample((x > 0,)),
        Sample((np.array(3.0),)),
        Sample((np.array(0.0),)),
        Sample((np.array(3.0),), {"as_tuple": True}),
        Sample((np.array(0.0),), {"as_tuple": True}),
        Sample((np.zeros((2, 0)),), {"as_tuple": True}),
    ]


def _distinct(rng, *shape):
    """Values without ties (so sort/top-k orders are unique and differentiable)."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.5 + rng.uniform(0, 0.1, shape)


def _sort_samples(rng):
    x = _distinct(rng, 3, 5)
    return [
        Sample((x,)),
        Sample((x,), {"dim": 0, "descending": True}),
        Sample((_distinct(rng, 2, 3, 4),), {"dim": 1}),
        Sample((_distinct(rng, 6),), {"descending": True}),
        Sample((rand(rng),)),
        Sample((rand(rng, 0, 3),), {"dim": 0}),
    ]


def _ties(rng):
    return np.array([[3.0, 1.0, 2.0, 1.0, 3.0, 1.0, 2.0], [0.0, 0.0, -1.0, 0.0, 5.0, 5.0, 0.0]])


def _stable_samples(rng):
    x = _ties(rng)
    return [
        Sample((x,), {"stable": True}),
        Sample((x,), {"stable": True, "descending": True}),
        Sample((x.T,), {"dim": 0, "stable": True, "descending": True}),
    ]


def _topk_samples(rng):
    x = _distinct(rng, 3, 6)
    return [
        Sample((x, 3)),
        Sample((x, 2), {"largest": False}),
        Sample((x, 2, 0)),
        Sample((x, 6), {"dim": -1, "largest": False}),
        Sample((x, 0)),
        Sample((_distinct(rng, 2, 5, 3), 4, 1)),
    ]


def _argsort_samples(rng):
    return [
        Sample((_distinct(rng, 3, 5),)),
        Sample((_distinct(rng, 3, 5), 0, True)),
        Sample((_ties(rng),), {"stable": True}),
        Sample((_ties(rng),), {"descending": True, "stable": True}),
        Sample((rng.random((2, 5)) > 0.5,), {"descending": True, "stable": True}),
    ]


def _torch_take_along_dim(x, indices, dim=None):
    """torch.take_along_dim without dim fails on non-contiguous inputs (it calls view(-1))."""
    return torch.take_along_dim(x.contiguous() if dim is None else x, indices, dim)


def _same(name: str) -> tuple:
    return getattr(ember, name), getattr(torch, name)


SPECS = [
    OpSpec(
        "getitem_basic",
        _index,
        _index,
        _basic_samples,
        prims=("GetItem", "IndexAdd"),
        second_order=True,
    ),
    OpSpec(
        "getitem_advanced",
        _index,
        _index,
        _advanced_samples,
        prims=("GetItem", "IndexAdd"),
        second_order=True,
    ),
    OpSpec(
        "index_put",
        _index_put,
        _index_put,
        _index_put_samples,
        prims=("IndexPut", "IndexAdd", "GetItem"),
        second_order=True,
    ),
    OpSpec("gather", *_same("gather"), _gather_samples, prims=("Gather",), second_order=True),
    OpSpec("scatter", *_same("scatter"), _scatter_samples, prims=("Scatter", "Gather")),
    OpSpec(
        "scatter_add",
        *_same("scatter_add"),
        _scatter_add_samples,
        prims=("ScatterAdd", "Gather"),
        second_order=True,
    ),
    OpSpec("index_select", *_same("index_select"), _index_select_samples, prims=("GetItem",)),
    OpSpec("index_add", *_same("index_add"), _index_add_samples, prims=("IndexAdd",)),
    OpSpec("masked_fill", *_same("masked_fill"), _masked_fill_samples, prims=("Where",)),
    OpSpec("masked_select", *_same("masked_select"), _masked_select_samples, prims=("GetItem",)),
    OpSpec(
        "take_along_dim",
        ember.take_along_dim,
        _torch_take_along_dim,
        _take_along_dim_samples,
        prims=("Gather",),
    ),
    OpSpec("take", *_same("take"), _take_samples, prims=("GetItem",)),
    OpSpec("nonzero", *_same("nonzero"), _nonzero_samples, prims=("NonZero",), grad=False),
    OpSpec("sort", *_same("sort"), _sort_samples, prims=("Argsort", "Gather")),
    OpSpec("sort_stable", *_same("sort"), _stable_samples, prims=("Argsort",), gradcheck=False),
    OpSpec("argsort", *_same("argsort"), _argsort_samples, prims=("Argsort",), grad=False),
    OpSpec("topk", *_same("topk"), _topk_samples, prims=("Argsort", "Gather")),
]
