"""Native C kernels for the gate math of one LSTM time step (``ember.ops.fused.LSTMSequence``).

A step of the recurrence is one GEMM, h_{t-1} W_hhᵀ (BLAS, through NumPy), and elementwise
gate math that NumPy spends about ten passes over (B, H)-sized arrays on. Here each direction
of that math is one C loop per step:

- ``forward``: from the GEMM's result and the step's input projection, the activations
  i, f, g, o, the cell c_t and the output h_t, written into the step's output row;
- ``backward``: from the step's output gradients and the gradients carried back from step
  t + 1, the pre-activation gate gradients and d c_{t-1}.

The library is compiled once per process with the jit's toolchain and disk cache
(``ember.jit.native.load``). Only float32 runs natively, and only when the compiler has vector
libm (``native.vector_math``: expf and tanhf within 4 ulp, a vector of lanes per call): the
rule the jit applies to its own kernels with exp or tanh. Float64 would call scalar libm,
which loses to NumPy's vectorised float64 loops (the forward measured 1.6x slower). Anything
else (no compiler, other dtypes, arrays not on the host) gets None from ``native_cell`` and
keeps the array code.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["NativeCell", "native_cell"]

_SOURCE = """
void lstm_forward(long batch, long n, const float *restrict pre, const float *restrict x,
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

void lstm_backward(long batch, long n, const float *restrict grad, const float *restrict row,
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
"""

_LONG, _POINTER = ctypes.c_long, ctypes.c_void_p


@functools.cache
def _library() -> Any:
    """The compiled float32 kernels, or None where they would not pay (no vector libm) or
    cannot be built (no working compiler: ``native.load`` warns once)."""
    from ember.jit import native  # the jit package imports ember.ops: load it only when used

    lib = native.load(_SOURCE) if native.vector_math() else None
    if lib is not None:
        lib.lstm_forward.argtypes = [_LONG, _LONG, *[_POINTER] * 3, _LONG, _POINTER]
        lib.lstm_backward.argtypes = [_LONG, _LONG, *[_POINTER] * 3, _LONG, *[_POINTER] * 2,
                                      _LONG, _POINTER]  # fmt: skip
    return lib


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def _cell_states(c0: np.ndarray, out: np.ndarray) -> Callable[[int | None], tuple[int, int]]:
    """``prev`` -> the address and row stride of c_{t-1}: the c part of row ``prev`` of
    ``out``, or ``c0`` if None."""
    n, c0_at, row = c0.shape[1], _address(c0), out.strides[0]
    first = _address(out) + n * out.itemsize
    return lambda prev: (c0_at, n) if prev is None else (first + prev * row, 6 * n)


class NativeCell:
    """One LSTM step's gate math as one C call on C-contiguous float32 host arrays.

    ``forward_steps`` and ``backward_steps`` bind a sequence's arrays (the caller keeps them
    alive while it steps) and return the function that runs step ``t``. Each step's
    addresses are offsets from the arrays' base addresses: asking NumPy for a view's address
    costs microseconds, as much as half the step's kernel for several views. The array code
    in ``ember.ops.fused`` has the same interface.
    """

    def __init__(self, lib: Any) -> None:
        self._lib = lib

    def forward_steps(self, pre: Any, xproj: Any, c0: Any, out: Any) -> Callable:
        """``step(t, prev)``: ``out[t]`` = [h_t, c_t, i, f, g, o] from the GEMM result
        ``pre`` (B, 4H), ``xproj[t]`` and c_{t-1}: row ``prev``'s, or ``c0`` if None."""
        batch, n = c0.shape
        fn, c_prev = self._lib.lstm_forward, _cell_states(c0, out)
        pre_at, x_at, out_at = _address(pre), _address(xproj), _address(out)
        x_row, out_row = xproj.strides[0], out.strides[0]

        def step(t: int, prev: int | None) -> None:
            fn(batch, n, pre_at, x_at + t * x_row, *c_prev(prev), out_at + t * out_row)

        return step

    def backward_steps(self, g: Any, out: Any, c0: Any, dh_next: Any, res: Any) -> Callable:
        """``step(t, prev, later)``: ``res[t]`` = [d pre-activation gates, d c_{t-1}] from
        ``g[t]``, ``out[t]``, c_{t-1} (as in ``forward_steps``), ``dh_next`` (B, H) and the
        d c_t that row ``later`` of ``res`` carries back (zero if None)."""
        batch, n = c0.shape
        fn, c_prev, zeros = self._lib.lstm_backward, _cell_states(c0, out), np.zeros_like(c0)
        g_at, out_at, res_at, dh_at = _address(g), _address(out), _address(res), _address(dh_next)
        g_row, out_row, res_row = g.strides[0], out.strides[0], res.strides[0]
        dc_part = 4 * n * res.itemsize  # where d c_{t-1} sits in a row of res

        def step(t: int, prev: int | None, later: int | None) -> None:
            if later is None:  # the first step visited: nothing flows back into it
                dc, dc_stride = _address(zeros), n
            else:
                dc, dc_stride = res_at + later * res_row + dc_part, 5 * n
            fn(batch, n, g_at + t * g_row, out_at + t * out_row, *c_prev(prev), dh_at, dc,
               dc_stride, res_at + t * res_row)  # fmt: skip

        return step


def native_cell(xp: Any, dtype: Any) -> NativeCell | None:
    """The native step kernels for host arrays of ``dtype``, or None where the array code is
    kept."""
    if xp is not np or np.dtype(dtype) != np.float32:
        return None
    lib = _library()
    return None if lib is None else NativeCell(lib)
