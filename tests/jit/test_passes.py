"""Each graph pass on its own, on hand-built graphs, and the executor running them."""

from __future__ import annotations

import numpy as np

import ember
from ember.jit.executor import Executor
from ember.jit.fusion import fuse
from ember.jit.graph import Graph, Node, Source
from ember.jit.memory import view_owners
from ember.jit.passes import cse, dce, fold_constants, optimize, simplify, transpose_matmul
from ember.jit.trace import may_alias
from ember.ops.core import Aval
from ember.ops.elementwise import Add, Copy, Exp, Gt, Mul, Relu, Sub, Tanh
from ember.ops.linalg import MatMul
from ember.ops.movement import Permute, Reshape
from ember.ops.reduce import Sum

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


def _executor(g: Graph, native: bool | str = False) -> Executor:
    return Executor(g, may_alias(g, set()), use_native=native)


def _run(g: Graph, *arrays: np.ndarray, native: bool | str = False) -> list[np.ndarray]:
    args = [ember.tensor(a) for a in arrays]
    ex = _executor(g, native)
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


def _copied_transposed_product(a_shape, b_shape, dims=None) -> tuple[Graph, int, int]:
    """``copy((a @ b) permuted by dims)`` (default: the last two swapped): graph, product, view."""
    g = _graph(a_shape, b_shape)
    a, b = g.inputs
    shape = np.broadcast_shapes(a_shape[:-2], b_shape[:-2]) + (a_shape[-2], b_shape[-1])
    dims = dims or (*range(len(shape) - 2), len(shape) - 1, len(shape) - 2)
    product = _op(g, MatMul, a, b, shape=shape)
    view = _op(g, Permute, product, shape=tuple(shape[d] for d in dims), dims=dims)
    g.outputs = [_op(g, Copy, view, shape=tuple(shape[d] for d in dims))]
    return g, product, view


def test_transpose_matmul_computes_the_product_in_its_used_layout() -> None:
    rng = np.random.default_rng(0)
    for a_shape, b_shape in [((5, 3), (3, 4)), ((2, 5, 3), (3, 4)), ((2, 5, 3), (2, 3, 4))]:
        g, _, _ = _copied_transposed_product(a_shape, b_shape)
        a0, b0 = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
        expected = _run(g, a0, b0)[0]
        transpose_matmul(g)
        dce(g)
        assert [n.prim.name for n in g.nodes] == ["Permute", "Permute", "MatMul"], a_shape
        out = _run(g, a0, b0)[0]
        assert out.flags.c_contiguous
        np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_transpose_matmul_then_simplify_reads_the_untransposed_operand() -> None:
    g = _graph((4, 3), (4, 6))  # the weight gradient of x @ w.mT: (x.mT @ g).mT
    x, grad = g.inputs
    xt = _op(g, Permute, x, shape=(3, 4), dims=(1, 0))
    product = _op(g, MatMul, xt, grad, shape=(3, 6))
    view = _op(g, Permute, product, shape=(6, 3), dims=(1, 0))
    g.outputs = [_op(g, Copy, view, shape=(6, 3))]
    x0, g0 = np.arange(12.0).reshape(4, 3), np.arange(24.0).reshape(4, 6)
    optimize(g)
    assert [(n.prim.name, n.inputs[-1]) for n in g.nodes] == [("Permute", grad), ("MatMul", x)]
    np.testing.assert_allclose(_run(g, x0, g0)[0], (x0.T @ g0).T)


def test_transpose_matmul_leaves_shared_or_other_permutes_alone() -> None:
    g, product, _ = _copied_transposed_product((2, 5, 3), (3, 4), dims=(1, 0, 2))
    transpose_matmul(g)
    assert [n.prim.name for n in g.nodes] == ["MatMul", "Permute", "Copy"]
    g, product, _ = _copied_transposed_product((5, 3), (3, 4))
    g.outputs.append(product)  # the product is observed: it must still be computed as is
    transpose_matmul(g)
    assert [n.prim.name for n in g.nodes] == ["MatMul", "Permute", "Copy"]
    g, _, view = _copied_transposed_product((5, 3), (3, 4))
    _op(g, Exp, view, shape=(4, 5))  # the view has a second reader
    transpose_matmul(g)
    assert [n.prim.name for n in g.nodes] == ["MatMul", "Permute", "Copy", "Exp"]


def test_optimize_reports_counts() -> None:
    g = _graph((2,))
    (x,) = g.inputs
    one = _const(g, 1.0)
    m = _op(g, Mul, x, one, shape=(2,))
    _op(g, Exp, m, shape=(2,))
    g.outputs = [_op(g, Exp, m, shape=(2,))]
    assert optimize(g) == [
        ("traced", 3),
        ("transpose_matmul", 3),
        ("simplify", 2),
        ("cse", 1),
        ("fold_constants", 1),
        ("dce", 1),
    ]


def test_memory_plan_updates_state_in_place_and_reuses_dead_buffers() -> None:
    g = _graph((3,), (3,))
    p, d = g.inputs
    g.sources[0] = Source("data", 0, ember.tensor(np.zeros(3)))
    lr = _const(g, 0.5)
    e = _op(g, Exp, d, shape=(3,))
    step = _op(g, Mul, e, lr, shape=(3,))  # e dies here: step takes its buffer
    new_p = _op(g, Sub, p, step, shape=(3,))
    g.writes = [(g.sources[0], new_p)]
    g.outputs = [_op(g, Exp, d, shape=(3,))]
    plan = _executor(g).plan
    assert plan.target == {new_p: p} and plan.done == [0]
    assert plan.buffer == {e: 0, step: 0} and plan.nbytes() == 24


def test_memory_plan_keeps_the_old_value_while_it_is_read() -> None:
    g = _graph((3,))
    (p,) = g.inputs
    new_p = _op(g, Mul, p, _const(g, 2.0), shape=(3,))
    later = _op(g, MatMul, p, p, shape=())  # reads the old p after the update
    g.writes = [(g.sources[0], new_p)]
    g.outputs = [later]
    plan = _executor(g).plan
    assert plan.target == {} and plan.done == []


def test_memory_plan_keeps_the_old_value_when_it_is_returned() -> None:
    g = _graph((3,))
    (p,) = g.inputs
    new_p = _op(g, Mul, p, _const(g, 2.0), shape=(3,))
    g.writes = [(g.sources[0], new_p)]
    g.outputs = [p]  # the caller gets the value from before the update
    assert _executor(g).plan.target == {}


def test_executor_in_place_update_matches_plain_execution() -> None:
    target = ember.tensor(np.arange(3.0))
    g = _graph((3,))
    g.sources[0] = Source("data", 0, target)
    (p,) = g.inputs
    half = _const(g, 0.5)
    new_p = _op(g, Sub, p, _op(g, Mul, p, half, shape=(3,)), shape=(3,))
    g.writes = [(g.sources[0], new_p)]
    g.outputs = [new_p]
    ex = _executor(g)
    assert ex.in_place == 1 and ex.writes == []
    (out,) = ex.run([], ex.bind([]))
    np.testing.assert_array_equal(target.numpy(), [0.0, 0.5, 1.0])
    target.mul_(0.0)  # the returned tensor does not share the state's memory
    np.testing.assert_array_equal(out.numpy(), [0.0, 0.5, 1.0])


def test_fuse_groups_an_elementwise_chain_with_broadcast_inputs() -> None:
    g = _graph((4, 3), (3,), (3, 3))
    x, b, w = g.inputs
    m = _op(g, Mul, x, b, shape=(4, 3))
    a = _op(g, Add, m, x, shape=(4, 3))
    t = _op(g, Tanh, a, shape=(4, 3))
    g.outputs = [_op(g, MatMul, t, w, shape=(4, 3))]
    (group,) = fuse(g)
    assert group.nodes == [0, 1, 2] and group.inputs == [x, b] and group.outputs == [t]
    x0, b0, w0 = np.linspace(-1, 1, 12).reshape(4, 3), np.arange(3.0), np.eye(3) * 2
    np.testing.assert_allclose(_run(g, x0, b0, w0)[0], np.tanh(x0 * b0 + x0) @ w0)


def test_fuse_keeps_a_group_open_across_unrelated_nodes_until_one_reads_it() -> None:
    g = _graph((2, 2), (2, 2))
    x, y = g.inputs
    e = _op(g, Exp, x, shape=(2, 2))
    mm = _op(g, MatMul, y, y, shape=(2, 2))  # reads nothing of the group: it stays open
    a = _op(g, Add, e, mm, shape=(2, 2))
    r = _op(g, MatMul, a, y, shape=(2, 2))  # reads the group: it closes
    out = _op(g, Relu, _op(g, Mul, a, r, shape=(2, 2)), shape=(2, 2))
    flag = _op(g, Gt, x, y, shape=(2, 2))  # a comparison of float64 values joins their group
    g.avals[flag] = Aval((2, 2), ember.bool)
    g.outputs = [out, flag]
    groups = fuse(g)
    assert [grp.nodes for grp in groups] == [[0, 2], [4, 5, 6]]
    assert groups[0].outputs == [a] and groups[1].inputs == [a, r, x, y]
    assert groups[1].outputs == [out, flag] and groups[1].dtype == ember.float64
    x0, y0 = np.array([[0.5, -1.0], [2.0, 0.0]]), np.array([[1.0, 2.0], [-3.0, 0.5]])
    a0 = np.exp(x0) + y0 @ y0
    expected = np.maximum(a0 * (a0 @ y0), 0)
    got, got_flag = _run(g, x0, y0)
    np.testing.assert_allclose(got, expected)
    np.testing.assert_array_equal(got_flag, x0 > y0)


def _random_graph(rng: np.random.Generator, n: int) -> Graph:
    """A random graph over 3x4 values: elementwise chains, matmuls, reductions, views and
    an in-place state update."""
    shape = (3, 4)
    g = _graph(shape, shape, (4,), (4, 4))
    g.sources = [Source("data", 0, ember.tensor(rng.standard_normal(shape)))]
    g.sources += [Source("arg", i) for i in range(3)]
    pool = list(g.inputs[:3])
    full = [v for v in pool if g.avals[v].shape == shape]
    for _ in range(n):
        kind = rng.integers(6)
        b = int(rng.choice(pool))
        f = int(rng.choice(full))
        if kind == 0:
            v = _op(g, (Add, Mul, Sub)[rng.integers(3)], f, b, shape=shape)
        elif kind == 1:
            v = _op(g, (Tanh, Relu)[rng.integers(2)], f, shape=shape)
        elif kind == 2:
            v = _op(g, MatMul, f, g.inputs[3], shape=shape)
        elif kind == 3:
            s = _op(g, Sum, f, shape=(3, 1), dims=(1,), keepdim=True)
            v = _op(g, Mul, f, s, shape=shape)
        else:
            r = _op(g, Reshape, f, shape=(4, 3))
            g.nodes[-1].params = {"shape": (4, 3)}
            v = _op(g, Reshape, r, shape=shape)
            g.nodes[-1].params = {"shape": shape}
        pool.append(v)
        full.append(v)
    picks = rng.choice(full[2:], 3)
    g.writes = [(g.sources[0], int(picks[0]))]
    g.outputs = [int(picks[1]), int(picks[2])]
    return g


def _reference(g: Graph, arrays: list[np.ndarray]) -> dict[int, np.ndarray]:
    env = dict(zip(g.inputs, arrays))
    env.update(g.constants)
    for node in g.nodes:
        env[node.out] = node.prim.forward(np, *[env[v] for v in node.inputs], **node.params)
    return env


def test_memory_plan_never_reuses_a_buffer_while_it_is_live() -> None:
    rng = np.random.default_rng(0)
    for trial in range(40):
        g = _random_graph(rng, int(rng.integers(3, 25)))
        dce(g)
        state = g.sources[0].tensor
        arrays = [
            state.numpy().copy(),
            *(rng.standard_normal(g.avals[v].shape) for v in g.inputs[1:]),
        ]
        expected = _reference(g, arrays)
        ex = _executor(g)
        plan, steps = ex.plan, ex.step_io
        owners = view_owners(g)
        by_buffer: dict[int, list[int]] = {}
        for v, b in plan.buffer.items():
            by_buffer.setdefault(b, []).append(v)
        for values in by_buffer.values():
            spans = sorted((plan.defined[v], plan.last.get(v, plan.defined[v]), v) for v in values)
            for (_, end, v), (start, _, w) in zip(spans, spans[1:]):
                # a later value may only take the buffer once the earlier one is dead, or at
                # its last reader when that step is elementwise and reads it directly
                in_place = start == end and steps[start].elementwise and v in steps[start].reads
                assert start > end or in_place, (trial, v, w)
        for v in plan.buffer:  # nothing handed out or seen through a returned view is pooled
            assert all(v not in owners.get(r, (r,)) for r in g.roots())
        args = [ember.tensor(a) for a in arrays[1:]]
        outs = ex.run(args, ex.bind(args))
        for out, v in zip(outs, g.outputs):
            np.testing.assert_allclose(out.numpy(), expected[v], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(state.numpy(), expected[g.writes[0][1]], rtol=1e-12)
