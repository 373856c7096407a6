"""Native C kernels for the LSTM recurrence (``ember.ops.fused.LSTMSequence``): one C call
per sequence and direction.

A step of the recurrence is one small GEMM with ``W_hh`` and elementwise gate math that NumPy
spends about ten passes over (B, H)-sized arrays on. Here the whole time loop is C: each
step calls NumPy's own BLAS through its CBLAS entry point (``ember.jit.blas``), then one loop
of gate math:

- ``lstm_forward_sequence``: per step, the GEMM W_hh · h_{t-1}ᵀ into a (4H, B) buffer (OpenBLAS
  runs this orientation of the product about 25% faster than h_{t-1} · W_hhᵀ at the lstm
  workload's (32, 256) · (256, 1024)), transposed in cache, then from it and the step's input
  projection the activations i, f, g, o, the cell c_t and the output h_t, written into the
  step's output row;
- ``lstm_backward_sequence``: per step, from the step's output gradients and the gradients
  carried back from step t + 1, the pre-activation gate gradients and d c_{t-1}, then the
  GEMM d_pre · W_hh carrying d h back.

The library is compiled once per process with the jit's toolchain and disk cache
(``ember.jit.native.load``). Only float32 runs natively, and only when the compiler has vector
libm (``native.vector_math``: expf and tanhf within 4 ulp, a vector of lanes per call) and
NumPy's BLAS has a CBLAS GEMM: the rule the jit applies to its own kernels with exp or tanh.
Float64 would call scalar libm, which loses to NumPy's vectorised float64 loops (the gate
math measured 1.6x slower). Anything else (no compiler, other dtypes, arrays not on the host)
gets None from ``native_cell`` and keeps the array code.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

import numpy as np

__all__ = ["NativeCell", "native_cell"]

_SOURCE = """
static void lstm_forward(long batch, long n, const float *restrict pre, const float *restrict x,
                  const float *restrict c_prev, long c_stride, float *restrict row) {
  for (long b = 0; b < batch; b++) {
    const float *p = pre + b * 4 * n, *xb = x + b * 4 * n, *cp = c_prev + b * c_stride;
    float *r = row + b * 6 * n;
    #pragma omp simd
    for (long j = 0; j < n; j++) {
      const float i = 1 / (1 + exp(-(p[j] + xb[j])));
      const float f = 1 / (1 + exp(-(p[n + j] + xb[n + j])));
      const float g = tanh(p[2 * n + j] + xb[2 * n + j]);
      const float o = 1 / (1 + exp(-(p[3 * n + j] + xb[3 * n + j])));
      const float c = f * cp[j] + i * g;
      r[j] = o * tanh(c);
      r[n + j] = c;
      r[2 * n + j] = i;
      r[3 * n + j] = f;
      r[4 * n + j] = g;
      r[5 * n + j] = o;
    }
  }
}

static void lstm_backward(long batch, long n, const float *restrict grad, const float *restrict row,
                   const float *restrict c_prev, long c_stride, const float *restrict dh_next,
                   const float *restrict dc_next, long dc_stride, float *restrict res) {
  for (long b = 0; b < batch; b++) {
    const float *gb = grad + b * 6 * n, *r = row + b * 6 * n, *cp = c_prev + b * c_stride;
    const float *dh_in = dh_next + b * n, *dc_in = dc_next + b * dc_stride;
    float *d = res + b * 5 * n;
    #pragma omp simd
    for (long j = 0; j < n; j++) {
      const float i = r[2 * n + j], f = r[3 * n + j], g = r[4 * n + j], o = r[5 * n + j];
      const float tc = tanh(r[n + j]);
      const float dh = gb[j] + dh_in[j];
      const float dc = gb[n + j] + dc_in[j] + dh * o * (1 - tc * tc);
      d[j] = (gb[2 * n + j] + dc * g) * (i * (1 - i));
      d[n + j] = (gb[3 * n + j] + dc * cp[j]) * (f * (1 - f));
      d[2 * n + j] = (gb[4 * n + j] + dc * i) * (1 - g * g);
      d[3 * n + j] = (gb[5 * n + j] + dh * tc) * (o * (1 - o));
      d[4 * n + j] = dc * f;
    }
  }
}

/* t (cols, rows) = a (rows, cols) transposed, in blocks that stay in L1 */
static void transpose(long rows, long cols, const float *restrict a, float *restrict t) {
  for (long r0 = 0; r0 < rows; r0 += 16)
    for (long c0 = 0; c0 < cols; c0 += 16)
      for (long c = c0; c < c0 + 16 && c < cols; c++)
        #pragma omp simd
        for (long r = r0; r < (r0 + 16 < rows ? r0 + 16 : rows); r++)
          t[c * rows + r] = a[r * cols + c];
}

/* out (steps, batch, 6n): rows [h, c, i, f, g, o]; work: 2 * 4n * batch floats */
void lstm_forward_sequence(long steps, long batch, long n, int reverse, const float *xproj,
                           const float *w_hh, const float *h0, const float *c0, float *out,
                           float *work, void *gemm_fn) {
  const gemm_float gemm = (gemm_float)gemm_fn;
  const long row = batch * 6 * n;
  float *pre_t = work, *pre = work + 4 * n * batch;
  for (long k = 0; k < steps; k++) {
    const long t = reverse ? steps - 1 - k : k, prev = reverse ? t + 1 : t - 1;
    const float *h = k ? out + prev * row : h0, *c = k ? out + prev * row + n : c0;
    const long stride = k ? 6 * n : n;
    gemm(101, 111, 112, 4 * n, batch, n, 1, w_hh, n, h, stride, 0, pre_t, batch);
    transpose(4 * n, batch, pre_t, pre);
    lstm_forward(batch, n, pre, xproj + t * batch * 4 * n, c, stride, out + t * row);
  }
}

/* res (steps, batch, 5n): rows [d pre-activation gates (4n), d c_{t-1}]; dh: batch * n
   floats, zero on entry; zeros: batch * n zeros */
void lstm_backward_sequence(long steps, long batch, long n, int reverse, const float *g,
                            const float *w_hh, const float *c0, const float *out, float *res,
                            float *dh, const float *zeros, void *gemm_fn) {
  const gemm_float gemm = (gemm_float)gemm_fn;
  const long row = batch * 6 * n, rrow = batch * 5 * n;
  for (long k = 0; k < steps; k++) {  /* the forward's order, reversed */
    const long t = reverse ? k : steps - 1 - k, prev = reverse ? t + 1 : t - 1;
    const int first = k == steps - 1;  /* the forward's first step: c0 came before it */
    const float *c = first ? c0 : out + prev * row + n;
    const float *dc = k ? res + (reverse ? t - 1 : t + 1) * rrow + 4 * n : zeros;
    lstm_backward(batch, n, g + t * row, out + t * row, c, first ? n : 6 * n, dh, dc,
                  k ? 5 * n : n, res + t * rrow);
    if (!first)
      gemm(101, 111, 111, batch, n, 4 * n, 1, res + t * rrow, 5 * n, w_hh, n, 0, dh, n);
  }
}
"""

_LONG, _POINTER = ctypes.c_long, ctypes.c_void_p


@functools.cache
def _library() -> Any:
    """The compiled float32 kernels and NumPy's BLAS, or None where they would not pay (no
    vector libm, no CBLAS GEMM) or cannot be built (no working compiler: ``native.load``
    warns once)."""
    from ember.jit import blas, native  # the jit imports ember.ops: load it only when used

    found = blas.find()
    if found is None or not native.vector_math():
        return None
    lib = native.load(blas.gemm_declaration(found, "float") + _SOURCE)
    if lib is None:
        return None
    lib.lstm_forward_sequence.argtypes = [_LONG] * 3 + [ctypes.c_int] + [_POINTER] * 7
    lib.lstm_backward_sequence.argtypes = [_LONG] * 3 + [ctypes.c_int] + [_POINTER] * 8
    return lib, found.sgemm


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


class NativeCell:
    """The LSTM recurrence of one sequence and direction as one C call on C-contiguous float32
    host arrays; ``ember.ops.fused._ArrayCell`` has the same interface."""

    def __init__(self, lib: Any, gemm: int) -> None:
        self._lib, self._gemm = lib, gemm

    def forward_sequence(
        self, xproj: Any, w_hh: Any, h0: Any, c0: Any, out: Any, reverse: bool
    ) -> None:
        """``out`` (T, B, 6H) = rows [h_t, c_t, i, f, g, o] of every step."""
        steps, batch, gates = xproj.shape
        arrays = [np.ascontiguousarray(a) for a in (xproj, w_hh, h0, c0)]
        work = np.empty(2 * gates * batch, np.float32)
        self._lib.lstm_forward_sequence(
            steps, batch, gates // 4, reverse, *map(_address, [*arrays, out, work]), self._gemm
        )

    def backward_sequence(
        self, g: Any, w_hh: Any, c0: Any, out: Any, res: Any, reverse: bool
    ) -> None:
        """``res`` (T, B, 5H) = rows [d pre-activation gates, d c_{t-1}] of every step."""
        steps, batch, width = out.shape
        arrays = [np.ascontiguousarray(a) for a in (g, w_hh, c0, out)]
        dh, zeros = np.zeros_like(arrays[2]), np.zeros_like(arrays[2])
        self._lib.lstm_backward_sequence(
            steps, batch, width // 6, reverse, *map(_address, [*arrays, res, dh, zeros]), self._gemm
        )


def native_cell(xp: Any, dtype: Any) -> NativeCell | None:
    """The native recurrence for host arrays of ``dtype``, or None where the array code is
    kept."""
    if xp is not np or np.dtype(dtype) != np.float32:
        return None
    found = _library()
    return None if found is None else NativeCell(*found)
