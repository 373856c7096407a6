"""Each graph pass on its own, on hand-built graphs, and the executor running them."""

from __future__ import annotations

import numpy as np

import ember
from ember.jit.executor import Executor
from ember.jit.graph import Graph, Node, Source
from ember.jit.passes import (
    cse,
    dce,
    fold_constants,
    last_uses,
    optimize,
    plan_buffers,
    simplify,
)
from ember.ops.core import Aval
from ember.ops.elementwise import Add, Exp, Mul, Sub
from ember.ops.movement import Permute, Reshape

F64 = ember.float64


def _graph(*input_shapes: tuple[int, ...]) -> Graph:
    g = Graph()
    for i, shape in enumerate(input_shapes):
        g.inputs.append(g.new_value(Aval(shape, F64)))
        g.sources.append(Source("arg", i))
    return g


def _op(g: Graph, prim, *inputs: int, shape: tuple[int, ...], **params) -> int:
    out = g.new_value(Aval(shape, F64))
    g.nodes.append(Node(prim, inputs, params, out))
    return out


def _const(g: Graph, value) -> int:
    arr = np.asarray(value, dtype=np.float64)
    vid = g.new_value(Aval(arr.shape, F64))
    g.constants[vid] = arr
    return vid


def _run(g: Graph, *arrays: np.ndarray) -> list[np.ndarray]:
    args = [ember.tensor(a) for a in arrays]
    ex = Executor(g, set(g.inputs) | set(g.constants))
    return [t.numpy() for t in ex.run(args, ex.bind(args))]


def test_dce_drops_unused_nodes_and_constants() -> None:
    g = _graph((3,))
    (x,) = g.inputs
    c = _const(g, 2.0)
    dead = _op(g, Mul, x, c, shape=(3,))
    _op(g, Exp, dead, shape=(3,))
    live = _op(g, Exp, x, shape=(3,))
    g.outputs = [live]
    dce(g)
    assert [n.out for n in g.nodes] == [live] and g.constants == {}


def test_dce_keeps_write_backs() -> None:
    g = _graph((3,))
    (x,) = g.inputs
    w = _op(g, Exp, x, shape=(3,))
    g.writes = [(g.sources[0], w)]
    dce(g)
    assert len(g) == 1


def test_cse_merges_identical_nodes_and_constants() -> None:
    g = _graph((2, 3))
    (x,) = g.inputs
    a, b = _const(g, 3.0), _const(g, 3.0)
    m1, m2 = _op(g, Mul, x, a, shape=(2, 3)), _op(g, Mul, x, b, shape=(2, 3))
    p1 = _op(g, Permute, m1, shape=(3, 2), dims=(1, 0))
    p2 = _op(g, Permute, m2, shape=(3, 2), dims=(1, 0))
    out = _op(g, Add, p1, p2, shape=(3, 2))
    g.outputs = [out]
    x0 = np.arange(6.0).reshape(2, 3)
    before = _run(g, x0)
    cse(g)
    assert [n.prim.name for n in g.nodes] == ["Mul", "Permute", "Add"]
    assert g.nodes[-1].inputs == (p1, p1) and len(g.constants) == 1
    np.testing.assert_array_equal(_run(g, x0)[0], before[0])


def test_cse_keeps_nodes_with_different_params() -> None:
    g = _graph((2, 3))
    (x,) = g.inputs
    r1 = _op(g, Reshape, x, shape=(3, 2))
    g.nodes[-1].params = {"shape": (3, 2)}
    r2 = _op(g, Reshape, x, shape=(6,))
    g.nodes[-1].params = {"shape": (6,)}
    g.outputs = [r1, r2]
    cse(g)
    assert len(g) == 2


def test_fold_constants_evaluates_input_free_subgraphs() -> None:
    g = _graph((2,))
    (x,) = g.inputs
    c = _const(g, [1.0, 2.0])
    e = _op(g, Exp, c, shape=(2,))
    s = _op(g, Mul, e, c, shape=(2,))
    out = _op(g, Add, x, s, shape=(2,))
    g.outputs = [out]
    fold_constants(g)
    assert [n.prim.name for n in g.nodes] == ["Add"]
    np.testing.assert_allclose(g.constants[s], np.exp([1.0, 2.0]) * [1.0, 2.0])
    np.testing.assert_allclose(_run(g, np.zeros(2))[0], np.exp([1.0, 2.0]) * [1.0, 2.0])


def test_simplify_removes_mul_by_one_and_add_zero() -> None:
    g = _graph((2, 2))
    (x,) = g.inputs
    one, zero = _const(g, 1.0), _const(g, 0.0)
    m = _op(g, Mul, one, x, shape=(2, 2))
    a = _op(g, Add, m, zero, shape=(2, 2))
    s = _op(g, Sub, a, zero, shape=(2, 2))
    out = _op(g, Exp, s, shape=(2, 2))
    g.outputs = [out]
    simplify(g)
    assert [n.prim.name for n in g.nodes] == ["Exp"] and g.nodes[0].inputs == (x,)


def test_simplify_keeps_mul_by_one_that_broadcasts() -> None:
    g = _graph((2,))
    (x,) = g.inputs
    ones = _const(g, np.ones((3, 2)))
    g.outputs = [_op(g, Mul, x, ones, shape=(3, 2))]
    simplify(g)
    assert len(g) == 1


def test_simplify_composes_permutes_and_reshapes() -> None:
    g = _graph((2, 3, 4))
    (x,) = g.inputs
    p1 = _op(g, Permute, x, shape=(3, 4, 2), dims=(1, 2, 0))
    p2 = _op(g, Permute, p1, shape=(4, 2, 3), dims=(1, 2, 0))
    r1 = _op(g, Reshape, p2, shape=(8, 3))
    g.nodes[-1].params = {"shape": (8, 3)}
    r2 = _op(g, Reshape, r1, shape=(24,))
    g.nodes[-1].params = {"shape": (24,)}
    g.outputs = [r2]
    x0 = np.arange(24.0).reshape(2, 3, 4)
    expected = _run(g, x0)[0]
    simplify(g)
    dce(g)
    assert [(n.prim.name, n.params) for n in g.nodes] == [
        ("Permute", {"dims": (2, 0, 1)}),
        ("Reshape", {"shape": (24,)}),
    ]
    np.testing.assert_array_equal(_run(g, x0)[0], expected)


def test_simplify_drops_identity_permute_and_reshape() -> None:
    g = _graph((2, 3))
    (x,) = g.inputs
    p1 = _op(g, Permute, x, shape=(3, 2), dims=(1, 0))
    p2 = _op(g, Permute, p1, shape=(2, 3), dims=(1, 0))
    r1 = _op(g, Reshape, p2, shape=(6,))
    g.nodes[-1].params = {"shape": (6,)}
    r2 = _op(g, Reshape, r1, shape=(2, 3))
    g.nodes[-1].params = {"shape": (2, 3)}
    g.outputs = [r2]
    simplify(g)
    dce(g)
    assert len(g) == 0 and g.outputs == [x]


def test_last_uses_frees_each_value_once_after_its_last_reader() -> None:
    g = _graph((2,))
    (x,) = g.inputs
    a = _op(g, Exp, x, shape=(2,))
    b = _op(g, Mul, a, a, shape=(2,))
    c = _op(g, Add, b, a, shape=(2,))
    d = _op(g, Exp, c, shape=(2,))
    g.outputs = [d]
    # inputs and outputs are never freed; a dies at c, b at c, c at d
    assert last_uses(g) == [(), (), (b, a), (c,)]


def test_optimize_reports_counts() -> None:
    g = _graph((2,))
    (x,) = g.inputs
    one = _const(g, 1.0)
    m = _op(g, Mul, x, one, shape=(2,))
    _op(g, Exp, m, shape=(2,))
    g.outputs = [_op(g, Exp, m, shape=(2,))]
    assert optimize(g) == [
        ("traced", 3),
        ("simplify", 2),
        ("cse", 1),
        ("fold_constants", 1),
        ("dce", 1),
    ]


def test_plan_buffers_updates_state_in_place_and_reuses_dead_buffers() -> None:
    g = _graph((3,), (3,))
    p, d = g.inputs
    g.sources[0] = Source("data", 0, ember.tensor(np.zeros(3)))
    lr = _const(g, 0.5)
    e = _op(g, Exp, d, shape=(3,))  # fresh; dies at the Mul: its buffer is reused
    step = _op(g, Mul, e, lr, shape=(3,))
    new_p = _op(g, Sub, p, step, shape=(3,))
    g.writes = [(g.sources[0], new_p)]
    g.outputs = [_op(g, Exp, d, shape=(3,))]
    plan, done = plan_buffers(g)
    assert plan == {1: e, 2: p} and done == [0]


def test_plan_buffers_keeps_the_old_value_while_it_is_read() -> None:
    g = _graph((3,))
    (p,) = g.inputs
    two = _const(g, 2.0)
    new_p = _op(g, Mul, p, two, shape=(3,))
    later = _op(g, Add, p, new_p, shape=(3,))  # reads the old p after the update
    view = _op(g, Reshape, later, shape=(1, 3))
    g.nodes[-1].params = {"shape": (1, 3)}
    g.writes = [(g.sources[0], new_p)]
    g.outputs = [_op(g, Exp, view, shape=(1, 3))]
    plan, done = plan_buffers(g)
    # no in-place update of p (read later); `later` is seen through a view: never reused
    assert plan == {} and done == []


def test_executor_in_place_update_matches_plain_execution() -> None:
    target = ember.tensor(np.arange(3.0))
    g = _graph((3,))
    g.sources[0] = Source("data", 0, target)
    (p,) = g.inputs
    half = _const(g, 0.5)
    new_p = _op(g, Sub, p, _op(g, Mul, p, half, shape=(3,)), shape=(3,))
    g.writes = [(g.sources[0], new_p)]
    g.outputs = [new_p]
    ex = Executor(g, set(g.inputs) | set(g.constants))
    assert ex.in_place == 1 and ex.writes == []
    (out,) = ex.run([], ex.bind([]))
    np.testing.assert_array_equal(target.numpy(), [0.0, 0.5, 1.0])
    target.mul_(0.0)  # the returned tensor does not share the state's memory
    np.testing.assert_array_equal(out.numpy(), [0.0, 0.5, 1.0])


def test_plan_buffers_keeps_the_old_value_when_it_is_returned() -> None:
    g = _graph((3,))
    (p,) = g.inputs
    new_p = _op(g, Mul, p, _const(g, 2.0), shape=(3,))
    g.writes = [(g.sources[0], new_p)]
    g.outputs = [p]  # the caller gets the value from before the update
    assert plan_buffers(g) == ({}, [])
