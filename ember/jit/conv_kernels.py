"""Native C kernel for a convolution's data gradient: the jit's lowering of ``ConvTranspose``
(``ember.ops.conv``) as one GEMM per batch chunk and a C scatter of its windows (col2im).

The NumPy ``ConvTranspose`` at stride 1 runs a full correlation with the flipped kernel over a
padded gradient (more FLOPs than the forward, plus the padded copy), since a NumPy scatter of
the kernel offsets is slower still. Here each chunk's windows ``Wᵀ · g`` land in a reused
(C * K, m * L) matrix that stays in cache, and a compiled loop adds every kernel offset's row
into the image planes, skipping the cropped padding by its coordinates. The geometry is
written into the source as literals, as in ``ember.jit.pool_kernels``. Float32 and float64 host
arrays only: anything else, or no C compiler, runs the NumPy kernel.
"""

from __future__ import annotations

import ctypes
import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ember.jit import native
from ember.jit.graph import Graph
from ember.jit.pool_kernels import (
    Kernels,
    _clipped_loops,
    _function,
    _may_leave,
    _three,
    load_kernels,
)
from ember.ops.conv import ConvTranspose, _chunk_size, _chunks

__all__ = ["build", "eager"]


def _col2im_source(name: str, ctype: str, channels: int, batch: int, params: dict, lout) -> str:
    """``name(cols, m, out)``: the windows of ``m`` images, a (C, *K, m, *L) matrix, added into
    their zeroed (C, N, *size) image planes at ``out`` (the chunk's first image)."""
    size, o = _three(params["size"], 1), _three(lout, 1)
    kernel = _three(params["kernel"], 1)
    stride, dil = _three(params["stride"], 1), _three(params["dilation"], 1)
    before = _three(tuple(a for a, _ in params["padding"]), 0)
    plane, per, taps = math.prod(size), math.prod(o), math.prod(kernel)
    body = [
        "const long c = q / m, j = q % m;",
        f"{ctype} *w = out + c * {batch * plane}L + j * {plane}L;",
        f"for (long f = 0; f < {plane}L; f++) w[f] = 0;",
        "long t = 0;",
        *(f"for (long k{d} = 0; k{d} < {kernel[d]}L; k{d}++)" for d in range(2)),
        f"for (long k2 = 0; k2 < {kernel[2]}L; k2++, t++) {{",
        f"  const {ctype} *r = cols + ((c * {taps}L + t) * m + j) * {per}L;",
    ]
    leaves = [_may_leave(*dims) for dims in zip(size, kernel, stride, before, dil, o)]
    coords = [f"o{d} * {stride[d]}L + k{d} * {dil[d]}L - {before[d]}L" for d in range(3)]
    body += [f"  {line}" for line in _clipped_loops("o", o, coords, size, leaves)]
    body += [
        f"        w[(u0 * {size[1]}L + u1) * {size[2]}L + u2] += "
        f"r[(o0 * {o[1]}L + o1) * {o[2]}L + o2];",
        "      }",
        "    }",
        "  }",
        "}",
    ]
    head = f"void {name}(const {ctype} *cols, long m, {ctype} *out)"
    return _function(head, f"{channels}L * m", channels * batch * (plane + taps * per), body)


def _runner(fn: Any, out_shape: tuple, dtype: Any) -> Callable:
    """``ConvTranspose.forward``'s signature: per chunk of images, the windows ``Wᵀ · g`` into a
    reused matrix, then the compiled scatter into the (C, N, *size) result (a device array runs
    the NumPy/CuPy kernel)."""
    forward = ConvTranspose.forward
    n, c, size = out_shape[0], out_shape[1], tuple(out_shape[2:])

    def run(xp: Any, g: Any, w: Any, **params: Any) -> Any:
        if xp is not np:
            return forward(xp, g, w, **params)
        o, per = w.shape[0], math.prod(g.shape[2:])
        ck = c * math.prod(w.shape[2:])
        gm = np.moveaxis(g, 0, 1).reshape(o, n * per)  # free for a Conv's own layout
        wt = w.reshape(o, ck).T
        res = np.empty((c, n) + size, dtype)
        step = _chunk_size(np, n, ck * per, res.itemsize)
        flat = np.empty(ck * step * per, dtype)  # a short last chunk reuses its front
        for start, stop in _chunks(n, step):
            m = stop - start
            chunk = flat[: ck * m * per].reshape(ck, m * per)
            np.matmul(wt, gm[:, start * per : stop * per], out=chunk)
            fn(chunk.ctypes.data, m, res[:, start].ctypes.data)
        return np.moveaxis(res, 0, 1)

    return run


def _kernel(i: int, g: tuple, w: tuple, dtype: Any, params: dict) -> tuple[str, tuple]:
    """(C source, ``load_kernels`` entry) of node ``i``'s kernel: gradient of shape ``g``,
    weight ``w``, float ``dtype``, ``ConvTranspose``'s parameters."""
    out = (g[0], w[1]) + tuple(params["size"])
    name = f"col2im{i}"
    source = _col2im_source(
        name, native.CTYPES[dtype.name], out[1], out[0], dict(params, kernel=tuple(w[2:])), g[2:]
    )
    bind = functools.partial(_runner, out_shape=out, dtype=dtype)
    return source, (i, name, [ctypes.c_void_p, ctypes.c_long, ctypes.c_void_p], bind)


def build(graph: Graph) -> Kernels:
    """The native data-gradient kernels of the graph's ``ConvTranspose`` nodes on float32 or
    float64 arrays, in one library; none without a compiler (``native.load`` then warns)."""
    sources, made = [], []
    for i, node in enumerate(graph.nodes):
        if node.prim is not ConvTranspose:
            continue
        g, w = (graph.avals[v] for v in node.inputs)
        if g.dtype.name in native.CTYPES:
            source, entry = _kernel(i, g.shape, w.shape, g.dtype.np, node.params)
            sources.append(source)
            made.append(entry)
    return load_kernels(sources, made)


_EAGER_MIN = 1 << 20  # window elements (C * K * N * L) from which eager compiles a kernel


@functools.cache
def eager(g: tuple, w: tuple, dtype: np.dtype, size: tuple, stride, padding, dilation):
    """Eager ``ConvTranspose``'s native kernel for these shapes and geometry (compiled once per
    process, and kept in the disk cache), or None: other dtypes, no compiler, or gradients
    under ``_EAGER_MIN`` window elements, where compiling a kernel for each new geometry
    (about 0.3 s) would not pay for itself."""
    windows = w[1] * math.prod(w[2:]) * g[0] * math.prod(g[2:])
    if dtype.name not in native.CTYPES or windows < _EAGER_MIN:
        return None
    params = {"size": size, "stride": stride, "padding": padding, "dilation": dilation}
    source, entry = _kernel(0, g, w, dtype, params)
    return load_kernels([source], [entry]).by_node.get(0)
