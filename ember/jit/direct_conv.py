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
from ember.ops.conv import _CHUNK_BYTES

__all__ = [
    "Direct",
    "PRELUDE",
    "WeightPlan",
    "direct",
    "fits",
    "runner",
    "source",
    "weight_plan",
    "weight_runner",
    "weight_source",
]

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


_LANES = 16  # vector lanes of the widest case (AVX-512, float32)
_BLOCK = 3 * _LANES  # output positions per register block there (EMBER_PB vectors)
_MIN_USE = 0.7  # share of the computed outputs that must be kept


def direct(channels: int, outs: int, size: tuple, kernel: tuple, stride, padding, dilation):
    """The ``Direct`` of a 2-D convolution, or None for other strides or dims."""
    if len(size) != 2 or any(s != 1 for s in stride) or any(a < 0 or b < 0 for a, b in padding):
        return None
    geo = Direct(channels, outs, tuple(size), tuple(kernel), tuple(dilation), tuple(padding))
    return geo if min(geo.out) > 0 else None


def fits(geo: Direct | None) -> bool:
    """Whether the direct convolution (forward or data gradient) runs ``geo``: not when its
    blocks would waste too much (fewer than ``OB`` output channels, or under ``_MIN_USE`` of
    the positions computed kept: small images, whose padded rows and last block are mostly
    dropped; at 7 x 7 im2col and BLAS measured faster)."""
    if geo is None or geo.outs < OB:
        return False
    computed = -(-geo.out[0] * geo.padded[1] // _BLOCK) * _BLOCK
    return math.prod(geo.out) >= _MIN_USE * computed


def source(name: str, geo: Direct, ctype: str) -> str:
    """``name(x, sn, sc, w, out, n, work, threads)``: the (O, N, Hout, Wout) convolution of the
    n images of x (image j, channel c at ``x + j * sn + c * sc``, planes contiguous) by w, an
    (O padded to a multiple of ``OB``, C, KH, KW) kernel, with ``threads`` OpenMP threads, each
    using ``geo.work`` elements of ``work``."""
    (hp, wp), (ho, wo) = geo.padded, geo.out
    (kh, kw), (dh, dw) = geo.kernel, geo.dilation
    c, taps, row = geo.channels, kh * kw, geo.row
    vec = f"vec_{ctype}"
    image = [
        # ISO C (-std=c99) turns off contraction: ask for fused multiply-adds here
        '__attribute__((optimize("fp-contract=fast")))',
        f"static void {name}_image(const {ctype} *x, const {ctype} *w, {ctype} *y, long lo,"
        " long hi) {",
        f"  enum {{ L = EMBER_VB / sizeof({ctype}), STEP = L * EMBER_PB }};",
        "  for (long o0 = lo; o0 < hi; o0 += EMBER_OB)",
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
    copy_out = [
        f"for (long o = 0; o < {geo.outs}L; o++)",
        f"  for (long r = 0; r < {ho}L; r++)",
        f"    memcpy(out + (o * n + j) * {ho * wo}L + r * {wo}L, y + o * {row}L + r * {wp}L,"
        f" {wo}L * {size});",
    ]
    outer = [
        f"void {name}(const {ctype} *x, long sn, long sc, const {ctype} *w, {ctype} *out, "
        f"long n, {ctype} *work, int threads) {{",
        "  if (n < threads) {  /* fewer images than threads: the blocks of channels in parallel */",
        "    for (long j = 0; j < n; j++) {",
        f"      {ctype} *xp = work, *y = xp + {geo.image}L;",
        *(f"      {line}" for line in _pad_image(geo, ctype, "xp", "x + j * sn")),
        "      #pragma omp parallel for schedule(static) num_threads(threads)",
        f"      for (long q = 0; q < {geo.outs_padded}L / EMBER_OB; q++)",
        f"        {name}_image(xp, w, y, q * EMBER_OB, (q + 1) * EMBER_OB);",
        *(f"      {line}" for line in copy_out),
        "    }",
        "    return;",
        "  }",
        "  #pragma omp parallel for schedule(static) num_threads(threads) if(threads > 1)",
        "  for (long j = 0; j < n; j++) {",
        f"    {ctype} *xp = work + EMBER_TID * {geo.work}L, *y = xp + {geo.image}L;",
        *(f"    {line}" for line in _pad_image(geo, ctype, "xp", "x + j * sn")),
        f"    {name}_image(xp, w, y, 0, {geo.outs_padded}L);",
        *(f"    {line}" for line in copy_out),
        "  }",
        "}",
    ]
    return "\n".join(image + [""] + outer)


def _pad_image(geo: Direct, ctype: str, dst: str, src: str) -> list[str]:
    """C lines copying the image at ``src`` (channel c at ``src + c * sc``, rows contiguous)
    into the zeroed padded buffer ``dst`` (its slack zeroed too)."""
    (hp, wp), (h, w) = geo.padded, geo.size
    (top, _), (left, _) = geo.padding
    size = f"sizeof({ctype})"
    return [
        f"memset({dst}, 0, {geo.image}L * {size});",
        f"for (long c = 0; c < {geo.channels}L; c++)",
        f"  for (long r = 0; r < {h}L; r++)",
        f"    memcpy({dst} + c * {hp * wp}L + (r + {top}L) * {wp}L + {left}L,"
        f" {src} + c * sc + r * {w}L, {w}L * {size});",
    ]


def weights(w: np.ndarray, geo: Direct, transposed: bool) -> np.ndarray:
    """The kernel as the direct convolution reads it: (O padded to ``OB``, C, KH, KW), C order;
    a transposed convolution's (C_in, C_out, KH, KW) weight flipped and swapped."""
    if transposed:
        w = np.flip(w, (2, 3)).swapaxes(0, 1)
    elif w.shape[0] == geo.outs_padded and w.flags.c_contiguous:
        return w  # already as read: no copy
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


# -- the weight gradient ------------------------------------------------------------------


class WeightPlan(NamedTuple):
    """A stride-1 weight gradient: ``geo`` and its blocking."""

    geo: Direct
    block: int  # output channels per register block

    @property
    def grid(self) -> int:
        """Elements per output channel of an image's gradient on the padded grid."""
        geo = self.geo
        return -(-geo.out[0] * geo.padded[1] // _LANES) * _LANES

    @property
    def rows(self) -> int:
        """Output channels padded to the block."""
        return -(-self.geo.outs // self.block) * self.block

    @property
    def per_image(self) -> int:
        return self.geo.image + self.rows * self.grid

    @property
    def part(self) -> int:
        return self.geo.outs * self.geo.channels * math.prod(self.geo.kernel)


_WEIGHT_MAX_CHANNELS = 32


def weight_plan(geo: Direct | None) -> WeightPlan | None:
    """How the weight gradient of ``geo`` runs directly, or None: more than 25 kernel taps
    (their sums would not fit the registers), more dropped columns than ``_MIN_USE``, or more
    than ``_WEIGHT_MAX_CHANNELS`` channels on either side, where im2col and BLAS measured as
    fast or faster (the kernel adds each block's vector sums across once per chunk of images,
    which small channel counts amortise best)."""
    if geo is None or max(geo.channels, geo.outs) > _WEIGHT_MAX_CHANNELS:
        return None
    taps = math.prod(geo.kernel)
    plan = WeightPlan(geo, min(4, max(1, 24 // taps)))
    return None if taps > 25 or math.prod(geo.out) < _MIN_USE * plan.grid else plan


def weight_source(name: str, plan: WeightPlan, ctype: str) -> str:
    """``name(x, sn, sc, g, gn, go, out, n, step, work, threads)``: the (O, C, KH, KW) weight
    gradient of the convolution of x (planes contiguous) with gradient g (image j, channel o at
    ``g + j * gn + o * go``, planes contiguous), over chunks of ``step`` images per thread."""
    geo, block, grid = plan.geo, plan.block, plan.grid
    (hp, wp), (ho, wo) = geo.padded, geo.out
    (kh, kw), (dh, dw) = geo.kernel, geo.dilation
    c, o, taps = geo.channels, geo.outs, kh * kw
    vec, size = f"vec_{ctype}", f"sizeof({ctype})"
    offsets = [i * dh * wp + k * dw for i in range(kh) for k in range(kw)]
    sums = [f"s{a}_{t}" for a in range(block) for t in range(taps)]
    body = [f"{vec} g{a}; memcpy(&g{a}, gs + {a * grid}L + p, sizeof g{a});" for a in range(block)]
    for t, off in enumerate(offsets):
        adds = " ".join(f"s{a}_{t} += g{a} * v;" for a in range(block))
        body.append(f"{{ {vec} v; memcpy(&v, xs + p + {off}L, sizeof v); {adds} }}")
    sums_fn = [
        '__attribute__((optimize("fp-contract=fast")))',
        f"static void {name}_sums(const {ctype} *x, {ctype} *dw, long m) {{",
        f"  enum {{ L = EMBER_VB / sizeof({ctype}) }};",
        f"  for (long o0 = 0; o0 < {plan.rows}L; o0 += {block}L)",
        f"    for (long c = 0; c < {c}L; c++) {{",
        f"      {vec} {', '.join(f'{v} = {{0}}' for v in sums)};",
        "      for (long j = 0; j < m; j++) {",
        f"        const {ctype} *xs = x + j * {plan.per_image}L + c * {hp * wp}L;",
        f"        const {ctype} *gs = x + j * {plan.per_image}L + {geo.image}L + o0 * {grid}L;",
        f"        for (long p = 0; p < {grid}L; p += L) {{",
        *(f"          {line}" for line in body),
        "        }",
        "      }",
        *(
            f"      if (o0 + {a} < {o}L) {{ {ctype} e[L]; memcpy(e, &s{a}_{t}, sizeof e); "
            f"{ctype} t = 0; for (int l = 0; l < L; l++) t += e[l]; "
            f"dw[((o0 + {a}) * {c}L + c) * {taps}L + {t}] += t; }}"
            for a in range(block)
            for t in range(taps)
        ),
        "    }",
        "}",
    ]
    image = f"xp + j * {plan.per_image}L"
    grads = f"{image} + {geo.image}L"
    outer = [
        f"void {name}(const {ctype} *x, long sn, long sc, const {ctype} *g, long gn, long go, "
        f"{ctype} *out, long n, long step, {ctype} *work, int threads) {{",
        f"  const long each = step * {plan.per_image}L + {plan.part}L;",
        "  for (int t = 0; t < threads; t++)",
        f"    memset(work + t * each + step * {plan.per_image}L, 0, {plan.part}L * {size});",
        "  #pragma omp parallel for schedule(static) num_threads(threads) if(threads > 1)",
        "  for (long b = 0; b < (n + step - 1) / step; b++) {",
        f"    {ctype} *xp = work + EMBER_TID * each;",
        "    const long start = b * step, m = n - start < step ? n - start : step;",
        "    for (long j = 0; j < m; j++) {",
        *(f"      {line}" for line in _pad_image(geo, ctype, image, "x + (start + j) * sn")),
        f"      memset({grads}, 0, {plan.rows * grid}L * {size});",
        f"      for (long q = 0; q < {o}L; q++)",
        f"        for (long r = 0; r < {ho}L; r++)",
        f"          memcpy({grads} + q * {grid}L + r * {wp}L,"
        f" g + (start + j) * gn + q * go + r * {wo}L, {wo}L * {size});",
        "    }",
        f"    {name}_sums(xp, xp + step * {plan.per_image}L, m);",
        "  }",
        f"  const {ctype} *parts = work + step * {plan.per_image}L;",
        f"  for (long i = 0; i < {plan.part}L; i++) {{",
        f"    {ctype} t = 0;",
        "    for (int p = 0; p < threads; p++) t += parts[p * each + i];",
        "    out[i] = t;",
        "  }",
        "}",
    ]
    return "\n".join(sums_fn + [""] + outer)


def weight_runner(fn: Any, plan: WeightPlan, batch: int, dtype: np.dtype, hold) -> Callable:
    """A function of ``ConvWeight.forward``'s signature calling the compiled ``fn``."""
    geo = plan.geo
    per_image = plan.per_image * dtype.itemsize

    def run(xp: Any, x: Any, g: Any, **params: Any) -> Any:
        x, sn, sc = _in_planes(x)
        g, gn, go = _in_planes(g)
        res = np.empty((geo.outs, geo.channels) + geo.kernel, dtype)
        with hold() as threads:
            step = max(1, min(-(-batch // threads), _CHUNK_BYTES // per_image))
            work = np.empty(threads * (step * plan.per_image + plan.part), dtype)
            fn(x.ctypes.data, sn, sc, g.ctypes.data, gn, go, res.ctypes.data, batch, step,
               work.ctypes.data, threads)  # fmt: skip
        return res

    return run
