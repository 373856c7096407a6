"""``x[idx] = v`` and the in-place index ops inside autograd graphs, compared with torch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(7)
X = RNG.standard_normal((4, 5))
W = RNG.standard_normal((4, 5))  # weights make every output element's gradient distinct


def run(lib: Any, fn: Callable, *arrays: np.ndarray) -> tuple[np.ndarray, list]:
    """``fn(lib, *leaves)``, then backward of a weighted sum: (output, leaf gradients)."""
    leaves = [lib.tensor(a, requires_grad=True) for a in arrays]
    out = fn(lib, *leaves)
    (out * lib.tensor(W[: out.shape[0], : out.shape[1]])).sum().backward()
    grads = [np.zeros(t.shape) if t.grad is None else t.grad.numpy() for t in leaves]
    return out.detach().numpy(), grads


def assert_same(fn: Callable, *arrays: np.ndarray) -> None:
    e_out, e_grads = run(ember, fn, *arrays)
    t_out, t_grads = run(torch, fn, *arrays)
    np.testing.assert_allclose(e_out, t_out, rtol=1e-12, atol=1e-12, err_msg="output")
    for k, (eg, tg) in enumerate(zip(e_grads, t_grads)):
        np.testing.assert_allclose(eg, tg, rtol=1e-12, atol=1e-12, err_msg=f"gradient {k}")


def long(lib: Any, *values: int) -> Any:
    return lib.tensor(list(values), dtype=lib.int64)


# (index builder, value shape): the value is v * 3 so it is a non-leaf too
SETITEM_CASES = {
    "int row": (lambda lib: 1, (5,)),
    "slice with step": (lambda lib: (slice(None), slice(0, 5, 2)), (4, 3)),
    "negative int": (lambda lib: (-1, -2), ()),
    "index tensor": (lambda lib: long(lib, 3, 0), (2, 5)),
    "broadcast value": (lambda lib: long(lib, 3, 0), (5,)),
    "ij pairs": (lambda lib: (long(lib, 0, 2), long(lib, 4, 1)), (2,)),
    "mixed": (lambda lib: (long(lib, 2, 1), slice(1, 3)), (2, 2)),
    "bool mask": (lambda lib: lib.tensor(X > 0.3), (int((X > 0.3).sum()),)),
    "ellipsis none": (lambda lib: (Ellipsis, 2, None), (4, 1)),
}


@pytest.mark.parametrize("case", list(SETITEM_CASES))
def test_setitem_on_non_leaf_matches_torch(case: str) -> None:
    build, vshape = SETITEM_CASES[case]

    def fn(lib: Any, x: Any, v: Any) -> Any:
        y = x * 2
        y[build(lib)] = v * 3
        return y

    assert_same(fn, X, RNG.standard_normal(vshape))


def test_setitem_with_scalar_and_into_a_tensor_without_grad() -> None:
    def fn(lib: Any, v: Any) -> Any:
        y = lib.zeros(4, 5, dtype=lib.float64)
        y[1:3] = v.exp()
        y[0, 0] = 7.0
        return y

    assert_same(fn, RNG.standard_normal((2, 5)))


def test_setitem_twice_keeps_the_first_write_gradient_right() -> None:
    def fn(lib: Any, x: Any, v: Any) -> Any:
        y = x.sin()
        y[1] = v[0]
        y[:, 2] = v[1, :4]
        return y * y

    assert_same(fn, X, RNG.standard_normal((2, 5)))


def test_setitem_on_leaf_requiring_grad_raises() -> None:
    x = ember.randn(3, 4, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"__setitem__: a leaf Variable .* in-place operation"):
        x[0] = 1.0
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.masked_fill_(x > 0, 0.0)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.index_put_((long(ember, 0),), ember.tensor(1.0), accumulate=True)


def test_setitem_on_leaf_under_no_grad_is_allowed() -> None:
    x = ember.tensor(X.copy(), requires_grad=True)
    version = x._version
    with ember.no_grad():
        x[1:3, long(ember, 0, 4)] = -1.0
    expected = X.copy()
    expected[1:3, [0, 4]] = -1.0
    np.testing.assert_array_equal(x.detach().numpy(), expected)
    assert x.requires_grad and x.is_leaf and x._version == version + 1
    (x * 2).sum().backward()  # still an ordinary leaf afterwards
    np.testing.assert_array_equal(x.grad.numpy(), np.full(X.shape, 2.0))


def test_index_put_accumulate_matches_torch() -> None:
    def fn(lib: Any, x: Any, v: Any) -> Any:
        y = x * 1.5
        y.index_put_((long(lib, 3, 0, 3, 3),), v.tanh(), accumulate=True)
        y.index_put_((long(lib, 1, 1), long(lib, 2, 2)), v[0, :2], accumulate=True)
        return y

    assert_same(fn, X, RNG.standard_normal((4, 5)))


def test_index_put_without_accumulate_matches_torch() -> None:
    def fn(lib: Any, x: Any, v: Any) -> Any:
        y = x.sin()
        return y.index_put_((long(lib, 2, 0),), v)

    assert_same(fn, X, RNG.standard_normal((5,)))


@pytest.mark.parametrize("value", ["scalar", "0-d tensor"])
def test_masked_fill_inplace_matches_torch(value: str) -> None:
    def fn(lib: Any, x: Any, v: Any) -> Any:
        y = x * x
        fill = -2.5 if value == "scalar" else v.sum() * 2
        y.masked_fill_(lib.tensor(X > 0), fill)
        return y + v.sum()

    assert_same(fn, X, RNG.standard_normal((3,)))


def test_scatter_add_inplace_matches_torch() -> None:
    index = RNG.integers(0, 5, (3, 4))

    def fn(lib: Any, x: Any, src: Any) -> Any:
        y = x.cos()
        y.scatter_add_(1, lib.tensor(index), src * 2)
        return y

    assert_same(fn, X, RNG.standard_normal((3, 4)))


def test_scatter_inplace_matches_torch() -> None:
    index = np.stack([RNG.permutation(5)[:3] for _ in range(4)])  # unique per row

    def fn(lib: Any, x: Any, src: Any) -> Any:
        y = x + 1
        y.scatter_(1, lib.tensor(index), src)
        return y

    assert_same(fn, X, RNG.standard_normal((4, 3)))


@pytest.mark.parametrize("lib", [ember, torch], ids=["ember", "torch"])
def test_saved_tensor_modified_inplace_raises(lib: Any) -> None:
    x = lib.tensor(X, requires_grad=True)
    y = x.exp()  # exp's backward reads its output y
    y[0] = 1.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_inplace_write_to_a_tensor_no_backward_reads_is_fine() -> None:
    def fn(lib: Any, x: Any) -> Any:
        y = x * 3  # mul's backward reads x, not y
        y[0] = 0.0
        return y

    assert_same(fn, X)


def test_inplace_on_a_tensor_saved_by_getitem_keeps_version_checks() -> None:
    x = ember.tensor(X, requires_grad=True)
    y = x.exp()
    z = y[1:3]  # a view: it shares y's version counter
    w = z * z  # mul saves z
    y[2] = 0.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        w.sum().backward()


def test_basic_index_result_is_a_view_of_its_base() -> None:
    base = ember.zeros(3, 4)
    row = base[1]
    row[2] = 5.0
    assert base[1, 2].item() == 5.0
    assert base._version == row._version == 1


def test_writing_through_a_view_in_autograd_is_refused_not_wrong() -> None:
    y = ember.randn(3, 4, requires_grad=True) * 1
    with pytest.raises(RuntimeError, match="in-place modification of a view"):
        y[0][1] = 5.0


@pytest.mark.parametrize(
    ("shape", "reps"),
    [
        ((2, 3), (1, 1)),
        ((1, 4), (3, 1)),
        ((2, 3), (2, 1)),
        ((3,), (2, 1, 1)),
        ((1, 3, 1, 1), (1, 1, 2, 2)),
    ],
)
def test_repeat_gives_fresh_writable_memory_like_torch(shape, reps) -> None:
    """An in-place op on ``repeat``'s result works and leaves the source alone (it once
    returned a view of the source, or of read-only broadcast memory)."""
    torch = pytest.importorskip("torch")
    values = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    x, t = ember.tensor(values), torch.tensor(values)
    y, u = x.repeat(*reps), t.repeat(*reps)
    y.div_(255.0)
    u.div_(255.0)
    np.testing.assert_array_equal(y.numpy(), u.numpy())
    np.testing.assert_array_equal(x.numpy(), values)
