"""The native executor (C kernels per fused group), its disk cache and fallback, and the
inspection helpers (``graph.draw()``, ``ember.jit.explain``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import ember
from ember.jit import native
from ember.jit.fusion import SMALL, fuse
from ember.jit.graph import Graph
from ember.ops.core import Aval
from ember.ops.elementwise import (
    Add,
    Div,
    Erf,
    Exp,
    Gt,
    Maximum,
    Mul,
    Relu,
    Rsqrt,
    Sigmoid,
    Sqrt,
    Tanh,
    Where,
)
from ember.ops.linalg import MatMul
from ember.ops.reduce import Sum
from tests.jit.test_passes import _executor, _graph, _op, _random_graph, _reference, dce


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private kernel cache per test, and the compiler from PATH."""
    monkeypatch.delenv("EMBER_CC", raising=False)
    with ember.config.override(jit_cache_dir=tmp_path / "jit"):
        yield tmp_path / "jit"


needs_cc = pytest.mark.skipif(native.compiler() is None, reason="no C compiler")


def _broadcast_graph(dtype: ember.dtype, scale: float = 0.5) -> Graph:
    """x (4,5), row (5,), column (4,1) and a scalar constant through a chain of every kind
    of elementwise op the C generator knows; two outputs (one read by a matmul)."""
    g = Graph()
    for shape in [(4, 5), (5,), (4, 1), (5, 5)]:
        g.inputs.append(g.new_value(Aval(shape, dtype)))
    g.sources = [ember.jit.graph.Source("arg", i) for i in range(4)]
    x, row, col, w = g.inputs
    c = g.new_value(Aval((), dtype))
    g.constants[c] = np.asarray(scale, dtype=dtype.np)

    def op(prim, *ins):
        out = g.new_value(Aval((4, 5), dtype))
        g.nodes.append(ember.jit.graph.Node(prim, ins, {}, out))
        return out

    a = op(Mul, x, row)
    b = op(Add, a, col)
    t = op(Tanh, op(Mul, b, c))
    s = op(Sigmoid, op(Maximum, t, op(Relu, x)))
    r = op(Rsqrt, op(Add, op(Exp, s), c))
    out = op(Div, op(Sqrt, op(Mul, r, r)), op(Add, s, c))
    mm = g.new_value(Aval((4, 5), dtype))
    g.nodes.append(ember.jit.graph.Node(MatMul, (t, w), {}, mm))
    g.outputs = [out, mm]
    return g


def _inputs(dtype: ember.dtype) -> list[ember.Tensor]:
    rng = np.random.default_rng(1)
    shapes = [(4, 5), (5,), (4, 1), (5, 5)]
    return [ember.tensor(rng.standard_normal(s).astype(dtype.np)) for s in shapes]


@needs_cc
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64], ids=["f32", "f64"])
def test_native_kernels_match_numpy_with_broadcast_inputs(dtype: ember.dtype) -> None:
    args = _inputs(dtype)
    results = []
    for use_native in (False, "all"):
        ex = _executor(_broadcast_graph(dtype), native=use_native)
        assert any(ex.native) is bool(use_native)
        results.append([t.numpy() for t in ex.run(args, ex.bind(args))])
    tol = 1e-6 if dtype is ember.float32 else 1e-13
    for plan, compiled in zip(*results):
        assert compiled.dtype == dtype.np
        np.testing.assert_allclose(compiled, plan, rtol=tol, atol=tol)


def test_broadcast_index_expressions() -> None:
    assert native.broadcast_index((), (4, 5)) == "0"
    assert native.broadcast_index((4, 5), (4, 5)) == "i"
    assert native.broadcast_index((5,), (4, 5)) == "(i % 5L)"
    assert native.broadcast_index((1, 5), (3, 4, 5)) == "(i % 5L)"
    assert native.broadcast_index((4, 1), (4, 5)) == "(((i / 5L) % 4L) * 1L)"
    three = "(((i / 1L) % 5L) * 1L + ((i / 20L) % 3L) * 5L)"
    assert native.broadcast_index((3, 1, 5), (3, 4, 5)) == three


@needs_cc
def test_inner_split_finds_the_block_where_every_read_is_whole_or_constant() -> None:
    assert native.inner_split([(4, 5), (5,), (4, 1)], (4, 5)) == 1
    assert native.inner_split([(2, 3, 4, 5), (1, 3, 1, 1)], (2, 3, 4, 5)) == 2  # a channel
    assert native.inner_split([(2, 3, 4, 5), (3, 1, 5)], (2, 3, 4, 5)) == 3
    assert native.inner_split([(2, 3, 4, 5), ()], (2, 3, 4, 5)) == 0  # nothing broadcast
    assert native.inner_split([()], ()) == 0


@needs_cc
@pytest.mark.parametrize("parallel_min", [ember.config.jit_parallel_min, 1], ids=["serial", "omp"])
def test_channel_broadcasts_read_once_per_row_and_match_numpy(
    parallel_min: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ember.config, "jit_parallel_min", parallel_min)
    g = _graph((2, 3, 4, 5), (1, 3, 1, 1), (3, 1, 5))
    x, bias, scale = g.inputs
    shifted = _op(g, Add, x, bias, shape=(2, 3, 4, 5))
    g.outputs = [_op(g, Mul, _op(g, Relu, shifted, shape=(2, 3, 4, 5)), scale, shape=(2, 3, 4, 5))]
    (group,) = fuse(g)
    source, _ = native.kernel_source("k", group, g)
    assert "const double x1 = a1[" in source.split("#pragma omp simd")[0]  # hoisted bias
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s) for s in [(2, 3, 4, 5), (1, 3, 1, 1), (3, 1, 5)]]
    args = [ember.tensor(a) for a in arrays]
    ex = _executor(g, native="all")
    assert all(ex.native)
    (out,) = ex.run(args, ex.bind(args))
    np.testing.assert_allclose(out.numpy(), np.maximum(arrays[0] + arrays[1], 0) * arrays[2])


def test_native_executor_on_random_graphs_matches_plain_execution() -> None:
    rng = np.random.default_rng(3)
    for _ in range(3):
        g = _random_graph(rng, 20)
        dce(g)
        state = g.sources[0].tensor
        arrays = [
            state.numpy().copy(),
            *(rng.standard_normal(g.avals[v].shape) for v in g.inputs[1:]),
        ]
        expected = _reference(g, arrays)
        ex = _executor(g, native="all")
        args = [ember.tensor(a) for a in arrays[1:]]
        for out, v in zip(ex.run(args, ex.bind(args)), g.outputs):
            np.testing.assert_allclose(out.numpy(), expected[v], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(state.numpy(), expected[g.writes[0][1]], rtol=1e-12)


@needs_cc
def test_disk_cache_reuses_kernels_and_rebuilds_corrupt_entries(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[Path] = []
    compile_ = native._compile

    def counting(*args):
        builds.append(args[3])
        return compile_(*args)

    monkeypatch.setattr(native, "_compile", counting)
    args = _inputs(ember.float64)

    def run(scale: float) -> np.ndarray:
        ex = _executor(_broadcast_graph(ember.float64, scale), native="all")
        assert any(ex.native)
        return ex.run(args, ex.bind(args))[0].numpy()

    expected = run(0.5)
    (lib,) = cache.glob("*.so")
    assert len(builds) == 1 and (cache / (lib.stem + ".json")).exists()
    np.testing.assert_array_equal(run(0.5), expected)  # a second executor: from the cache
    assert len(builds) == 1
    lib.unlink()  # corrupt on disk (a new file: the loaded copy stays mapped)
    lib.write_bytes(b"not a shared library")  # size and hash no longer match: rebuilt
    np.testing.assert_array_equal(run(0.5), expected)
    assert len(builds) == 2

    # an entry that matches its record but does not load (a key not loaded in this process)
    other = cache.parent / "other"
    other.mkdir()
    bad = other / lib.name
    bad.write_bytes(b"\x7fELF garbage")
    (other / (lib.stem + ".json")).write_text(f'{{"size": 12, "sha256": "{native._digest(bad)}"}}')
    with ember.config.override(jit_cache_dir=other):
        np.testing.assert_array_equal(run(0.5), expected)
    assert builds[-1] == bad and len(builds) == 3


def test_missing_compiler_falls_back_to_numpy_with_a_one_line_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EMBER_CC", str(tmp_path / "no-such-cc"))
    args = _inputs(ember.float32)
    with pytest.warns(UserWarning, match="no working C compiler") as caught:
        ex = _executor(_broadcast_graph(ember.float32), native="all")
    assert len(caught) == 1 and "\n" not in str(caught[0].message)
    assert not any(ex.native)
    plain = _executor(_broadcast_graph(ember.float32), native=False)
    for a, b in zip(ex.run(args, ex.bind(args)), plain.run(args, plain.bind(args))):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_draw_clusters_fused_groups(tmp_path: Path) -> None:
    g = _broadcast_graph(ember.float64)
    _executor(g)
    drawing = g.draw()
    assert "subgraph cluster_0" in drawing.dot and 'label="Tanh\\nfloat64[4, 5]"' in drawing.dot
    assert drawing.num_edges == sum(len(n.inputs) for n in g.nodes) + len(g.outputs)
    assert drawing.save(tmp_path / "g.dot").read_text() == drawing.dot
    if shutil.which("dot") is None:
        with pytest.raises(RuntimeError, match="Graphviz"):
            drawing.save(tmp_path / "g.svg")
    else:
        assert drawing.save(tmp_path / "g.svg").read_text().lstrip().startswith("<")


def test_explain_reports_fused_kernels_and_the_memory_plan() -> None:
    w = ember.tensor(np.eye(3))

    def fn(x: ember.Tensor) -> ember.Tensor:
        h = ((x * 2.0 + 1.0).tanh() @ w).relu()
        return (h * h + x).exp().sum()

    text = ember.jit.explain(fn, ember.ones(4, 3, dtype=ember.float64))
    assert "fused kernels" in text and "memory plan:" in text
    kernels = [ln.split("out: ")[1] for ln in text.splitlines() if "kernel" in ln.split()[:1]]
    # the matmul reads tanh's group: it closes; relu starts the next one
    assert kernels == ["Mul Add Tanh", "Relu Mul Add Exp"], text


def test_groups_go_to_c_only_where_it_was_measured_to_win() -> None:
    g = _broadcast_graph(ember.float32)  # tanh, exp, sigmoid: libm calls in C
    assert [grp.prefer_native(False) for grp in _executor(g).groups] == [False]
    assert [grp.prefer_native(True) for grp in _executor(g).groups] == [True]  # vector libm
    f64 = _broadcast_graph(ember.float64)  # double libm stays scalar: NumPy wins
    assert [grp.prefer_native(True) for grp in _executor(f64).groups] == [False]
    arith = _graph((8,))
    (x,) = arith.inputs
    y = _op(arith, Mul, x, x, shape=(8,))
    z = _op(arith, Sqrt, _op(arith, Add, y, x, shape=(8,)), shape=(8,))
    arith.outputs = [_op(arith, Relu, _op(arith, MatMul, z, z, shape=()), shape=())]
    expected = [(3, True), (1, True)]  # a lone op on few elements: C's call is cheaper
    assert [(len(grp.nodes), grp.prefer_native(False)) for grp in fuse(arith)] == expected
    large = _graph((SMALL + 1,))
    (x,) = large.inputs
    large.outputs = [_op(large, Relu, x, shape=(SMALL + 1,))]
    assert [grp.prefer_native(False) for grp in fuse(large)] == [False]  # NumPy's loop


@needs_cc
def test_unwritable_cache_falls_back_to_numpy(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache directory should be")
    with (
        ember.config.override(jit_cache_dir=blocker / "jit"),
        pytest.warns(UserWarning, match="compiling kernels failed"),
    ):
        ex = _executor(_broadcast_graph(ember.float64), native="all")
    assert not any(ex.native)


def test_layout_cut_finds_the_block_every_operand_holds_contiguously() -> None:
    full = (2, 3, 4, 5)
    c_order = (60, 20, 5, 1)
    assert native.layout_cut([c_order, (0, 1, 0, 0)], full) == 2  # and a channel bias
    assert native.layout_cut([c_order, c_order], full) == 0
    conv_out = (20, 40, 5, 1)  # (N, C, H, W) over (C, N, H, W) memory
    assert native.layout_cut([conv_out, c_order, (0, 1, 0, 0)], full) == 2
    assert native.layout_cut([(1, 4)], (4, 3)) == 2  # transposed: every element is its own row


@needs_cc
@pytest.mark.parametrize("moved", [(0, 1), (0, 3)], ids=["conv-layout", "transposed"])
def test_strided_inputs_are_read_in_place_by_a_kernel_per_layout(moved) -> None:
    g = _graph((2, 3, 4, 5), (1, 3, 1, 1))
    x, bias = g.inputs
    g.outputs = [_op(g, Relu, _op(g, Add, x, bias, shape=(2, 3, 4, 5)), shape=(2, 3, 4, 5))]
    rng = np.random.default_rng(4)
    memory = rng.standard_normal((2, 3, 4, 5)[::-1] if moved == (0, 3) else (3, 2, 4, 5))
    x0 = np.moveaxis(memory, *moved) if moved == (0, 1) else memory.transpose(3, 2, 1, 0)
    b0 = rng.standard_normal((1, 3, 1, 1))
    assert x0.shape == (2, 3, 4, 5) and not x0.flags.c_contiguous
    ex = _executor(g, native="all")
    for _ in range(2):  # the second call reuses the kernel made for this layout
        args = [ember.tensor(x0), ember.tensor(b0)]
        args[0]._data = x0  # keep the strided layout (tensor() copies to C order)
        (out,) = ex.run(args, ex.bind(args))
        np.testing.assert_array_equal(out.numpy(), np.maximum(x0 + b0, 0))
        assert out.numpy().strides == x0.strides  # the output takes the input's layout
    assert len(ex.strided_libs) == 1


@needs_cc
def test_vector_libm_kernels_match_numpy_within_a_few_ulp() -> None:
    if not native.vector_math():
        pytest.skip("the C library has no vector libm (glibc's libmvec)")
    g = _graph((4096,))
    (x,) = g.inputs
    g.avals = {v: Aval(a.shape, ember.float32) for v, a in g.avals.items()}

    def op(prim, *ins):
        out = g.new_value(Aval((4096,), ember.float32))
        g.nodes.append(ember.jit.graph.Node(prim, ins, {}, out))
        return out

    half = op(Mul, x, x)  # one C group, three libm calls, three outputs
    g.outputs = [op(Erf, half), op(Tanh, half), op(Exp, half)]
    (group,) = fuse(g)
    assert group.libm and group.prefer_native(True)
    rng = np.random.default_rng(5)
    x0 = (rng.standard_normal(4096) * 3).astype(np.float32)
    x0[:4] = [np.nan, np.inf, -np.inf, -0.0]
    ex = _executor(g, native=True)
    assert all(ex.native)
    args = [ember.tensor(x0)]
    from scipy.special import erf

    sq = (x0 * x0).astype(np.float64)  # the kernel's (float32) square, exactly
    with np.errstate(over="ignore"):
        exact = [erf(sq), np.tanh(sq), np.exp(sq)]
    for got, want in zip(ex.run(args, ex.bind(args)), exact):
        got = got.numpy()
        assert np.isnan(got[0]) and np.array_equal(got[1:4], want[1:4].astype(np.float32))
        finite = np.isfinite(want) & (np.abs(want) < np.finfo(np.float32).max)
        error = np.abs(got[finite] - want[finite])
        ulps = error / np.spacing(np.abs(want[finite]).astype(np.float32))
        assert ulps.max() <= 4  # libmvec's documented bound


def test_without_vector_libm_libm_groups_stay_on_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple] = []

    def builds(cc, flags, source, libs):
        calls.append(libs)
        return "simd" not in source  # the vector probe fails, plain C works

    native._toolchain.cache_clear()
    monkeypatch.setattr(native, "_builds", builds)
    try:
        tool = native._toolchain(native.compiler() or "cc")
        assert tool is None or (not tool.vector_math and tool.libs == ("-lm",))
        assert not native.vector_math()
        g = _broadcast_graph(ember.float32)
        assert [bool(on) for on in _executor(g).native] == [False]
    finally:
        native._toolchain.cache_clear()


@needs_cc
@pytest.mark.parametrize("dtype", [ember.float32, ember.float64], ids=["f32", "f64"])
def test_comparisons_and_where_compute_in_the_float_kernel(dtype: ember.dtype) -> None:
    """LeakyReLU's training step is one kernel: its comparison and wheres join the float
    group, the saved mask leaves it as a boolean array, and every value equals eager mode."""
    rng = np.random.default_rng(5)
    x0 = rng.standard_normal((4, 8, 6, 6)).astype(dtype.np)
    x0[0, 0, 0, :3] = [0.0, -0.0, np.nan]

    def step(x: ember.Tensor) -> tuple:
        x.grad = None
        y = ember.nn.functional.leaky_relu(x * 2.0 + 1.0, 0.2)
        mask = (y > 0.5) & ~(y >= 3.0)
        z = ember.where(mask, y, y * y)
        loss = (z * z).sum()
        loss.backward()
        return loss, x.grad * 1.0, mask

    eager = step(ember.tensor(x0, requires_grad=True))
    compiled = ember.jit(step)
    x = ember.tensor(x0, requires_grad=True)
    for _ in range(2):
        got = compiled(x)
    ex, graph = compiled._last.executor, compiled.graph
    mixed = [
        k
        for k, g in enumerate(ex.groups)
        if any(graph.avals[graph.nodes[i].out].dtype is ember.bool for i in g.nodes)
    ]
    assert mixed and all(ex.native[k] for k in mixed)
    assert got[2].dtype is ember.bool
    np.testing.assert_array_equal(got[2].numpy(), eager[2].numpy())
    np.testing.assert_array_equal(got[1].numpy(), eager[1].numpy())
    np.testing.assert_allclose(got[0].item(), eager[0].item(), rtol=1e-6)


@needs_cc
@pytest.mark.parametrize("layout", ["c-order", "transposed"])
def test_boolean_inputs_broadcast_and_strided(layout: str) -> None:
    """A boolean condition read through a broadcast (a column) or in another layout (a
    transposed mask) by a kernel of several float ops."""
    g = _graph((6, 5), (6, 1), (6, 5))
    x, col, cond = g.inputs
    g.avals[col] = Aval((6, 1), ember.bool)
    g.avals[cond] = Aval((6, 5), ember.bool)
    shape = (6, 5)
    a = _op(g, Where, col, _op(g, Exp, x, shape=shape), x, shape=shape)
    g.outputs = [_op(g, Where, cond, _op(g, Mul, a, a, shape=shape), a, shape=shape)]
    rng = np.random.default_rng(6)
    x0 = rng.standard_normal(shape)
    col0 = rng.standard_normal((6, 1)) > 0
    cond0 = rng.standard_normal((5, 6)).T > 0 if layout == "transposed" else x0 > 0.3
    ex = _executor(g, native="all")
    assert ex.native == [True]
    args = [ember.tensor(x0), ember.tensor(col0), ember.tensor(cond0)]
    args[2]._data = cond0  # keep the layout (tensor() copies to C order)
    (out,) = ex.run(args, ex.bind(args))
    a0 = np.where(col0, np.exp(x0), x0)
    np.testing.assert_array_equal(out.numpy(), np.where(cond0, a0 * a0, a0))


def test_a_count_of_booleans_is_no_float_epilogue() -> None:
    """Summing a group's booleans gives an int64 count: not a double accumulator of the
    float kernel."""
    g = _graph((3, 4))
    (x,) = g.inputs
    flag = _op(g, Gt, _op(g, Exp, x, shape=(3, 4)), x, shape=(3, 4))
    g.avals[flag] = Aval((3, 4), ember.bool)
    count = _op(g, Sum, flag, shape=(), dims=(0, 1), keepdim=False)
    g.avals[count] = Aval((), ember.int64)
    g.outputs = [count]
    (group,) = fuse(g, reductions=True)
    assert group.nodes == [0, 1] and group.reductions == [] and group.outputs == [flag]
