"""ember/ops/scatter_extra.py beyond the op database: errors of PyTorch's type and wording."""

from __future__ import annotations

import pytest

from tests.ops.torch_errors import assert_raises_like_torch, quiet


def _index_reduce(lib, *args):
    return quiet(lib.index_reduce)(*args)


ERRORS = [
    ("reduce name", lambda lib: lib.ones(3).scatter_reduce(0, lib.tensor([0]), lib.ones(1), "foo")),
    (
        "src dtype",
        lambda lib: lib.ones(3).scatter_reduce(
            0, lib.tensor([0]), lib.ones(1, dtype=lib.float64), "sum"
        ),
    ),
    (
        "index reduce sum",
        lambda lib: _index_reduce(lib, lib.ones(3), 0, lib.tensor([0]), lib.ones(1), "sum"),
    ),
    (
        "index count",
        lambda lib: _index_reduce(lib, lib.ones(3), 0, lib.tensor([0, 2]), lib.ones(1), "amax"),
    ),
    (
        "source shape",
        lambda lib: _index_reduce(lib, lib.ones(3), 0, lib.tensor([0, 2]), lib.ones(2, 3), "amax"),
    ),
    ("put range", lambda lib: lib.ones(3).put(lib.tensor([9]), lib.ones(1))),
    ("put sizes", lambda lib: lib.ones(3).put(lib.tensor([-1, 0]), lib.ones(1))),
]


@pytest.mark.parametrize("what,call", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_match_torch(what, call) -> None:
    assert_raises_like_torch(call)
