"""ember/ops/shape_extra.py beyond the op database: which results are views, the in-place
shape methods' autograd and versions, and errors of PyTorch's type and wording."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from tests.ops.torch_errors import assert_raises_like_torch


def _pair(shape=(3, 4)):
    a = np.arange(float(np.prod(shape))).reshape(shape)
    return ember.tensor(a), torch.tensor(a)


@pytest.mark.parametrize(
    "make",
    [
        lambda lib, x: lib.diagonal(x, 1),
        lambda lib, x: x.select(1, 2),
        lambda lib, x: x.unfold(1, 2, 1),
        lambda lib, x: x.mH,
    ],
)
def test_views_share_memory_like_torch(make) -> None:
    e, t = _pair()
    ev, tv = make(ember, e), make(torch, t)
    ev.fill_(-1.0)
    tv.fill_(-1.0)
    np.testing.assert_array_equal(e.numpy(), t.numpy())
    assert e._version == t._version > 0
    assert ev.storage_offset() == tv.storage_offset()


@pytest.mark.parametrize(
    "make",
    [
        lambda lib, x: lib.diag(x),
        lambda lib, x: lib.narrow_copy(x, 0, 1, 2),
        lambda lib, x: lib.diagonal_scatter(x, lib.zeros(3)),
    ],
)
def test_copies_do_not_share_memory(make) -> None:
    e, t = _pair()
    make(ember, e).fill_(-1.0)
    make(torch, t).fill_(-1.0)
    np.testing.assert_array_equal(e.numpy(), t.numpy())


@pytest.mark.parametrize("name", ["t_", "squeeze_", "unsqueeze_", "transpose_"])
def test_inplace_shape_methods_refuse_leaves_and_bump_versions(name) -> None:
    args = {"t_": (), "squeeze_": (), "unsqueeze_": (0,), "transpose_": (0, 1)}[name]
    x = ember.ones(2, 1, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        getattr(x, name)(*args)
    e, t = _pair((2, 1))
    getattr(e, name)(*args)
    getattr(t, name)(*args)
    assert (tuple(e.shape), e.stride(), e._version) == (tuple(t.shape), t.stride(), t._version)


def test_inplace_shape_method_keeps_the_gradient_path() -> None:
    x = ember.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x * 2
    y.t_()
    (y * ember.tensor(np.arange(6.0).reshape(3, 2))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 2 * np.arange(6.0).reshape(3, 2).T)


def test_resize_keeps_the_memory_and_grows_it_like_torch() -> None:
    e, t = _pair((2, 3))
    ev, tv = e[1:], t[1:]  # a view one row in
    ev.resize_(2)
    tv.resize_(2)
    ev.fill_(-1.0)
    tv.fill_(-1.0)
    assert e.tolist() == t.tolist()  # (numpy() would pin torch's memory: not resizable)
    assert ev.storage_offset() == tv.storage_offset() == 3
    e.resize_(8)
    t.resize_(8)
    assert e[:6].tolist() == t[:6].tolist()  # beyond: uninitialised
    assert e._version == t._version


ERRORS = [
    ("resize_ grad", lambda lib: lib.ones(2, requires_grad=True).resize_(3)),
    ("diag of 3-D", lambda lib: lib.diag(lib.ones(2, 2, 2))),
    ("diagonal same dims", lambda lib: lib.diagonal(lib.ones(3, 3), 0, 1, 1)),
    ("diagonal_scatter src", lambda lib: lib.diagonal_scatter(lib.ones(3, 4), lib.ones(2))),
    ("trace of 1-D", lambda lib: lib.trace(lib.ones(3))),
    ("select range", lambda lib: lib.select(lib.ones(3), 0, 5)),
    ("select 0-d", lambda lib: lib.select(lib.tensor(1.0), 0, 0)),
    ("select_scatter src", lambda lib: lib.select_scatter(lib.ones(3, 4), lib.ones(3), 0, 1)),
    ("slice_scatter src", lambda lib: lib.slice_scatter(lib.ones(3, 4), lib.ones(1, 4), 0, 1)),
    ("unfold size", lambda lib: lib.ones(3, 4).unfold(0, 4, 1)),
    ("unfold step", lambda lib: lib.ones(3, 4).unfold(0, 2, 0)),
    ("repeats negative", lambda lib: lib.repeat_interleave(lib.ones(3), lib.tensor([1, -1, 1]))),
    ("repeats length", lambda lib: lib.repeat_interleave(lib.ones(3), lib.tensor([1, 2]), dim=0)),
    ("output_size", lambda lib: lib.repeat_interleave(lib.tensor([1, 2]), 2, output_size=3)),
    ("split sizes", lambda lib: lib.split_with_sizes(lib.ones(5), [2, 2])),
    ("unsafe_split list", lambda lib: lib.unsafe_split(lib.ones(5), [2, 3])),
    ("fliplr 1-D", lambda lib: lib.fliplr(lib.ones(3))),
    ("flipud 0-d", lambda lib: lib.flipud(lib.tensor(1.0))),
    ("block_diag 3-D", lambda lib: lib.block_diag(lib.ones(2, 2, 2))),
    ("combinations 2-D", lambda lib: lib.combinations(lib.ones(2, 2))),
    ("unravel float", lambda lib: lib.unravel_index(lib.tensor([1.0]), (2,))),
    ("adjoint 1-D", lambda lib: lib.adjoint(lib.ones(3))),
    ("mH 1-D", lambda lib: lib.ones(3).mH),
    ("H 3-D", lambda lib: lib.ones(2, 3, 4).H),
    ("sum_to_size", lambda lib: lib.ones(3, 2).sum_to_size(4, 2)),
    ("fill_diagonal_ unequal", lambda lib: lib.ones(2, 3, 4).fill_diagonal_(1)),
    ("in with str", lambda lib: "a" in lib.ones(2)),
    ("complex of many", lambda lib: complex(lib.ones(2))),
    ("del item", lambda lib: lib.ones(2).__delitem__(0)),
]


@pytest.mark.parametrize("what,call", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_match_torch(what, call) -> None:
    assert_raises_like_torch(call)
