"""Direct 2-D convolution at stride 1, without a window matrix: the native kernel of ``Conv``
and of a stride-1 ``ConvTranspose`` (a convolution's data gradient) where it beats im2col and
a GEMM (``ember.jit.conv_kernels`` chooses).

Each image is copied once into a zero-padded (C, Hp, Wp) buffer. On that buffer the window of
output position p = oh * Wp + ow at kernel offset (kh, kw) starts at p + kh * Wp + kw, so a run
of consecutive outputs reads a run of consecutive inputs: the kernel loads them as vectors
straight from the padded image (no im2col) and keeps a block of output channels times a few
vectors of positions in registers, adding one broadcast weight times an input vector per
channel and offset (GCC's vector extensions: AVX-512, AVX or SSE, whichever ``-march=native``
has). Positions past the last column (ow >= Wout) are computed and dropped when the block is
copied to the (O, N, Hout, Wout) result. A data gradient at stride 1 is the same convolution
of the gradient by the flipped, transposed kernel with padding (K - 1) * dilation - padding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ember.jit.pool_kernels import _in_planes

__all__ = ["Direct", "direct", "PRELUDE", "source", "runner"]

OB = 8  # output channels per register block, at most (the weights are padded to a multiple)
_ROW_SLACK = 64  # positions after the last block's start that a block may write or read
PRELUDE = """#include <string.h>
#if defined(__AVX512F__)
#define EMBER_VB 64
#define EMBER_OB 8
#elif defined(__AVX__)
#define EMBER_VB 32
#define EMBER_OB 4
#else
#define EMBER_VB 16
#define EMBER_OB 4
#endif
#define EMBER_PB 3
typedef float vec_float __attribute__((vector_size(EMBER_VB)));
typedef double vec_double __attribute__((vector_size(EMBER_VB)));
"""


class Direct(NamedTuple):
    """A stride-1 2-D convolution of (C, H, W) images by an (O, C, KH, KW) kernel."""

    channels: int
    outs: int
    size: tuple  # (H, W)
    kernel: tuple  # (KH, KW)
    dilation: tuple
    padding: tuple  # ((top, bottom), (left, right))

    @property
    def padded(self) -> tuple:
        """(Hp, Wp): the image with its padding."""
        return tuple(s + a + b for s, (a, b) in zip(self.size, self.padding))

    @property
    def out(self) -> tuple:
        return tuple(p - (k - 1) * d for p, k, d in zip(self.padded, self.kernel, self.dilation))

    @property
    def outs_padded(self) -> int:
        return -(-self.outs // OB) * OB

    @property
    def row(self) -> int:
        """Elements per output channel in the per-image scratch."""
        return self.out[0] * self.padded[1] + _ROW_SLACK

    @property
    def image(self) -> int:
        """Elements of the padded image buffer, with room for the last block's reads."""
        reach = self.kernel[1] * self.dilation[1]  # past the last row: the last block's reads
        return self.channels * math.prod(self.padded) + _ROW_SLACK + reach

    @property
    def work(self) -> int:
        """Scratch elements per thread."""
        return self.image + self.outs_padded * self.row


_BLOCK = 48  # output positions per register block (AVX-512, float32)
_MIN_USE = 0.7  # share of the computed outputs that must be kept


def direct(channels: int, outs: int, size: tuple, kernel: tuple, stride, padding, dilation):
    """The ``Direct`` of a 2-D convolution, or None: other strides or dims, or a geometry where
    the blocks would waste too much (fewer than ``OB`` output channels, or under ``_MIN_USE``
    of the positions computed kept: small images, whose padded rows and last block are mostly
    dropped; at 7 x 7 im2col and BLAS measured faster)."""
    if len(size) != 2 or any(s != 1 for s in stride) or any(a < 0 or b < 0 for a, b in padding):
        return None
    geo = Direct(channels, outs, tuple(size), tuple(kernel), tuple(dilation), tuple(padding))
    if min(geo.out) <= 0 or outs < OB:
        return None
    computed = -(-geo.out[0] * geo.padded[1] // _BLOCK) * _BLOCK
    return geo if math.prod(geo.out) >= _MIN_USE * computed else None


def source(name: str, geo: Direct, ctype: str) -> str:
    """``name(x, sn, sc, w, out, n, work, threads)``: the (O, N, Hout, Wout) convolution of the
    n images of x (image j, channel c at ``x + j * sn + c * sc``, planes contiguous) by w, an
    (O padded to a multiple of ``OB``, C, KH, KW) kernel, with ``threads`` OpenMP threads, each
    using ``geo.work`` elements of ``work``."""
    (hp, wp), (h, w), (ho, wo) = geo.padded, geo.size, geo.out
    (kh, kw), (dh, dw) = geo.kernel, geo.dilation
    (top, _), (left, _) = geo.padding
    c, taps, row = geo.channels, kh * kw, geo.row
    vec = f"vec_{ctype}"
    image = [
        # ISO C (-std=c99) turns off contraction: ask for fused multiply-adds here
        '__attribute__((optimize("fp-contract=fast")))',
        f"static void {name}_image(const {ctype} *x, const {ctype} *w, {ctype} *y) {{",
        f"  enum {{ L = EMBER_VB / sizeof({ctype}), STEP = L * EMBER_PB }};",
        f"  for (long o0 = 0; o0 < {geo.outs_padded}L; o0 += EMBER_OB)",
        f"    for (long p = 0; p < {ho * wp}L; p += STEP) {{",
        f"      {vec} acc[EMBER_OB][EMBER_PB];",
        "      for (int a = 0; a < EMBER_OB; a++)",
        f"        for (int b = 0; b < EMBER_PB; b++) acc[a][b] = ({vec}){{0}};",
        f"      for (long c = 0; c < {c}L; c++) {{",
        f"        const {ctype} *xc = x + c * {hp * wp}L + p;",
        f"        const {ctype} *wc = w + (o0 * {c}L + c) * {taps}L;",
        f"        for (long i = 0; i < {kh}L; i++)",
        f"          for (long k = 0; k < {kw}L; k++) {{",
        f"            const {ctype} *xs = xc + i * {dh * wp}L + k * {dw}L;",
        f"            {vec} xv[EMBER_PB];",
        "            for (int b = 0; b < EMBER_PB; b++) memcpy(&xv[b], xs + b * L, sizeof xv[b]);",
        "            #pragma GCC unroll 8",
        "            for (int a = 0; a < EMBER_OB; a++) {",
        f"              const {ctype} s = wc[a * {c * taps}L + i * {kw}L + k];",
        "              for (int b = 0; b < EMBER_PB; b++) acc[a][b] += s * xv[b];",
        "            }",
        "          }",
        "      }",
        "      for (int a = 0; a < EMBER_OB; a++)",
        "        for (int b = 0; b < EMBER_PB; b++)",
        f"          memcpy(y + (o0 + a) * {row}L + p + b * L, &acc[a][b], sizeof acc[a][b]);",
        "    }",
        "}",
    ]
    size = f"sizeof({ctype})"
    outer = [
        f"void {name}(const {ctype} *x, long sn, long sc, const {ctype} *w, {ctype} *out, "
        f"long n, {ctype} *work, int threads) {{",
        "  #pragma omp parallel for schedule(static) num_threads(threads) if(threads > 1)",
        "  for (long j = 0; j < n; j++) {",
        f"    {ctype} *xp = work + EMBER_TID * {geo.work}L, *y = xp + {geo.image}L;",
        f"    memset(xp, 0, {geo.image}L * {size});",
        f"    for (long c = 0; c < {c}L; c++)",
        f"      for (long r = 0; r < {h}L; r++)",
        f"        memcpy(xp + c * {hp * wp}L + (r + {top}L) * {wp}L + {left}L,"
        f" x + j * sn + c * sc + r * {w}L, {w}L * {size});",
        f"    {name}_image(xp, w, y);",
        f"    for (long o = 0; o < {geo.outs}L; o++)",
        f"      for (long r = 0; r < {ho}L; r++)",
        f"        memcpy(out + (o * n + j) * {ho * wo}L + r * {wo}L, y + o * {row}L + r * {wp}L,"
        f" {wo}L * {size});",
        "  }",
        "}",
    ]
    return "\n".join(image + [""] + outer)


def weights(w: np.ndarray, geo: Direct, transposed: bool) -> np.ndarray:
    """The kernel as the direct convolution reads it: (O padded to ``OB``, C, KH, KW), C order;
    a transposed convolution's (C_in, C_out, KH, KW) weight flipped and swapped."""
    if transposed:
        w = np.flip(w, (2, 3)).swapaxes(0, 1)
    res = np.zeros((geo.outs_padded,) + w.shape[1:], w.dtype)
    res[: w.shape[0]] = w
    return res


def runner(fn: Any, geo: Direct, batch: int, dtype: np.dtype, transposed: bool, hold) -> Callable:
    """A function of ``Conv.forward``'s (or ``ConvTranspose.forward``'s) signature calling the
    compiled ``fn`` on host arrays; ``hold`` is ``blas.hold`` bound to NumPy's BLAS, which
    gives the thread count."""

    def run(xp: Any, x: Any, w: Any, **params: Any) -> Any:
        x, sn, sc = _in_planes(x)
        kernel = weights(w, geo, transposed)
        res = np.empty((geo.outs, batch) + geo.out, dtype)
        with hold() as threads:
            work = np.empty(threads * geo.work, dtype)
            fn(x.ctypes.data, sn, sc, kernel.ctypes.data, res.ctypes.data, batch,
               work.ctypes.data, threads)  # fmt: skip
        return np.moveaxis(res, 0, 1)

    return run
