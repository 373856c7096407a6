"""Op database: ember/ops/shape_extra.py (diagonals, slice scatters, windows, repeats, block
matrices, in-place shape methods and container dunders)."""

from __future__ import annotations

import numpy as np
import torch

import ember
from tests.ops.specs import OpSpec, Sample, rand


def spec(name, samples, **kw):
    return OpSpec(name, getattr(ember, name), getattr(torch, name), samples, **kw)


def method(name, samples, call, **kw):
    """A Tensor-only method: ``call(x, *rest)`` run on each library's tensor."""
    return OpSpec(name, call, call, samples, **kw)


def _diagonal_samples(rng):
    x = rand(rng, 3, 4)
    return [
        Sample((x,)),
        Sample((x, 1)),
        Sample((x, -2)),
        Sample((x, 5)),  # past the corner: an empty diagonal
        Sample((rand(rng, 2, 3, 4), 0, 2, 0)),
        Sample((rand(rng, 2, 3, 4), -1, -1, 1)),
    ]


def _diagonal_scatter_samples(rng):
    x = rand(rng, 3, 4)
    return [
        Sample((x, rand(rng, 3))),
        Sample((x, rand(rng, 2), 2)),
        Sample((rand(rng, 2, 3, 4), rand(rng, 3, 2), -1, 2, 0)),
    ]


def _diag_samples(rng):
    return [
        Sample((rand(rng, 3),)),
        Sample((rand(rng, 3), -1)),
        Sample((rand(rng, 3, 4),)),
        Sample((rand(rng, 3, 4), 2)),
        Sample((np.arange(6).reshape(2, 3), 0)),
    ]


def _diagflat_samples(rng):
    return [Sample((rand(rng, 2, 2),)), Sample((rand(rng, 3), 1)), Sample((rand(rng, 2), -2))]


def _trace_samples(rng):
    return [Sample((rand(rng, 3, 4),)), Sample((np.arange(6).reshape(3, 2),))]


def _select_samples(rng):
    return [Sample((rand(rng, 3, 4), 0, 1)), Sample((rand(rng, 2, 3, 4), -1, -2))]


def _select_scatter_samples(rng):
    return [
        Sample((rand(rng, 3, 4), rand(rng, 4), 0, 1)),
        Sample((rand(rng, 2, 3, 4), rand(rng, 2, 3), -1, -2)),
    ]


def _slice_scatter_samples(rng):
    return [
        Sample((rand(rng, 5, 3), rand(rng, 2, 3)), kwargs={"start": 1, "end": 4, "step": 2}),
        Sample((rand(rng, 3, 4), rand(rng, 3, 2), 1, 2)),
        Sample((rand(rng, 3, 4), rand(rng, 3, 4)), kwargs={"dim": 1}),
    ]


def _narrow_samples(rng):
    return [Sample((rand(rng, 3, 4), 1, 1, 2)), Sample((rand(rng, 4, 2), 0, 0, 3))]


def _block_diag_samples(rng):
    return [
        Sample((rand(rng, 2, 2), rand(rng, 3), rand(rng, 1, 2))),
        Sample((rand(rng, 2, 3), np.array(1.5))),
        Sample((np.arange(4).reshape(2, 2), np.array([1, 2]))),
    ]


def _broadcast_samples(rng):
    return [Sample((rand(rng, 3, 1), rand(rng, 4))), Sample((rand(rng, 2, 1, 3), rand(rng, 4, 1)))]


def _combinations_samples(rng):
    x = rand(rng, 4)
    return [
        Sample((x,)),
        Sample((x, 3)),
        Sample((x, 2, True)),
        Sample((x, 0), nograd=(0,)),  # a new empty tensor, outside the graph as in torch
        Sample((x, 5)),
        Sample((np.arange(3),)),
    ]


def _unravel_samples(rng):
    return [
        Sample((np.array([0, 5, 7, -1]), (2, 4))),
        Sample((np.array(11), (3, 2, 2))),
        Sample((np.array([[2, 3]]), 4)),
    ]


def _matrices(rng):
    return [Sample((rand(rng, 3, 4),)), Sample((rand(rng, 2, 3, 4),))]


def _t_samples(rng):
    return [Sample((rand(rng, 3, 4),)), Sample((rand(rng, 3),)), Sample((np.array(2.0),))]


def _flip_samples(rng):
    return [Sample((rand(rng, 3, 4),)), Sample((rand(rng, 2, 3, 4),))]


def _repeat_interleave_samples(rng):
    x = rand(rng, 3, 2)
    return [
        Sample((x, 2)),
        Sample((x, 2, 1)),
        Sample((x, np.array([1, 0, 2]), 0)),
        Sample((x, np.array([3]), -1)),
        Sample((x, np.array(2), 0), kwargs={"output_size": 6}),
        Sample((np.array([2, 0, 1]),)),
        Sample((np.array(1.5), 3)),
    ]


def _split_sizes_samples(rng):
    return [Sample((rand(rng, 5, 2), [2, 3])), Sample((rand(rng, 2, 4), [1, 0, 3], 1))]


def _chunk_samples(rng):
    return [Sample((rand(rng, 5, 2), 2)), Sample((rand(rng, 2, 4), 3, 1))]


def _split_samples(rng):
    return [Sample((rand(rng, 5, 2), 2)), Sample((rand(rng, 2, 4), 3, 1))]


def _unfold_samples(rng):
    return [
        Sample((rand(rng, 7), 0, 3, 2)),
        Sample((rand(rng, 3, 5), 1, 2, 1)),
        Sample((rand(rng, 4, 3), 0, 4, 3)),
        Sample((rand(rng, 2, 5, 3), -2, 2, 3)),  # windows that overlap nothing and skip one
        Sample((np.array(1.5), 0, 1, 1)),
    ]


def _sum_to_size_samples(rng):
    x = rand(rng, 2, 3, 4)
    return [Sample((x, (3, 1))), Sample((x, (2, 1, 4))), Sample((x, (1, 3, 4))), Sample((x, 4))]


def _fill_diagonal_samples(rng):
    return [
        Sample((rand(rng, 3, 4), 0.5)),
        Sample((rand(rng, 7, 3), 2.0, True)),
        Sample((rand(rng, 7, 3), 2.0)),
        Sample((rand(rng, 3, 3, 3), -1.0)),
        Sample((np.arange(6).reshape(3, 2), 7)),
    ]


def _inplace(name):
    return lambda x, *a: getattr(x.clone(), name)(*a)


def _resize_samples(rng):
    """Sizes within the memory the tensor has (PyTorch leaves grown memory uninitialised)."""
    x = rand(rng, 3, 4)
    return [Sample((x, (2, 5))), Sample((x, (3, 4))), Sample((x, (5,))), Sample((x, (0,)))]


def _resized(x, shape):
    return x.detach().contiguous().clone().resize_(*shape)


def _contains_samples(rng):
    x = np.round(rand(rng, 3, 4), 1)
    return [
        Sample((x, float(x[1, 2]))),
        Sample((x, 7.0)),
        Sample((x, np.array([x[0, 0], 9.0, 9.0, 9.0]))),
    ]


def _dunder_floor_samples(rng):
    return [Sample((rand(rng, 3, 4), rand(rng, 3, 4) + 3.0)), Sample((rand(rng, 3, 4), 0.7))]


SPECS = [
    spec("diagonal", _diagonal_samples, prims=("Diagonal",)),
    method("diagonal:.diagonal", _diagonal_samples, lambda x, *a: x.diagonal(*a)),
    spec("diagonal_scatter", _diagonal_scatter_samples, prims=("DiagonalScatter",)),
    method("diagonal_scatter:.", _diagonal_scatter_samples, lambda x, *a: x.diagonal_scatter(*a)),
    spec("diag", _diag_samples),
    method("diag:.", _diag_samples, lambda x, *a: x.diag(*a)),
    spec("diagflat", _diagflat_samples),
    method("diagflat:.", _diagflat_samples, lambda x, *a: x.diagflat(*a)),
    spec("trace", _trace_samples),
    method("trace:.", _trace_samples, lambda x: x.trace()),
    spec("select", _select_samples),
    method("select:.", _select_samples, lambda x, *a: x.select(*a)),
    spec("select_scatter", _select_scatter_samples),
    method("select_scatter:.", _select_scatter_samples, lambda x, *a: x.select_scatter(*a)),
    spec("slice_scatter", _slice_scatter_samples),
    method("slice_scatter:.", _slice_scatter_samples, lambda x, *a, **k: x.slice_scatter(*a, **k)),
    spec("narrow_copy", _narrow_samples),
    method("narrow_copy:.", _narrow_samples, lambda x, *a: x.narrow_copy(*a)),
    spec("block_diag", _block_diag_samples),
    spec("broadcast_tensors", _broadcast_samples),
    spec("combinations", _combinations_samples),
    spec("unravel_index", _unravel_samples, grad=False, gradcheck=False),
    spec("adjoint", _matrices),
    method("adjoint:.", _matrices, lambda x: x.adjoint()),
    method("mH", _matrices, lambda x: x.mH),
    method("H", lambda rng: _matrices(rng)[:1], lambda x: x.H),
    OpSpec("t:function", ember.t, torch.t, _t_samples),
    method("t:.t_", _t_samples, _inplace("t_")),
    OpSpec(
        "row_stack",
        lambda *xs: ember.row_stack(xs),
        lambda *xs: torch.row_stack(xs),
        lambda rng: [Sample((rand(rng, 3), rand(rng, 2, 3)))],
    ),
    spec("fliplr", _flip_samples),
    spec("flipud", _flip_samples),
    spec("repeat_interleave", _repeat_interleave_samples),
    method(
        "repeat_interleave:.",
        lambda rng: _repeat_interleave_samples(rng)[:5],
        lambda x, *a, **k: x.repeat_interleave(*a, **k),
    ),
    spec("split_with_sizes", _split_sizes_samples),
    method("split_with_sizes:.", _split_sizes_samples, lambda x, *a: x.split_with_sizes(*a)),
    spec("unsafe_chunk", _chunk_samples),
    method("unsafe_chunk:.", _chunk_samples, lambda x, *a: x.unsafe_chunk(*a)),
    spec("unsafe_split", _split_samples),
    method("unsafe_split:.", _split_samples, lambda x, *a: x.unsafe_split(*a)),
    spec("unsafe_split_with_sizes", _split_sizes_samples),
    method(
        "unsafe_split_with_sizes:.",
        _split_sizes_samples,
        lambda x, *a: x.unsafe_split_with_sizes(*a),
    ),
    method("Tensor.unfold", _unfold_samples, lambda x, *a: x.unfold(*a), prims=("Unfold",)),
    method("sum_to_size", _sum_to_size_samples, lambda x, s: x.sum_to_size(s)),
    method(
        "sum_to_size:*",
        _sum_to_size_samples,
        lambda x, s: x.sum_to_size(*s) if isinstance(s, tuple) else x.sum_to_size(s),
    ),
    method("fill_diagonal_", _fill_diagonal_samples, _inplace("fill_diagonal_")),
    method("transpose_", _matrices, lambda x: x.clone().transpose_(0, -1)),
    method("swapaxes_", _matrices, lambda x: x.clone().swapaxes_(-2, 0)),
    method("swapdims_", _matrices, lambda x: x.clone().swapdims_(1, 0)),
    method("squeeze_", lambda rng: [Sample((rand(rng, 3, 1, 2),))], lambda x: x.clone().squeeze_()),
    method(
        "squeeze_:dim", lambda rng: [Sample((rand(rng, 3, 1, 2),))], lambda x: x.clone().squeeze_(1)
    ),
    method("unsqueeze_", _matrices, lambda x: x.clone().unsqueeze_(-1)),
    method(
        "storage_offset",
        _matrices,
        lambda x: (x[1:].storage_offset(), x[:, 1:].storage_offset(), x.storage_offset()),
        grad=False,
    ),
    method("resize_", _resize_samples, _resized, grad=False),
    method(
        "resize_as_",
        _resize_samples,
        lambda x, shape: x.detach().contiguous().clone().resize_as_(x.new_zeros(shape)),
        grad=False,
    ),
    method("__contains__", _contains_samples, lambda x, v: v in x, grad=False),
    method("__reversed__", _flip_samples, lambda x: x.__reversed__()),
    method(
        "__complex__",
        lambda rng: [Sample((rand(rng, 1, 1),), nograd=(0,))],
        lambda x: complex(x),
        grad=False,
    ),
    method("__ifloordiv__", _dunder_floor_samples, _inplace("__ifloordiv__"), grad=False),
    method("__imod__", _dunder_floor_samples, _inplace("__imod__"), gradcheck=False),
]
