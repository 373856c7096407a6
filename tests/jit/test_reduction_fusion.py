"""Reduction epilogues: which sums join the elementwise group computing their input
(``fusion.fuse(..., reductions=True)``), the native kernels that accumulate them in the same
loop, the memory plan around them, ``explain``, and jitted training steps against eager ones."""

from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.jit import native
from ember.jit.fusion import Split, fuse, split
from ember.jit.graph import Source
from ember.ops.core import Aval
from ember.ops.elementwise import Add, Div, Mul, Sub
from ember.ops.linalg import MatMul
from ember.ops.reduce import Amax, Sum, reduced_shape
from ember.tensor import Tensor
from tests.jit.test_passes import _executor, _graph, _op, _reference

needs_cc = pytest.mark.skipif(native.compiler() is None, reason="no C compiler")


@pytest.fixture(autouse=True)
def cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """One private kernel cache for this module, the compiler from PATH, sums fused."""
    monkeypatch.setattr(ember.config, "jit_cache_dir", tmp_path_factory.getbasetemp() / "sums")
    monkeypatch.setattr(ember.config, "jit_fuse_reductions", True)
    monkeypatch.delenv("EMBER_CC", raising=False)


def _sum(g, x: int, dims: tuple[int, ...], keepdim: bool = True) -> int:
    shape = reduced_shape(g.avals[x].shape, dims, keepdim)
    return _op(g, Sum, x, shape=shape, dims=dims, keepdim=keepdim)


def _chain(shape: tuple[int, ...] = (6, 19)):
    """x * y + x over two inputs of ``shape``: (graph, x, y, value)."""
    g = _graph(shape, shape)
    x, y = g.inputs
    return g, x, y, _op(g, Add, _op(g, Mul, x, y, shape=shape), x, shape=shape)


def _check(g, *shapes: tuple[int, ...], native: bool | str = "all") -> None:
    """Run ``g`` (native executor, fused sums) on random inputs against plain NumPy."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    expected = _reference(g, arrays)
    ex = _executor(g, native)
    args = [ember.tensor(a) for a in arrays]
    for out, v in zip(ex.run(args, ex.bind(args)), g.outputs):
        np.testing.assert_allclose(out.numpy(), expected[v], rtol=1e-12, atol=1e-12)


def test_split_of_trailing_leading_and_other_axes() -> None:
    assert split((4, 5), (1,)) == Split(Split.ROWS, 4, 5)
    assert split((2, 3, 4), (0, 1, 2)) == Split(Split.ROWS, 1, 24)
    assert split((2, 3, 4), (1, 2)) == Split(Split.ROWS, 2, 12)
    assert split((4, 5), (0,)) == Split(Split.COLUMNS, 4, 5)
    assert split((2, 3, 4), (0, 1)) == Split(Split.COLUMNS, 6, 4)
    assert split((1, 4, 5), (1,)) == Split(Split.COLUMNS, 4, 5)  # axes of size 1 do not count
    assert split((4, 1), (1,)) == Split(Split.ROWS, 4, 1)
    assert split((2, 3, 4), (0, 2)) is None  # neither trailing nor leading
    assert split((2, 3, 4), (1,)) is None
    assert split((0, 3), (1,)) is None and split((), ()) is None


@needs_cc
@pytest.mark.parametrize("keepdim", [True, False])
@pytest.mark.parametrize("dims", [(1,), (0,), (0, 1)], ids=["last", "leading", "all"])
def test_a_sum_of_a_group_value_joins_it_and_the_value_is_never_stored(
    dims: tuple[int, ...], keepdim: bool
) -> None:
    g, x, y, v = _chain()
    g.outputs = [_sum(g, v, dims, keepdim)]
    (group,) = fuse(g, reductions=True)
    assert group.nodes == [0, 1] and group.reductions == [2]
    assert group.inputs == [x, y] and group.outputs == g.outputs  # v stays in the kernel
    assert group.split == split((6, 19), dims)
    _check(g, (6, 19), (6, 19))


def test_without_the_flag_sums_are_not_fused() -> None:
    g, _, _, v = _chain()
    g.outputs = [_sum(g, v, (1,))]
    (group,) = fuse(g)
    assert group.reductions == [] and group.outputs == [v]


@needs_cc
def test_a_sum_over_middle_axes_is_not_fused() -> None:
    g, _, _, v = _chain((2, 3, 4))
    g.outputs = [_sum(g, v, (1,))]
    (group,) = fuse(g, reductions=True)
    assert group.reductions == [] and group.outputs == [v]
    _check(g, (2, 3, 4), (2, 3, 4))


@needs_cc
def test_a_summed_value_read_elsewhere_or_returned_is_also_a_group_output() -> None:
    g, x, y, v = _chain((5, 5))
    total = _sum(g, v, (1,))
    g.outputs = [total, _op(g, MatMul, v, y, shape=(5, 5))]
    (group,) = fuse(g, reductions=True)
    assert group.reductions == [2] and group.outputs == [v, g.outputs[0]]
    _check(g, (5, 5), (5, 5))
    g, x, y, v = _chain()
    g.outputs = [v, _sum(g, v, (0, 1), keepdim=False)]
    (group,) = fuse(g, reductions=True)
    assert group.reductions == [2] and group.outputs == [v, g.outputs[1]]
    _check(g, (6, 19), (6, 19))


def test_a_sum_of_a_value_no_group_computes_is_not_fused() -> None:
    g = _graph((4, 4))
    (x,) = g.inputs
    g.outputs = [_sum(g, _op(g, MatMul, x, x, shape=(4, 4)), (1,))]
    assert fuse(g, reductions=True) == []


@needs_cc
def test_reading_the_sum_closes_the_group_other_members_may_follow() -> None:
    """Softmax's shape: x / sum(x) cannot run in the loop that makes the sum; an op that does
    not read the sum still joins the group after the epilogue."""
    g, x, y, v = _chain()
    s = _sum(g, v, (1,))
    w = _op(g, Sub, v, y, shape=(6, 19))  # joins the group after its epilogue
    q = _op(g, Div, w, s, shape=(6, 19))  # reads the sum: a new group
    g.outputs = [q]
    first, second = fuse(g, reductions=True)
    assert first.nodes == [0, 1, 3] and first.reductions == [2]
    assert first.outputs == [w, s] and second.nodes == [4] and second.inputs == [w, s]
    _check(g, (6, 19), (6, 19))


def test_without_a_compiler_epilogues_run_as_numpy_sums_after_their_group(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Fused with a member traced after it, the sum runs after the whole group."""
    monkeypatch.setenv("EMBER_CC", str(tmp_path_factory.getbasetemp() / "no-such-cc"))
    g, x, y, v = _chain()
    s = _sum(g, v, (1,))
    g.outputs = [_op(g, Div, _op(g, Sub, v, y, shape=(6, 19)), s, shape=(6, 19)), s]
    with pytest.warns(UserWarning, match="no working C compiler"):
        ex = _executor(g, True)
    assert ex.groups[0].reductions == [2] and ex.native == [False, False]
    rng = np.random.default_rng(1)
    arrays = [rng.standard_normal((6, 19)) for _ in range(2)]
    expected = _reference(g, arrays)
    args = [ember.tensor(a) for a in arrays]
    for out, v in zip(ex.run(args, ex.bind(args)), g.outputs):
        np.testing.assert_array_equal(out.numpy(), expected[v])


@needs_cc
def test_only_sums_of_one_split_share_a_group() -> None:
    g, _, _, v = _chain()
    rows, also_rows = _sum(g, v, (1,)), _sum(g, v, (1,), keepdim=False)
    columns = _sum(g, v, (0,))  # another split: reads v like any other op
    g.outputs = [rows, also_rows, columns]
    (group,) = fuse(g, reductions=True)
    assert group.reductions == [2, 3] and group.outputs == [v, rows, also_rows]
    _check(g, (6, 19), (6, 19))


@needs_cc
@pytest.mark.parametrize(
    ("shape", "other", "dims"),
    [
        ((2, 3, 4, 5), (2, 3, 4, 1), (3,)),  # softmax's backward: one value per row, hoisted
        ((2, 3, 4, 5), (1, 3, 1, 5), (3,)),  # whole along the row, one row per (i, j)
        ((2, 3, 4), (2, 3, 1), (0, 1)),  # one value per row of a sum down columns
        ((2, 3, 4), (3, 1), (1, 2)),  # varies inside the summed block: read per element
        ((2, 3, 4), (3, 1), (0,)),
    ],
)
def test_sums_with_broadcast_inputs(
    shape: tuple[int, ...], other: tuple[int, ...], dims: tuple[int, ...]
) -> None:
    g = _graph(shape, other, shape[-1:])
    x, b, c = g.inputs
    v = _op(g, Sub, _op(g, Mul, x, b, shape=shape), c, shape=shape)
    g.outputs = [_sum(g, v, dims), _sum(g, v, dims, keepdim=False)]
    (group,) = fuse(g, reductions=True)
    assert group.reductions == [2, 3] and group.outputs == g.outputs
    _check(g, shape, other, shape[-1:])


@needs_cc
@pytest.mark.parametrize("dims", [(1,), (0,)], ids=["last", "leading"])
def test_sums_of_transposed_inputs(dims: tuple[int, ...]) -> None:
    g, _, _, v = _chain((7, 300))
    g.outputs = [_sum(g, v, dims), v]
    rng = np.random.default_rng(2)
    x0, y0 = rng.standard_normal((300, 7)).T, rng.standard_normal((7, 300))
    ex = _executor(g, "all")
    args = [Tensor._wrap(x0), Tensor._wrap(y0)]  # x is a transposed view
    total, value = ex.run(args, ex.bind(args))
    np.testing.assert_allclose(value.numpy(), x0 * y0 + x0, rtol=1e-15)
    np.testing.assert_allclose(total.numpy(), (x0 * y0 + x0).sum(dims, keepdims=True))


@needs_cc
@pytest.mark.parametrize("n", [1, 7, 8, 9, 1000, 100_003])
@pytest.mark.parametrize("dims", [(1,), (0,), (0, 1)], ids=["last", "leading", "all"])
def test_float32_sums_stay_within_float32_rounding_of_numpy(dims: tuple[int, ...], n: int) -> None:
    """The kernel adds float32 terms in double: as close to the exact sum as NumPy's float32
    sum (pairwise along rows, one row after another down columns), or closer."""
    shape = (n, 3) if dims == (0,) else (3, n)
    g = _graph(shape, shape)
    for v in g.inputs:
        g.avals[v] = Aval(shape, ember.float32)
    x, y = g.inputs
    prod = _op(g, Mul, x, y, shape=shape)
    total = _sum(g, prod, dims)
    for v in (prod, total):
        g.avals[v] = Aval(g.avals[v].shape, ember.float32)
    g.outputs = [total]
    rng = np.random.default_rng(n)
    x0, y0 = (rng.standard_normal(shape).astype(np.float32) + 0.5 for _ in range(2))
    ex = _executor(g, "all")
    assert ex.native == [True] and ex.groups[0].reductions == [1]
    args = [ember.tensor(x0), ember.tensor(y0)]
    (out,) = ex.run(args, ex.bind(args))
    assert out.dtype == ember.float32
    exact = x0.astype(np.float64) * y0.astype(np.float64)
    want, scale = exact.sum(dims, keepdims=True), np.abs(exact).sum(dims, keepdims=True)
    ours = np.abs(out.numpy() - want) / scale
    theirs = np.abs((x0 * y0).sum(dims, keepdims=True) - want) / scale
    assert np.all(ours <= np.maximum(theirs, 2**-24)), (ours.max(), theirs.max())


@needs_cc
def test_a_sum_never_overwrites_an_input_the_kernel_still_reads() -> None:
    """The sum over rows of x * b, with b (one value per column) read by every row: written
    back into b (state) or into b's pooled buffer, row 0's sum would change b[0] for row 1."""
    g = _graph((4, 4), (4, 4), (4,))
    state = ember.tensor(np.arange(4.0) + 1)
    g.sources[2] = Source("data", 0, state)
    x, x2, b = g.inputs
    b2 = _op(g, Add, b, b, shape=(4,))  # its own group: a pooled intermediate of shape (4,)
    to_state = _sum(g, _op(g, Mul, x, b, shape=(4, 4)), (1,), keepdim=False)
    pooled = _sum(g, _op(g, Mul, x2, b2, shape=(4, 4)), (1,), keepdim=False)
    g.writes = [(g.sources[2], to_state)]
    g.outputs = [_op(g, MatMul, x2, _op(g, Add, pooled, pooled, shape=(4,)), shape=(4,))]
    rng = np.random.default_rng(5)
    x0, x20 = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    b0 = state.numpy().copy()
    expected = _reference(g, [x0, x20, b0])
    ex = _executor(g, "all")
    assert to_state not in ex.plan.target and all(ex.native)
    args = [ember.tensor(x0), ember.tensor(x20)]
    (out,) = ex.run(args, ex.bind(args))
    np.testing.assert_allclose(state.numpy(), expected[to_state], rtol=1e-13)
    np.testing.assert_allclose(out.numpy(), expected[g.outputs[0]], rtol=1e-13)


def test_the_switch_leaves_sums_out_of_the_kernels() -> None:
    g, _, _, v = _chain()
    g.outputs = [_sum(g, v, (1,))]
    assert _executor(g, "all").groups[0].reductions == [2]
    with ember.config.override(jit_fuse_reductions=False):
        assert _executor(g, "all").groups[0].reductions == []
    assert _executor(g, False).groups[0].reductions == []  # the plan executor: never


@needs_cc
def test_explain_names_the_fused_sums() -> None:
    def fn(x: ember.Tensor, y: ember.Tensor) -> ember.Tensor:
        return ((x - y) * (x - y)).mean(-1) @ y[:, 0]  # a dot product of vectors: Mul, Sum

    x, y = ember.ones(4, 3, dtype=ember.float64), ember.zeros(4, 3, dtype=ember.float64)
    text = ember.jit.explain(fn, x, y)
    assert "2 reductions (sums, row maxima) fused into C kernels" in text, text
    lines = [ln.split(") -> ")[1] for ln in text.splitlines() if "fused into kernel" in ln]
    assert lines == [
        "[4] (never stored) fused into kernel 0",
        "[scalar] (never stored) fused into kernel 1",
    ], text


LOSSES = {
    "softmax": lambda h, t, y: ((F.softmax(h, dim=-1) - t) ** 2).sum(-1).mean(),
    "cross_entropy": lambda h, t, y: F.cross_entropy(h, y),
    "mse": lambda h, t, y: F.mse_loss(h, t),
}


def _layer_norm_step(loss: str, dtype: ember.dtype):
    """Linear, LayerNorm, Linear and ``loss`` (rows of 19: sums with a loop tail), SGD."""
    ember.manual_seed(4)
    model = nn.Sequential(
        nn.Linear(11, 19, dtype=dtype),
        nn.LayerNorm(19, dtype=dtype),
        nn.Linear(19, 19, dtype=dtype),
    )
    opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(x: ember.Tensor, t: ember.Tensor, y: ember.Tensor) -> ember.Tensor:
        opt.zero_grad()
        value = LOSSES[loss](model(x), t, y)
        value.backward()
        opt.step()
        return value

    return model, step


@needs_cc
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_training_steps_with_fused_sums_match_eager(
    loss: str, dtype: ember.dtype, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ember.config, "jit_native", True)
    (eager_model, eager_step), (model, step) = (_layer_norm_step(loss, dtype) for _ in range(2))
    jitted = ember.jit(step)
    rng = np.random.default_rng(6)
    rtol = 1e-4 if dtype is ember.float32 else 1e-11
    for _ in range(4):
        x = ember.tensor(rng.standard_normal((8, 11)), dtype=dtype)
        t = ember.tensor(rng.random((8, 19)), dtype=dtype)
        y = ember.tensor(rng.integers(0, 19, 8))
        assert jitted(x, t, y).item() == pytest.approx(eager_step(x, t, y).item(), rel=rtol)
    ex = jitted._last.executor
    fused = [r for k, grp in enumerate(ex.groups) if ex.native[k] for r in grp.reductions]
    assert len(fused) >= 3, "LayerNorm's sums (forward and backward) run in C kernels"
    for p, q in zip(eager_model.parameters(), model.parameters()):
        np.testing.assert_allclose(
            q.numpy(force=True), p.numpy(force=True), rtol=rtol, atol=rtol / 10
        )


def _random_sums_graph(rng: np.random.Generator, n: int):
    """Random 3x4 chains whose values are summed over rows, columns or everything (kept dims
    or not), the sums read back by broadcasting ops, matmuls that close groups, and a state
    vector of 4 updated from a sum: every way a sum's buffer could meet a live one."""
    g = _graph((3, 4), (3, 4), (4,), (4, 4))
    state = ember.tensor(rng.standard_normal(4))
    g.sources[2] = Source("data", 0, state)
    full, small, sums = list(g.inputs[:2]), [g.inputs[2]], [g.inputs[2]]
    for _ in range(n):
        kind = rng.integers(4)
        f, b = int(rng.choice(full)), int(rng.choice(full + small))
        if kind == 0:
            full.append(_op(g, (Add, Mul, Sub)[rng.integers(3)], f, b, shape=(3, 4)))
        elif kind == 1:
            dims = [(1,), (0,), (0, 1)][rng.integers(3)]
            s = _sum(g, f, dims, keepdim=bool(rng.integers(2)))
            s = _op(g, Add, s, s, shape=g.avals[s].shape) if rng.integers(2) else s
            sums.append(s)
            if g.avals[s].shape != (3,):  # the others broadcast against 3x4
                small.append(s)
        elif kind == 2:
            full.append(_op(g, MatMul, f, g.inputs[3], shape=(3, 4)))
        else:
            full.append(_op(g, Div, f, _sum(g, f, (1,)), shape=(3, 4)))
    row = _sum(g, int(rng.choice(full[2:] or full)), (0,), keepdim=False)  # a (4,) sum
    g.writes = [(g.sources[2], row if rng.integers(2) else _op(g, Add, row, 2, shape=(4,)))]
    g.outputs = [int(rng.choice(full)), *(int(v) for v in rng.choice(sums, 2))]
    return g, state


@needs_cc
def test_memory_plan_with_fused_sums_never_reuses_a_live_buffer() -> None:
    rng = np.random.default_rng(7)
    fused = 0
    for trial in range(8):
        g, state = _random_sums_graph(rng, int(rng.integers(6, 16)))
        arrays = [rng.standard_normal(g.avals[v].shape) for v in g.inputs]
        arrays[2] = state.numpy().copy()
        expected = _reference(g, arrays)
        ex = _executor(g, "all")
        fused += sum(len(grp.reductions) for k, grp in enumerate(ex.groups) if ex.native[k])
        plan, steps = ex.plan, ex.step_io
        users: dict[int, list[int]] = {}
        for v, b in plan.buffer.items():
            users.setdefault(b, []).append(v)
        for values in users.values():  # live ranges of one buffer: disjoint, or in place at
            # an elementwise step that reads the old value directly (never for a sum)
            spans = sorted((plan.defined[v], plan.last.get(v, plan.defined[v]), v) for v in values)
            for (_, end, old), (start, _, new) in zip(spans, spans[1:]):
                step = steps[start]
                in_place = step.elementwise and old in step.reads and new not in step.reduced
                assert start > end or (start == end and in_place), (trial, old, new)
        args = [ember.tensor(a) for a in arrays]  # (arg 2 is unused: state is read)
        for out, v in zip(ex.run(args, ex.bind(args)), g.outputs):
            np.testing.assert_allclose(out.numpy(), expected[v], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(state.numpy(), expected[g.writes[0][1]], rtol=1e-12)
    assert fused > 10


def _amax(g, x: int, dims: tuple[int, ...], keepdim: bool = True) -> int:
    shape = reduced_shape(g.avals[x].shape, dims, keepdim)
    return _op(g, Amax, x, shape=shape, dims=dims, keepdim=keepdim)


@needs_cc
@pytest.mark.parametrize("keepdim", [True, False])
def test_a_max_over_rows_joins_the_group_beside_a_sum(keepdim: bool) -> None:
    g, x, y, v = _chain()
    g.outputs = [_amax(g, v, (1,), keepdim), _sum(g, v, (1,), keepdim)]
    (group,) = fuse(g, reductions=True, maxima=True)
    assert group.reductions == [2, 3] and group.outputs == g.outputs
    _check(g, (6, 19), (6, 19))


def test_a_max_over_leading_axes_or_without_the_flag_is_not_fused() -> None:
    g, _, _, v = _chain()
    g.outputs = [_amax(g, v, (0,))]
    (group,) = fuse(g, reductions=True, maxima=True)
    assert group.reductions == [] and group.outputs == [v]
    g, _, _, v = _chain()
    g.outputs = [_amax(g, v, (1,))]
    (group,) = fuse(g, reductions=True)
    assert group.reductions == []


@needs_cc
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_a_fused_max_gives_numpys_amax_on_nan_infinities_and_signed_zeros(dtype) -> None:
    rows = np.array(
        [
            [1.0, np.nan, 3.0, -np.inf, 2.0],
            [-np.inf, -np.inf, -np.inf, -np.inf, -np.inf],
            [np.inf, 1.0, -2.0, 0.0, 5.0],
            [-0.0, -0.0, -1.0, -3.0, -0.0],
            [-5.0, -4.0, -3.0, -2.0, np.nan],
        ],
        dtype,
    )
    rows = np.tile(rows, (1, 7))  # rows longer than a vector
    x = ember.tensor(rows)

    def shifted(t: Tensor) -> Tensor:
        u = t * 2.0
        return u - u.amax(dim=1, keepdim=True)  # (exact: compared bit for bit)

    compiled = ember.jit(shifted)
    with np.errstate(invalid="ignore"):  # inf - inf, as eager mode warns
        got, want = compiled(x).numpy(), shifted(x).numpy()
    assert any("Amax" in [n.prim.__name__ for n in grp] for grp in _group_nodes(compiled))
    np.testing.assert_array_equal(got, want)


def _group_nodes(compiled) -> list[list]:
    graph = compiled._last.graph
    return [[graph.nodes[i] for i in grp] for grp in graph.groups]
