"""Native C kernels for max pooling: the jit's lowering of ``MaxPoolIndices``,
``MaxPoolGather`` and ``MaxPoolScatter`` (``ember.ops.max_pool``).

Each kernel walks the output positions of one (n, c) plane at a time and reads each window
straight from the input: no padded copy, no window copies. The geometry (sizes, kernel,
stride, padding, dilation) is written into the source as literals, so the window loops have
constant bounds that the compiler unrolls. ``build`` compiles the kernels of a whole graph into
one library (``native.load``: the system C compiler and the disk cache) and gives, per node, a
function with the primitive's ``forward`` signature, which the executor runs instead of NumPy.
Inputs are read in place when each plane is contiguous (a convolution's (C, N, ...)-ordered
output, say). Float32 and float64 host arrays only: anything else runs the NumPy kernel.
"""

from __future__ import annotations

import ctypes
import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ember.config import config
from ember.jit import native
from ember.jit.graph import Graph, Node

__all__ = ["build"]


def _three(values: tuple, fill: int) -> tuple:
    """A 1-, 2- or 3-D geometry led by ``fill`` up to three dims."""
    return (fill,) * (3 - len(values)) + tuple(values)


def _function(head: str, planes: str, work: int, body: list[str]) -> str:
    """C function ``head`` running ``body`` for each plane ``q`` below the C expression
    ``planes``; on every core from ``jit_parallel_min`` elements of ``work``."""
    parallel = work >= config.jit_parallel_min
    lines = [
        *(["#pragma omp parallel for schedule(static)"] if parallel else []),
        f"for (long q = 0; q < {planes}; q++) {{",
        *(f"  {line}" for line in body),
        "}",
    ]
    return "\n".join([head + " {", *(f"  {line}" for line in lines), "}"])


def _may_leave(size: int, kernel: int, stride: int, before: int, dilation: int, out: int) -> bool:
    """Whether a window along this dim can reach outside the input (padding, or ceil_mode's
    last window): only then does the kernel test its coordinates, so that the common unpadded
    loops have no branches."""
    return before > 0 or (out - 1) * stride + (kernel - 1) * dilation >= size


def _clipped_loops(var: str, counts: tuple, coords: list[str], size: tuple, leaves: list) -> list:
    """Three nested loops over ``var``0..2 below ``counts``, each naming its image coordinate
    ``u<d> = coords[d]`` and skipping coordinates outside ``size`` along the dims that
    ``leaves`` marks (the innermost body goes after these lines, three levels in)."""
    lines = []
    for d in range(3):
        pad = "  " * d
        lines += [
            f"{pad}for (long {var}{d} = 0; {var}{d} < {counts[d]}L; {var}{d}++) {{",
            f"{pad}  const long u{d} = {coords[d]};",
        ]
        if leaves[d]:
            lines.append(f"{pad}  if (u{d} < 0 || u{d} >= {size[d]}L) continue;")
    return lines


def _indices_source(
    name: str, ctype: str, x: tuple, out: tuple, params: dict, values: bool = False
) -> str:
    """``name(x, sn, sc, idx)``: the flat in-plane index of each window's maximum by PyTorch's
    rule: the search starts at the window's first element inside the input and an element
    takes over when it is greater or NaN (the first maximum wins, or the last NaN). With
    ``values``, ``name(x, sn, sc, out)`` writes that element itself instead."""
    n, c = x[:2]
    size, o = _three(x[2:], 1), _three(out[2:], 1)
    kernel, stride = _three(params["kernel"], 1), _three(params["stride"], 1)
    dil = _three(params["dilation"], 1)
    before = _three(tuple(a for a, _ in params["padding"]), 0)
    starts = ", ".join(f"s{d} = o{d} * {stride[d]}L - {before[d]}L" for d in range(3))
    leaves = [_may_leave(*dims) for dims in zip(size, kernel, stride, before, dil, o)]
    window = [
        f"const long {starts};",
        f"long at = -1; {ctype} best = 0;",
        *_clipped_loops("k", kernel, [f"s{d} + k{d} * {dil[d]}L" for d in range(3)], size, leaves),
        f"      const long f = (u0 * {size[1]}L + u1) * {size[2]}L + u2;",
        f"      const {ctype} v = p[f];",
        "      if (at < 0 || v > best || v != v) { best = v; at = f; }",
        "    }",
        "  }",
        "}",
        f"*w++ = {'best' if values else 'at'};",
    ]
    store = ctype if values else "long"
    body = [
        f"const {ctype} *p = x + (q / {c}L) * sn + (q % {c}L) * sc;",
        f"{store} *w = idx + q * {math.prod(o)}L;",
        *(f"for (long o{d} = 0; o{d} < {o[d]}L; o{d}++)" for d in range(2)),
        f"for (long o2 = 0; o2 < {o[2]}L; o2++) {{",
        *(f"  {line}" for line in window),
        "}",
    ]
    head = f"void {name}(const {ctype} *x, long sn, long sc, {store} *idx)"
    return _function(head, f"{n * c}L", n * c * math.prod(o) * math.prod(kernel), body)


def _gather_source(name: str, ctype: str, x: tuple, out: tuple) -> str:
    """``name(x, sn, sc, idx, out)``: ``out[q, l] = plane q of x at idx[q, l]``."""
    n, c, per = x[0], x[1], math.prod(out[2:])
    body = [
        f"const {ctype} *p = x + (q / {c}L) * sn + (q % {c}L) * sc;",
        f"const long *i = idx + q * {per}L;",
        f"{ctype} *w = out + q * {per}L;",
        f"for (long l = 0; l < {per}L; l++) w[l] = p[i[l]];",
    ]
    head = f"void {name}(const {ctype} *x, long sn, long sc, const long *idx, {ctype} *out)"
    return _function(head, f"{n * c}L", n * c * per, body)


def _scatter_source(name: str, ctype: str, g: tuple, out: tuple) -> str:
    """``name(g, idx, out)``: each plane of ``out`` zeroed, then ``g[q, l]`` added at
    ``idx[q, l]`` (in order: windows that overlap add up)."""
    n, c, per, plane = g[0], g[1], math.prod(g[2:]), math.prod(out[2:])
    body = [
        f"const {ctype} *h = g + q * {per}L;",
        f"const long *i = idx + q * {per}L;",
        f"{ctype} *w = out + q * {plane}L;",
        f"for (long f = 0; f < {plane}L; f++) w[f] = 0;",
        f"for (long l = 0; l < {per}L; l++) w[i[l]] += h[l];",
    ]
    head = f"void {name}(const {ctype} *g, const long *idx, {ctype} *out)"
    return _function(head, f"{n * c}L", n * c * (per + plane), body)


def _in_planes(a: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(``a``, or a copy in C order unless each (n, c) plane is C-contiguous; its n and c
    strides in elements)."""
    plane = [math.prod(a.shape[d + 1 :]) * a.itemsize for d in range(2, a.ndim)]
    if any(st != want for st, want, n in zip(a.strides[2:], plane, a.shape[2:]) if n > 1):
        a = np.ascontiguousarray(a)
    return a, a.strides[0] // a.itemsize, a.strides[1] // a.itemsize


_VOID, _LONG = ctypes.c_void_p, ctypes.c_long
_ARGTYPES = {
    "indices": [_VOID, _LONG, _LONG, _VOID],
    "values": [_VOID, _LONG, _LONG, _VOID],
    "gather": [_VOID, _LONG, _LONG, _VOID, _VOID],
    "scatter": [_VOID, _VOID, _VOID],
}


def _runner(prim: Any, kind: str, fn: Any, out: Any) -> Callable:
    """``prim.forward``'s signature, calling the compiled ``fn`` on host arrays (a device
    array runs ``prim.forward``)."""
    forward, shape, dtype = prim.forward, out.shape, out.dtype.np

    def run(xp: Any, *arrays: Any, **params: Any) -> Any:
        if xp is not np:
            return forward(xp, *arrays, **params)
        if kind == "scatter":
            g, idx = (np.ascontiguousarray(a) for a in arrays)
            res = np.empty(shape, dtype)
            fn(g.ctypes.data, idx.ctypes.data, res.ctypes.data)
            return res
        x, sn, sc = _in_planes(arrays[0])
        if kind in ("indices", "values"):  # (a values kernel ignores the unread indices)
            res = np.empty(shape, np.int64 if kind == "indices" else dtype)
            fn(x.ctypes.data, sn, sc, res.ctypes.data)
            return res
        idx = np.ascontiguousarray(arrays[1])
        res = np.empty(shape, dtype)
        fn(x.ctypes.data, sn, sc, idx.ctypes.data, res.ctypes.data)
        return res

    return run


_KINDS = {"MaxPoolIndices": "indices", "MaxPoolGather": "gather", "MaxPoolScatter": "scatter"}


class Kernels(NamedTuple):
    """The compiled library (kept loaded while in use) and ``{node index: forward-like
    function}`` for the nodes it holds (max pooling here, ``ember.jit.conv_kernels``'s too)."""

    library: Any
    by_node: dict[int, Callable]


def _values_only(graph: Graph) -> dict[int, int]:
    """``{gather node: indices node}`` for the poolings whose indices nothing else reads (an
    inference step): the gather then finds each window's maximum itself."""
    readers: dict[int, list[int]] = {}
    for j, node in enumerate(graph.nodes):
        for v in node.inputs:
            readers.setdefault(v, []).append(j)
    roots = set(graph.roots())
    pairs = {}
    for i, node in enumerate(graph.nodes):
        if _KINDS.get(node.prim.name) != "indices" or node.out in roots:
            continue
        (j, *others) = readers.get(node.out, [None])
        if j is None or others or _KINDS.get(graph.nodes[j].prim.name) != "gather":
            continue
        if list(graph.nodes[j].inputs) == [node.inputs[0], node.out]:
            pairs[j] = i
    return pairs


def _unread(prim: Any, shape: tuple[int, ...]) -> Callable:
    """The kernel of an indices node whose only reader computes the values itself: on host
    arrays, indices of the right shape that nothing reads (a broadcast zero, made once); a
    device array runs ``prim.forward``, as its gather's runner does."""
    indices = np.broadcast_to(np.zeros((), np.int64), shape)

    def run(xp: Any, *arrays: Any, **params: Any) -> Any:
        return indices if xp is np else prim.forward(xp, *arrays, **params)

    return run


def build(graph: Graph) -> Kernels:
    """The native kernels of the graph's max-pooling nodes on float32 or float64 arrays, in one
    library; none without a compiler (``native.load`` then warns). A pooling whose indices
    only its gather reads becomes one kernel writing each window's maximum (``_values_only``)."""
    sources, made, unread = [], [], {}
    pairs = _values_only(graph)
    paired = set(pairs.values())
    for i, node in enumerate(graph.nodes):
        kind = _KINDS.get(node.prim.name)
        if kind is None:
            continue
        first = graph.avals[node.inputs[0]]
        if first.dtype.name not in native.CTYPES or len(first.shape) < 3:
            continue
        name, ctype = f"pool{i}", native.CTYPES[first.dtype.name]
        out = graph.avals[node.out]
        if i in paired:
            unread[i] = _unread(node.prim, out.shape)
            continue
        if i in pairs:
            kind, params = "values", graph.nodes[pairs[i]].params
            sources.append(_indices_source(name, ctype, first.shape, out.shape, params, True))
        else:
            sources.append(_source(kind, name, ctype, node, first.shape, out.shape))
        bind = functools.partial(_runner, node.prim, kind, out=out)
        made.append((i, name, _ARGTYPES[kind], bind))
    kernels = load_kernels(sources, made)
    if kernels.library is None:
        return kernels
    return Kernels(kernels.library, {**kernels.by_node, **unread})


def load_kernels(sources: list[str], made: list[tuple[int, str, list, Callable]]) -> Kernels:
    """The library of ``sources`` (one per node) and, for each ``(node index, function name,
    argtypes, bind)`` of ``made``, ``bind(compiled function)`` as that node's kernel; none
    without a compiler."""
    lib = native.load("\n\n".join(sources)) if sources else None
    if lib is None:
        return Kernels(None, {})
    by_node = {}
    for i, name, argtypes, bind in made:
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = argtypes, None
        by_node[i] = bind(fn=fn)
    return Kernels(lib, by_node)


def _source(kind: str, name: str, ctype: str, node: Node, first: tuple, out: tuple) -> str:
    """The C function ``name`` of a node of this ``kind`` (``first``: its first input's shape)."""
    if kind == "indices":
        return _indices_source(name, ctype, first, out, node.params)
    if kind == "gather":
        return _gather_source(name, ctype, first, out)
    return _scatter_source(name, ctype, first, out)
