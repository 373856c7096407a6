"""Op database: movement family."""

from __future__ import annotations

import torch
import torch.nn.functional as tF

import ember
from tests.ops.specs import OpSpec, Sample, rand


def _both(fn):
    """The same lambda for ember and torch (method calls and attribute access)."""
    return dict(ember_fn=fn, torch_fn=fn)


def _reshape_samples(rng):
    x = rand(rng, 2, 3, 4)
    return [
        Sample((x, (4, 6))),
        Sample((x, (-1,))),
        Sample((x, (2, -1, 3))),
        Sample((x, (2, 3, 4))),
        Sample((rand(rng), (1, 1))),
        Sample((rand(rng, 1, 1), ())),
        Sample((rand(rng, 2, 0, 3), (0, 5))),
        Sample((rand(rng, 2, 0, 3), (-1, 3))),
        Sample((rng.integers(0, 9, size=(2, 3)), (3, 2))),
    ]


def _flatten_samples(rng):
    x = rand(rng, 2, 3, 4, 2)
    return [
        Sample((x,)),
        Sample((x, 1)),
        Sample((x, 1, 2)),
        Sample((x, -3, -2)),
        Sample((x, 2, 2)),
        Sample((rand(rng),)),
        Sample((rand(rng, 2, 0, 3), 1)),
    ]


def _unflatten_samples(rng):
    x = rand(rng, 2, 12)
    return [
        Sample((x, 1, (3, 4))),
        Sample((x, -1, (2, -1, 3))),
        Sample((x, 0, (1, 2))),
        Sample((rand(rng, 0, 6), 1, (2, 3))),
    ]


def _squeeze_samples(rng):
    x = rand(rng, 1, 3, 1, 2)
    return [
        Sample((x,)),
        Sample((x, 0)),
        Sample((x, -2)),
        Sample((x, 1)),
        Sample((x, (0, 2))),
        Sample((x, (1, -2))),
        Sample((rand(rng),)),
        Sample((rand(rng), 0)),
        Sample((rand(rng, 1, 0, 1),)),
    ]


def _unsqueeze_samples(rng):
    x = rand(rng, 2, 3)
    return [
        Sample((x, 0)),
        Sample((x, 2)),
        Sample((x, -1)),
        Sample((x, -3)),
        Sample((rand(rng), 0)),
        Sample((rand(rng), -1)),
        Sample((rand(rng, 0, 2), 1)),
    ]


def _permute_samples(rng):
    x = rand(rng, 2, 3, 4)
    return [
        Sample((x, (2, 0, 1))),
        Sample((x, (-1, -3, 1))),
        Sample((x, (0, 1, 2))),
        Sample((rand(rng), ())),
        Sample((rand(rng, 2, 0, 3), (1, 2, 0))),
    ]


def _transpose_samples(rng):
    x = rand(rng, 2, 3, 4)
    return [
        Sample((x, 0, 2)),
        Sample((x, -1, 1)),
        Sample((x, 1, 1)),
        Sample((rand(rng, 3), 0, -1)),
        Sample((rand(rng, 0, 3), 0, 1)),
    ]


def _movedim_samples(rng):
    x = rand(rng, 2, 3, 4, 5)
    return [
        Sample((x, 0, 2)),
        Sample((x, -1, 0)),
        Sample((x, (0, 1), (2, 3))),
        Sample((x, (3, 0), (0, -1))),
        Sample((rand(rng, 2, 0, 3), 1, 0)),
    ]


def _expand_samples(rng):
    return [
        Sample((rand(rng, 3, 1), (3, 4))),
        Sample((rand(rng, 3, 1), (2, 3, 4))),
        Sample((rand(rng, 1, 4), (3, -1, 4))),
        Sample((rand(rng, 4), (2, 3, 4))),
        Sample((rand(rng), (2, 3))),
        Sample((rand(rng), ())),
        Sample((rand(rng, 1, 3), (0, 3))),
        Sample((rand(rng, 2, 3), (2, 3))),
    ]


def _expand_as_samples(rng):
    return [
        Sample((rand(rng, 3, 1), rand(rng, 2, 3, 4)), nograd=(1,)),
        Sample((rand(rng), rand(rng, 2, 2)), nograd=(1,)),
    ]


def _repeat_samples(rng):
    x = rand(rng, 2, 3)
    return [
        Sample((x, (2, 3))),
        Sample((x, (1, 1))),
        Sample((x, (2, 1, 2))),
        Sample((x, (3, 0, 1))),
        Sample((rand(rng), (2, 3))),
        Sample((rand(rng, 0, 2), (2, 2))),
    ]


def _tile_samples(rng):
    x = rand(rng, 2, 3)
    return [
        Sample((x, (2,))),
        Sample((x, (2, 3))),
        Sample((x, (2, 1, 2))),
        Sample((rand(rng), (3,))),
    ]


def _unary(rng):
    return [
        Sample((rand(rng, 3, 4),)),
        Sample((rand(rng, 2, 3, 4),)),
        Sample((rand(rng),)),
        Sample((rand(rng, 2, 0, 3),)),
    ]


def _cat_samples(rng):
    return [
        Sample((rand(rng, 2, 3), rand(rng, 4, 3))),
        Sample((rand(rng, 2, 3), rand(rng, 2, 1), rand(rng, 2, 2)), {"dim": 1}),
        Sample((rand(rng, 2, 3), rand(rng, 2, 3)), {"dim": -1}),
        Sample((rand(rng, 2, 3),), {"dim": 0}),
        Sample((rand(rng, 0, 3), rand(rng, 2, 3))),
        Sample((rand(rng, 2, 3, 2), rand(rng, 2, 1, 2)), {"dim": -2}),
        Sample((rng.integers(0, 5, size=(2, 3)), rand(rng, 1, 3))),
    ]


def _stack_samples(rng):
    return [
        Sample((rand(rng, 2, 3), rand(rng, 2, 3))),
        Sample((rand(rng, 2, 3), rand(rng, 2, 3), rand(rng, 2, 3)), {"dim": 2}),
        Sample((rand(rng, 2, 3), rand(rng, 2, 3)), {"dim": -1}),
        Sample((rand(rng), rand(rng))),
        Sample((rand(rng, 0, 3), rand(rng, 0, 3)), {"dim": 1}),
        Sample((rand(rng, 3),)),
    ]


def _hvstack_samples(rng):
    return [
        Sample((rand(rng, 3), rand(rng, 3))),
        Sample((rand(rng, 2, 3), rand(rng, 2, 3))),
        Sample((rand(rng, 2, 3, 2), rand(rng, 2, 3, 2))),
        Sample((rand(rng, 2), rand(rng, 2))),
    ]


def _split_samples(rng):
    x = rand(rng, 5, 4)
    return [
        Sample((x, 2)),
        Sample((x, 5)),
        Sample((x, 3, 1)),
        Sample((x, (1, 4))),
        Sample((x, (1, 0, 3), -1)),
        Sample((x, 7)),
    ]


def _chunk_samples(rng):
    x = rand(rng, 5, 4)
    return [Sample((x, 2)), Sample((x, 3, 1)), Sample((x, 6)), Sample((x, 1, -1))]


def _unbind_samples(rng):
    return [
        Sample((rand(rng, 3, 4),)),
        Sample((rand(rng, 3, 4), 1)),
        Sample((rand(rng, 2, 3, 4), -1)),
        Sample((rand(rng, 2, 0), 0)),
    ]


def _narrow_samples(rng):
    x = rand(rng, 5, 4)
    return [
        Sample((x, 0, 1, 3)),
        Sample((x, -1, 2, 2)),
        Sample((x, 0, -2, 2)),
        Sample((x, 1, 4, 0)),
    ]


def _flip_samples(rng):
    x = rand(rng, 2, 3, 4)
    return [
        Sample((x, (0,))),
        Sample((x, (0, 2))),
        Sample((x, (-1,))),
        Sample((x, ())),
        Sample((rand(rng), (0,))),
        Sample((rand(rng, 2, 0), (0, 1))),
    ]


def _roll_samples(rng):
    x = rand(rng, 3, 4)
    return [
        Sample((x, 1)),
        Sample((x, -5)),
        Sample((x, 1, 0)),
        Sample((x, 6, -1)),
        Sample((x, (1, -2), (0, 1))),
        Sample((x, (2, 1), (1, 1))),
        Sample((rand(rng), 3)),
        Sample((rand(rng, 2, 0), 1, 0)),
    ]


def _pad_samples(rng):
    x = rand(rng, 2, 3, 4)
    return [
        Sample((x, (1, 2))),
        Sample((x, (1, 0, 0, 2)), {"value": 1.5}),
        Sample((x, (0, 0, 1, 1, 2, 0))),
        Sample((x, (-1, 2))),
        Sample((x, (-1, -1, 1, -2))),
        Sample((x, (0, 0))),
        Sample((rand(rng, 2, 0), (1, 1))),
    ]


def _pad_mode_samples(rng):
    x2 = rand(rng, 2, 5)
    x3 = rand(rng, 2, 3, 4)
    x4 = rand(rng, 1, 2, 3, 4)
    samples = []
    for mode in ("reflect", "replicate", "circular"):
        samples += [
            Sample((x2, (2, 1)), {"mode": mode}),
            Sample((x3, (3, 1)), {"mode": mode}),
            Sample((x3, (1, 2, 2, 0)), {"mode": mode}),
            Sample((x4, (0, 3, 1, 2)), {"mode": mode}),
        ]
    samples.append(Sample((x3, (-1, 2)), {"mode": "circular"}))
    samples.append(Sample((x3, (4, 4, 3, 3)), {"mode": "replicate"}))
    return samples


def _triangle_samples(rng):
    x = rand(rng, 4, 5)
    return [
        Sample((x,)),
        Sample((x, 1)),
        Sample((x, -2)),
        Sample((x, 7)),
        Sample((x, -9)),
        Sample((rand(rng, 2, 3, 3), 0)),
        Sample((rand(rng, 2, 0, 3), 1)),
    ]


def _matrix_samples(rng):
    return [Sample((rand(rng, 3, 4),)), Sample((rand(rng, 0, 2),))]


def _vector_samples(rng):
    return [Sample((rand(rng, 3),)), Sample((rand(rng),))]


def _batched_matrix_samples(rng):
    return [Sample((rand(rng, 3, 4),)), Sample((rand(rng, 2, 3, 4),)), Sample((rand(rng, 0, 2),))]


def _t(lib, name):
    return lambda *xs, **k: getattr(lib, name)(list(xs), **k)


def _atleast_samples(rng):
    return [Sample((rand(rng, *s),)) for s in [(), (3,), (2, 3), (2, 3, 2)]] + [
        Sample((rand(rng), rand(rng, 3), rand(rng, 2, 3)), label="several")
    ]


def _tensor_split_samples(rng):
    x = rand(rng, 7, 4)
    return [
        Sample((x, 3)),
        Sample((x, [2, -2, 9])),
        Sample((x, (3, 1), 0)),
        Sample((x, 4), {"dim": 1}),
        Sample((x, 2, -1)),
    ]


def _even_split_samples(min_ndim):
    def make(rng):
        x = rand(rng, *(4, 4, 6)[: max(min_ndim, 2)])
        return [Sample((x, 2)), Sample((x, [1, 3]))] + (
            [Sample((rand(rng, 6), 3))] if min_ndim == 1 else []
        )

    return make


def _stack3_samples(rng):
    return [
        Sample((rand(rng, 3), rand(rng, 3))),
        Sample((rand(rng, 2, 3), rand(rng, 2, 3))),
        Sample((rand(rng, 2, 3, 2), rand(rng, 2, 3, 1))),
        Sample((rand(rng), rand(rng))),
    ]


def _column_stack_samples(rng):
    return [
        Sample((rand(rng, 3), rand(rng, 3, 2))),
        Sample((rand(rng), rand(rng, 1))),
        Sample((rand(rng, 2, 3), rand(rng, 2))),
    ]


def _rot90_samples(rng):
    x = rand(rng, 2, 3, 4)
    return [Sample((x,))] + [Sample((x, k, d)) for k, d in [(2, (1, 2)), (-1, (0, 2)), (4, (2, 0))]]


def _diff_samples(rng):
    x = rand(rng, 3, 5)
    return [
        Sample((x,)),
        Sample((x, 2, 0)),
        Sample((x, 1, -1, rand(rng, 3, 2), rand(rng, 3, 1))),  # prepend and append
        Sample((x, 6)),
        Sample((rng.integers(-5, 6, size=(4,)),)),
        Sample((rng.random(5) > 0.5,)),
    ]


def _ravel_samples(rng):
    return [Sample((rand(rng, 2, 3),)), Sample((rand(rng),)), Sample((rand(rng, 3, 2).T,))]


def _star(lib, name):
    return lambda *xs, **k: getattr(lib, name)(*xs, **k)


SPECS = [
    OpSpec(
        "reshape",
        ember.reshape,
        torch.reshape,
        _reshape_samples,
        prims=("Reshape",),
        second_order=True,
    ),
    OpSpec(
        "view",
        # both refuse some non-contiguous layouts (tests/ops/test_view_strides.py checks which)
        lambda x, s: x.contiguous().view(s),
        lambda x, s: x.contiguous().view(s),
        _reshape_samples,
        prims=("Reshape",),
    ),
    OpSpec(
        "reshape_as",
        lambda x, y: x.reshape_as(y),
        lambda x, y: x.reshape_as(y),
        lambda rng: [Sample((rand(rng, 2, 6), rand(rng, 3, 4)), nograd=(1,))],
        prims=("Reshape",),
    ),
    OpSpec("flatten", ember.flatten, torch.flatten, _flatten_samples, prims=("Reshape",)),
    OpSpec("unflatten", ember.unflatten, torch.unflatten, _unflatten_samples, prims=("Reshape",)),
    OpSpec("squeeze", ember.squeeze, torch.squeeze, _squeeze_samples, prims=("Reshape",)),
    OpSpec("unsqueeze", ember.unsqueeze, torch.unsqueeze, _unsqueeze_samples, prims=("Reshape",)),
    OpSpec(
        "permute",
        ember.permute,
        torch.permute,
        _permute_samples,
        prims=("Permute",),
        second_order=True,
    ),
    OpSpec("transpose", ember.transpose, torch.transpose, _transpose_samples, prims=("Permute",)),
    OpSpec("swapaxes", ember.swapaxes, torch.swapaxes, _transpose_samples, prims=("Permute",)),
    OpSpec("movedim", ember.movedim, torch.movedim, _movedim_samples, prims=("Permute",)),
    OpSpec("T", prims=("Permute",), samples=_matrix_samples, **_both(lambda x: x.T)),
    OpSpec("mT", prims=("Permute",), samples=_batched_matrix_samples, **_both(lambda x: x.mT)),
    OpSpec("t", prims=("Permute",), samples=_matrix_samples, **_both(lambda x: x.t())),
    OpSpec("t_vector", prims=("Permute",), samples=_vector_samples, **_both(lambda x: x.t())),
    OpSpec(
        "expand",
        prims=("Expand",),
        samples=_expand_samples,
        second_order=True,
        **_both(lambda x, s: x.expand(s)),
    ),
    OpSpec(
        "expand_as",
        prims=("Expand",),
        samples=_expand_as_samples,
        **_both(lambda x, y: x.expand_as(y)),
    ),
    OpSpec(
        "broadcast_to", ember.broadcast_to, torch.broadcast_to, _expand_samples, prims=("Expand",)
    ),
    OpSpec(
        "repeat",
        prims=("Expand", "Reshape"),
        samples=_repeat_samples,
        **_both(lambda x, r: x.repeat(*r)),
    ),
    OpSpec("tile", ember.tile, torch.tile, _tile_samples, prims=("Expand",)),
    OpSpec("contiguous", prims=("Contiguous",), samples=_unary, **_both(lambda x: x.contiguous())),
    OpSpec(
        "cat",
        _t(ember, "cat"),
        _t(torch, "cat"),
        _cat_samples,
        prims=("Cat",),
        second_order=True,
    ),
    OpSpec("concat", _t(ember, "concat"), _t(torch, "concat"), _cat_samples, prims=("Cat",)),
    OpSpec("stack", _t(ember, "stack"), _t(torch, "stack"), _stack_samples, prims=("Cat",)),
    OpSpec("hstack", _t(ember, "hstack"), _t(torch, "hstack"), _hvstack_samples, prims=("Cat",)),
    OpSpec("vstack", _t(ember, "vstack"), _t(torch, "vstack"), _hvstack_samples, prims=("Cat",)),
    OpSpec("split", ember.split, torch.split, _split_samples),
    OpSpec("chunk", ember.chunk, torch.chunk, _chunk_samples),
    OpSpec("unbind", ember.unbind, torch.unbind, _unbind_samples),
    OpSpec("narrow", ember.narrow, torch.narrow, _narrow_samples),
    OpSpec("flip", ember.flip, torch.flip, _flip_samples, prims=("Flip",), second_order=True),
    OpSpec("roll", ember.roll, torch.roll, _roll_samples, prims=("Roll",)),
    OpSpec("pad", ember.pad, tF.pad, _pad_samples, prims=("ConstantPad",), second_order=True),
    OpSpec("pad_modes", ember.pad, tF.pad, _pad_mode_samples),
    OpSpec("tril", ember.tril, torch.tril, _triangle_samples, prims=("Tril",)),
    OpSpec("triu", ember.triu, torch.triu, _triangle_samples, prims=("Triu",)),
    OpSpec(
        "tril_method",
        prims=("Tril",),
        samples=_triangle_samples,
        **_both(lambda x, *d: x.tril(*d)),
    ),
    *(
        OpSpec(
            f"atleast_{n}d",
            _star(ember, f"atleast_{n}d"),
            _star(torch, f"atleast_{n}d"),
            _atleast_samples,
        )
        for n in (1, 2, 3)
    ),  # fmt: skip
    OpSpec("tensor_split", ember.tensor_split, torch.tensor_split, _tensor_split_samples),
    OpSpec("hsplit", ember.hsplit, torch.hsplit, _even_split_samples(1)),
    OpSpec("vsplit", ember.vsplit, torch.vsplit, _even_split_samples(2)),
    OpSpec("dsplit", ember.dsplit, torch.dsplit, _even_split_samples(3)),
    OpSpec("dstack", _t(ember, "dstack"), _t(torch, "dstack"), _stack3_samples),
    OpSpec(
        "column_stack", _t(ember, "column_stack"), _t(torch, "column_stack"), _column_stack_samples
    ),
    OpSpec("rot90", ember.rot90, torch.rot90, _rot90_samples),
    OpSpec("diff", ember.diff, torch.diff, _diff_samples),
    OpSpec("ravel", ember.ravel, torch.ravel, _ravel_samples),
]
