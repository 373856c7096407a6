"""Native C kernels for the convolution primitives of ``ember.ops.conv``: the jit's lowering of
``Conv``, ``ConvWeight`` and ``ConvTranspose``, which eager mode shares on large host arrays.

Each kernel works through the batch in chunks of images whose window matrix fits the L2
cache, inside one OpenMP parallel loop; each thread owns a window matrix and calls NumPy's
BLAS GEMM itself (``ember.jit.blas``), held at one thread meanwhile, so the window copies
and the products share one pool of threads:

* ``Conv``: a C im2col of the chunk's windows into a (C * K, m * L) matrix, then
  W (O, C * K) times it into the chunk's columns of the (O, N * L) result;
* ``ConvWeight``: the same windows times the chunk's gradient into the thread's own
  (C * K, O) sum; the threads' sums are added and transposed at the end;
* ``ConvTranspose`` (a convolution's data gradient, a transposed convolution's forward):
  Wᵀ times the chunk's gradient into the window matrix, then a C col2im adding each kernel
  offset's row into the zeroed image planes.

The geometry is written into the source as literals (the window loops have constant bounds,
padding is skipped by coordinates: no padded copy); the batch, strides of the operands, chunk
size and thread count are arguments. Results are views of (O, N, *L)- or (C, N, *S)-ordered
arrays, the layout NumPy's kernels give. Float32 and float64 host arrays only: anything else,
no C compiler, or a NumPy whose BLAS has no CBLAS entry points runs NumPy's kernels.
"""

from __future__ import annotations

import ctypes
import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ember.jit import blas, direct_conv, native
from ember.jit.graph import Graph
from ember.jit.pool_kernels import Kernels, _in_planes, _may_leave, _three, load_kernels
from ember.ops.conv import _CHUNK_BYTES, Conv, ConvTranspose, ConvWeight, _out_sizes

__all__ = ["build", "covers", "eager"]

_PRIMS = {Conv: "conv", ConvWeight: "convw", ConvTranspose: "convt"}
_NO, _T, _ROW = 111, 112, 101  # CBLAS's NoTrans, Trans, RowMajor
_PRELUDE = """#ifdef _OPENMP
int omp_get_thread_num(void);
#define EMBER_TID omp_get_thread_num()
#else
#define EMBER_TID 0
#endif
"""


class Geometry(NamedTuple):
    """A convolution's shape, every spatial tuple led by 1s (or 0s) up to three dims."""

    channels: int  # C: the image side's channels
    outs: int  # O: the window side's channels
    size: tuple  # image size
    out: tuple  # window positions
    kernel: tuple
    stride: tuple
    dilation: tuple
    before: tuple  # padding before each dim

    @property
    def taps(self) -> int:
        return math.prod(self.kernel)

    @property
    def plane(self) -> int:
        return math.prod(self.size)

    @property
    def per(self) -> int:
        return math.prod(self.out)

    @property
    def rows(self) -> int:
        """C * K: the window matrix's rows."""
        return self.channels * self.taps


def geometry(channels: int, outs: int, size: tuple, kernel: tuple, params: dict) -> Geometry:
    """The ``Geometry`` of a convolution of images ``size`` by ``kernel`` (``Conv``'s params)."""
    out = _out_sizes(size, kernel, params["stride"], params["padding"], params["dilation"])
    return Geometry(
        channels, outs, _three(size, 1), _three(out, 1), _three(kernel, 1),
        _three(params["stride"], 1), _three(params["dilation"], 1),
        _three(tuple(a for a, _ in params["padding"]), 0),
    )  # fmt: skip


def _windows(geo: Geometry, ctype: str, gather: bool) -> list[str]:
    """Loops over one (image plane ``img``, channel) pair's kernel offsets: tap ``t``'s row of
    the window matrix is ``rows + t * m * L``. ``gather`` copies the windows into the rows
    (zeros where a window leaves the image: im2col); else the rows are added into the plane
    (col2im). The innermost dim runs over the clipped range, so it has no branches."""
    s, o, k, st, d, b = geo.size, geo.out, geo.kernel, geo.stride, geo.dilation, geo.before
    leaves = [_may_leave(*dims) for dims in zip(s, k, st, b, d, o)]
    row = ctype if gather else f"const {ctype}"  # the window matrix's element, as written
    lines = [
        "long t = 0;",
        *(f"for (long k{a} = 0; k{a} < {k[a]}L; k{a}++)" for a in range(2)),
        f"for (long k2 = 0; k2 < {k[2]}L; k2++, t++) {{",
        f"  {row} *r = rows + t * m * {geo.per}L;",
        f"  const long e = k2 * {d[2]}L - {b[2]}L;",
    ]
    if leaves[2]:  # the o2 with 0 <= o2 * stride + e < size
        lines += [
            f"  long lo = e >= 0 ? 0 : (-e + {st[2] - 1}L) / {st[2]}L;",
            f"  long hi = {s[2] - 1}L - e < 0 ? 0 : ({s[2] - 1}L - e) / {st[2]}L + 1;",
            f"  if (lo > {o[2]}L) lo = {o[2]}L;",
            f"  if (hi > {o[2]}L) hi = {o[2]}L;",
            "  if (hi < lo) hi = lo;",
        ]
    else:
        lines.append(f"  const long lo = 0, hi = {o[2]}L;")
    for a, count in ((0, o[1] * o[2]), (1, o[2])):
        pad = "  " * (a + 1)
        lines += [
            f"{pad}for (long o{a} = 0; o{a} < {o[a]}L; o{a}++) {{",
            f"{pad}  const long u{a} = o{a} * {st[a]}L + k{a} * {d[a]}L - {b[a]}L;",
        ]
        if leaves[a]:
            zero = f"for (long l = 0; l < {count}L; l++) r[{_row(a, o)} + l] = 0; "
            zero = zero if gather else ""
            lines.append(f"{pad}  if (u{a} < 0 || u{a} >= {s[a]}L) {{ {zero}continue; }}")
    lines += [
        f"      {row} *ro = r + (o0 * {o[1]}L + o1) * {o[2]}L;",
        f"      const long base = (u0 * {s[1]}L + u1) * {s[2]}L + e;",
    ]
    if gather:
        lines += [
            "      for (long o2 = 0; o2 < lo; o2++) ro[o2] = 0;",
            f"      for (long o2 = lo; o2 < hi; o2++) ro[o2] = img[base + o2 * {st[2]}L];",
            f"      for (long o2 = hi; o2 < {o[2]}L; o2++) ro[o2] = 0;",
        ]
    else:
        add = f"img[base + o2 * {st[2]}L] += ro[o2];"
        lines.append(f"      for (long o2 = lo; o2 < hi; o2++) {add}")
    return lines + ["    }", "  }", "}"]


def _row(a: int, o: tuple) -> str:
    """Offset in a tap's row of the positions with leading coordinate(s) up to dim ``a``."""
    return f"o0 * {o[1] * o[2]}L" if a == 0 else f"(o0 * {o[1]}L + o1) * {o[2]}L"


def _im2col(name: str, geo: Geometry, ctype: str) -> str:
    """``name(x, sn, sc, m, cols)``: the windows of ``m`` images (image j, channel c at
    ``x + j * sn + c * sc``, planes contiguous) into the (C, *K, m, *L) matrix ``cols``."""
    body = [
        "const long c = q / m, j = q % m;",
        f"const {ctype} *img = x + j * sn + c * sc;",
        f"{ctype} *rows = cols + (c * {geo.taps}L * m + j) * {geo.per}L;",
        *_windows(geo, ctype, gather=True),
    ]
    head = f"static void {name}(const {ctype} *x, long sn, long sc, long m, {ctype} *cols)"
    return _plane_loop(head, f"{geo.channels}L * m", body)


def _col2im(name: str, geo: Geometry, ctype: str) -> str:
    """``name(cols, m, out, n)``: the (C, *K, m, *L) windows of ``m`` images added into their
    zeroed planes of the (C, n, *size) result, the chunk's first image at ``out``."""
    body = [
        "const long c = q / m, j = q % m;",
        f"{ctype} *img = out + (c * n + j) * {geo.plane}L;",
        f"const {ctype} *rows = cols + (c * {geo.taps}L * m + j) * {geo.per}L;",
        f"for (long f = 0; f < {geo.plane}L; f++) img[f] = 0;",
        *_windows(geo, ctype, gather=False),
    ]
    head = f"static void {name}(const {ctype} *cols, long m, {ctype} *out, long n)"
    return _plane_loop(head, f"{geo.channels}L * m", body)


def _plane_loop(head: str, planes: str, body: list[str]) -> str:
    """C function ``head`` running ``body`` for each plane ``q`` below ``planes``."""
    loop = [f"for (long q = 0; q < {planes}; q++) {{", *(f"  {line}" for line in body), "}"]
    return "\n".join([head + " {", *(f"  {line}" for line in loop), "}"])


def _chunked(
    head: str, geo: Geometry, ctype: str, body: list[str], part: int = 0, around=((), ())
) -> str:
    """C function ``head`` running ``body`` for each chunk of ``step`` images (``start``, ``m``)
    in an OpenMP loop over ``threads``. Each thread owns ``each`` elements of ``work``: its
    window matrix ``cols``, then ``part`` more. ``around``: lines before and after the loop."""
    loop = [
        "for (long b = 0; b < (n + step - 1) / step; b++) {",
        f"  {ctype} *cols = work + EMBER_TID * each;",
        "  const long start = b * step, m = n - start < step ? n - start : step;",
        *(f"  {line}" for line in body),
        "}",
    ]
    threads = "num_threads(threads) if(threads > 1)"
    lines = [
        f"const gemm_{ctype} gemm = (gemm_{ctype})gemm_fn;",
        f"const long window = {geo.rows}L * step * {geo.per}L, each = window + {part}L;",
        *around[0],
        f"#pragma omp parallel for schedule(static) {threads}",
        *loop,
        *around[1],
    ]
    return "\n".join([head + " {", *(f"  {line}" for line in lines), "}"])


def _head(name: str, ctype: str, operands: str) -> str:
    """The C signature of kernel ``name``: its ``operands``, then what every chunked kernel
    takes (batch, chunk size, the GEMM, the threads' scratch and their count)."""
    tail = f"long n, long step, void *gemm_fn, {ctype} *work, int threads"
    return f"void {name}({operands}, {tail})"


def _conv_source(name: str, geo: Geometry, ctype: str) -> str:
    """``name(x, sn, sc, w, out, ...)``: the (O, N * L) convolution of x by w (O, C * K)."""
    per, rows = geo.per, geo.rows
    body = [
        f"{name}_windows(x + start * sn, sn, sc, m, cols);",
        f"gemm({_ROW}, {_NO}, {_NO}, {geo.outs}, m * {per}L, {rows}, 1, w, {rows}, cols,"
        f" m * {per}L, 0, out + start * {per}L, n * {per}L);",
    ]
    head = _head(name, ctype, f"const {ctype} *x, long sn, long sc, const {ctype} *w, {ctype} *out")
    return _im2col(f"{name}_windows", geo, ctype) + "\n\n" + _chunked(head, geo, ctype, body)


def _gradient_products(geo: Geometry, call: str) -> list[str]:
    """Lines multiplying by the chunk's gradient ``g``: one GEMM when the chunk's images sit
    side by side in its rows (an (O, N, *L) layout), else one per image. ``call`` is the GEMM
    call with ``{L}`` (columns), ``{g}`` (gradient) and ``{c}`` (window matrix) to fill in."""
    per = geo.per
    return [
        f"if (gn == {per}L) {call.format(L=f'm * {per}L', g=f'g + start * {per}L', c='cols')}",
        "else for (long j = 0; j < m; j++) "
        + call.format(L=f"{per}L", g="g + (start + j) * gn", c=f"cols + j * {per}L"),
    ]


def _weight_source(name: str, geo: Geometry, ctype: str) -> str:
    """``name(x, sn, sc, g, gn, go, out, ...)``: the (O, C * K) weight gradient of the
    convolution of x with gradient g (image j, channel o at ``g + j * gn + o * go``)."""
    rows, outs, part = geo.rows, geo.outs, geo.rows * geo.outs
    call = (
        f"gemm({_ROW}, {_NO}, {_T}, {rows}, {outs}, {{L}}, 1, {{c}}, m * {geo.per}L, {{g}}, go, 1,"
        " cols + window, "
        f"{outs});"
    )
    body = [f"{name}_windows(x + start * sn, sn, sc, m, cols);", *_gradient_products(geo, call)]
    zero = [  # every thread's (C * K, O) sum, before the loop: a thread may get no chunk
        "for (int p = 0; p < threads; p++)",
        f"  for (long f = 0; f < {part}L; f++) work[p * each + window + f] = 0;",
    ]
    total = [  # out (O, C * K): the threads' sums added, transposed
        f"for (long k = 0; k < {rows}L; k++)",
        f"  for (long o = 0; o < {outs}L; o++) {{",
        f"    {ctype} s = 0;",
        f"    for (int p = 0; p < threads; p++) s += work[p * each + window + k * {outs}L + o];",
        f"    out[o * {rows}L + k] = s;",
        "  }",
    ]
    operands = (
        f"const {ctype} *x, long sn, long sc, const {ctype} *g, long gn, long go, {ctype} *out"
    )
    head = _head(name, ctype, operands)
    chunked = _chunked(head, geo, ctype, body, part, (zero, total))
    return _im2col(f"{name}_windows", geo, ctype) + "\n\n" + chunked


def _transpose_source(name: str, geo: Geometry, ctype: str) -> str:
    """``name(g, gn, go, w, out, ...)``: the (C, N, *size) transposed convolution of g by w
    (O, C * K)."""
    rows = geo.rows
    call = (
        f"gemm({_ROW}, {_T}, {_NO}, {rows}, {{L}}, {geo.outs}, 1, w, {rows}, {{g}}, go, 0, {{c}},"
        f" m * {geo.per}L);"
    )
    body = [
        *_gradient_products(geo, call),
        f"{name}_scatter(cols, m, out + start * {geo.plane}L, n);",
    ]
    head = _head(name, ctype, f"const {ctype} *g, long gn, long go, const {ctype} *w, {ctype} *out")
    return _col2im(f"{name}_scatter", geo, ctype) + "\n\n" + _chunked(head, geo, ctype, body)


_SOURCES = {Conv: _conv_source, ConvWeight: _weight_source, ConvTranspose: _transpose_source}
_VOID, _LONG = ctypes.c_void_p, ctypes.c_long
_TAIL = [_LONG, _LONG, _VOID, _VOID, ctypes.c_int]  # n, step, gemm, work, threads
_ARGTYPES = {
    Conv: [_VOID, _LONG, _LONG, _VOID, _VOID, *_TAIL],
    ConvWeight: [_VOID, _LONG, _LONG, _VOID, _LONG, _LONG, _VOID, *_TAIL],
    ConvTranspose: [_VOID, _LONG, _LONG, _VOID, _VOID, *_TAIL],
}


def _node_geometry(prim: Any, shapes: list[tuple], params: dict) -> Geometry:
    """The ``Geometry`` of a convolution primitive with input shapes ``shapes``."""
    if prim is Conv:  # x (N, C, *S), w (O, C, *K)
        (_, c, *size), (o, _, *kernel) = shapes
        return geometry(c, o, tuple(size), tuple(kernel), params)
    if prim is ConvWeight:  # x (N, C, *S), g (N, O, *L)
        (_, c, *size), g = shapes
        return geometry(c, g[1], tuple(size), tuple(params["kernel"]), params)
    (_, o, *_), (_, c, *kernel) = shapes  # ConvTranspose: g (N, O, *L), w (O, C, *K)
    return geometry(c, o, tuple(params["size"]), tuple(kernel), params)


def _gradient(g: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(``g`` or a C-ordered copy unless each (image, channel) plane is contiguous; its image
    and channel strides in elements). With one channel the channel stride is the batch's
    length, a row stride BLAS accepts for the one row it reads."""
    g, gn, go = _in_planes(g)
    return g, gn, go if g.shape[1] > 1 else g.shape[0] * math.prod(g.shape[2:])


# The window matrix of a chunk on one thread: twice ``ops.conv``'s chunk, so that BLAS gets
# wider products (at (128, 1024) times (1024, 98) it ran at 78-95 GFLOP/s, at 392 columns
# 88-101); measured on the compiled steps, alternated: resnet 0.96x, dcgan 0.98x, ddpm 0.98x.
# With two threads (each one chunk at a time) the larger chunks lost: resnet 1.03-1.04x.
_ALONE_CHUNK_BYTES = 2 * _CHUNK_BYTES


def _runner(prim: Any, fn: Any, geo: Geometry, batch: int, dtype: np.dtype) -> Callable:
    """``prim.forward``'s signature, calling the compiled ``fn`` on host arrays (a device
    array runs ``prim.forward``)."""
    forward, lib = prim.forward, blas.find()
    gemm = lib.sgemm if dtype == np.float32 else lib.dgemm
    per_image = geo.rows * geo.per * dtype.itemsize
    part = geo.rows * geo.outs if prim is ConvWeight else 0
    n, o, c = batch, geo.outs, geo.channels

    def run(xp: Any, *arrays: Any, **params: Any) -> Any:
        if xp is not np:
            return forward(xp, *arrays, **params)
        with blas.hold(lib) as threads:
            budget = _ALONE_CHUNK_BYTES if threads == 1 else _CHUNK_BYTES
            step = max(1, min(-(-n // threads), budget // per_image))
            work = np.empty(threads * (geo.rows * step * geo.per + part), dtype)
            tail = (n, step, gemm, work.ctypes.data, threads)
            if prim is Conv:
                x, sn, sc = _in_planes(arrays[0])
                w = np.ascontiguousarray(arrays[1])
                res = np.empty((o, n * geo.per), dtype)
                fn(x.ctypes.data, sn, sc, w.ctypes.data, res.ctypes.data, *tail)
                return np.moveaxis(res.reshape((o, n) + _spatial(arrays[0], geo.out)), 0, 1)
            if prim is ConvWeight:
                x, sn, sc = _in_planes(arrays[0])
                g, gn, go = _gradient(arrays[1])
                res = np.empty((o,) + arrays[0].shape[1:2] + tuple(params["kernel"]), dtype)
                fn(x.ctypes.data, sn, sc, g.ctypes.data, gn, go, res.ctypes.data, *tail)
                return res
            g, gn, go = _gradient(arrays[0])
            w = np.ascontiguousarray(arrays[1])
            res = np.empty((c, n) + tuple(params["size"]), dtype)
            fn(g.ctypes.data, gn, go, w.ctypes.data, res.ctypes.data, *tail)
            return np.moveaxis(res, 0, 1)

    return run


def _spatial(x: np.ndarray, padded: tuple) -> tuple:
    """The output's spatial shape: ``padded`` (three dims) cut to ``x``'s number of dims."""
    return padded[3 - (x.ndim - 2) :]


def _direct(prim: Any, shapes: list[tuple], params: dict) -> Any:
    """How ``ember.jit.direct_conv`` runs a node (a ``Direct`` for ``Conv`` and
    ``ConvTranspose``, a ``WeightPlan`` for ``ConvWeight``), or None where it does not apply
    (not 2-D, not stride 1; a data gradient whose padding exceeds the full correlation's) or
    would waste too much of its blocks."""
    stride, dilation, padding = params["stride"], params["dilation"], params["padding"]
    if prim is ConvTranspose:  # the gradient's convolution by the flipped, swapped kernel
        (_, c, *size), (_, o, *kernel) = shapes
        full = [d * (k - 1) for k, d in zip(kernel, dilation)]
        padding = tuple((f - a, f - b) for f, (a, b) in zip(full, padding))
    elif prim is Conv:
        (_, c, *size), (o, _, *kernel) = shapes
    else:  # ConvWeight: x (N, C, *S), g (N, O, *L)
        (_, c, *size), (_, o, *_) = shapes
        kernel = params["kernel"]
    geo = direct_conv.direct(c, o, tuple(size), tuple(kernel), stride, padding, dilation)
    if prim is ConvWeight:
        return direct_conv.weight_plan(geo)
    return geo if direct_conv.fits(geo) else None


def _kernel(i: int, prim: Any, shapes: list[tuple], dtype: np.dtype, params: dict) -> tuple:
    """(C source, ``load_kernels`` entry) of node ``i``'s kernel."""
    name = f"{_PRIMS[prim]}{i}"
    plan = _direct(prim, shapes, params)
    hold = functools.partial(blas.hold, blas.find())
    if prim is ConvWeight and plan is not None:
        source = direct_conv.weight_source(name, plan, native.CTYPES[dtype.name])
        bind = functools.partial(
            direct_conv.weight_runner, plan=plan, batch=shapes[0][0], dtype=dtype, hold=hold
        )
        args = [_VOID, _LONG, _LONG, _VOID, _LONG, _LONG, _VOID, _LONG, _LONG, _VOID, ctypes.c_int]
        return source, (i, name, args, bind)
    if plan is not None:
        source = direct_conv.source(name, plan, native.CTYPES[dtype.name])
        bind = functools.partial(
            direct_conv.runner, geo=plan, batch=shapes[0][0], dtype=dtype,
            transposed=prim is ConvTranspose, hold=hold,
        )  # fmt: skip
        args = [_VOID, _LONG, _LONG, _VOID, _VOID, _LONG, _VOID, ctypes.c_int]
        return source, (i, name, args, bind)
    geo = _node_geometry(prim, shapes, params)
    source = _SOURCES[prim](name, geo, native.CTYPES[dtype.name])
    bind = functools.partial(_runner, prim, geo=geo, batch=shapes[0][0], dtype=dtype)
    return source, (i, name, _ARGTYPES[prim], bind)


def _library(sources: list[str], made: list[tuple]) -> Kernels:
    """The kernels of ``sources`` after the declarations they share."""
    lib = blas.find()
    if not sources or lib is None:
        return Kernels(None, {})
    types = "".join(blas.gemm_declaration(lib, t) + "\n" for t in native.CTYPES.values())
    return load_kernels([_PRELUDE + direct_conv.PRELUDE + types, *sources], made)


def covers(graph: Graph) -> bool:
    """Whether ``build`` lowers some node of ``graph`` (given a compiler)."""
    return blas.find() is not None and any(
        node.prim in _PRIMS and graph.avals[node.inputs[0]].dtype.name in native.CTYPES
        for node in graph.nodes
    )


def build(graph: Graph) -> Kernels:
    """The native kernels of the graph's convolution nodes on float32 or float64 arrays, in
    one library; none without a compiler (``native.load`` then warns) or CBLAS."""
    sources, made = [], []
    for i, node in enumerate(graph.nodes):
        if node.prim not in _PRIMS:
            continue
        avals = [graph.avals[v] for v in node.inputs]
        if avals[0].dtype.name in native.CTYPES:
            shapes = [tuple(a.shape) for a in avals]
            source, entry = _kernel(i, node.prim, shapes, avals[0].dtype.np, node.params)
            sources.append(source)
            made.append(entry)
    return _library(sources, made)


_EAGER_MIN = 1 << 20  # window elements (C * K * N * L) from which eager compiles a kernel


def _frozen(params: dict) -> tuple:
    return tuple(sorted(params.items()))


def eager(prim: Any, shapes: tuple, dtype: np.dtype, params: dict) -> Callable | None:
    """Eager ``prim``'s native kernel for inputs of these shapes and ``params`` (compiled once
    per process, and kept in the disk cache), or None: other dtypes, no compiler, under
    ``_EAGER_MIN`` window elements, where compiling a kernel for each new geometry (about
    0.3 s) would not pay for itself, or an im2col kernel while NumPy's BLAS has several
    threads. Between eager ops OpenBLAS's pool keeps spinning, so the im2col kernels' GEMMs on
    OpenMP's threads fight it (dcgan's eager step 1.55x slower at two threads) where NumPy's
    one GEMM over the batch on OpenBLAS's own threads does not; the direct kernels, with no
    GEMM, still gain (ddpm 0.81x)."""
    made = _eager(prim, tuple(map(tuple, shapes)), np.dtype(dtype), _frozen(params))
    if made is None:
        return None
    kernel, direct = made
    if not direct and (lib := blas.find()) is not None and lib.get_threads() > 1:
        return None
    return kernel


@functools.cache
def _eager(prim: Any, shapes: tuple, dtype: np.dtype, params: tuple) -> tuple | None:
    """(kernel, whether it is a direct one), or None."""
    kw = dict(params)
    geo = _node_geometry(prim, list(shapes), kw)
    if dtype.name not in native.CTYPES or geo.rows * geo.per * shapes[0][0] < _EAGER_MIN:
        return None
    source, entry = _kernel(0, prim, list(shapes), dtype, kw)
    kernel = _library([source], [entry]).by_node.get(0)
    return None if kernel is None else (kernel, _direct(prim, list(shapes), kw) is not None)
