"""The jit's matrix product on the host (``MatMul``'s lowering, for the executor's ``ALLOC``
and ``INTO`` steps alike).

A stack of matrices times one matrix (nn.Linear on a sequence) is one GEMM of all the stack's
rows, where NumPy runs one per matrix. While OpenBLAS is held at one thread
(``ember.jit.blas.hold``: a step with native convolutions) the product is cut into one block
per thread, each a GEMM of NumPy's BLAS on its own OpenMP thread, so the step keeps one pool
of threads. Outside a hold, at one thread, or for operands the cut does not cover (other
dtypes, batch dims that do not flatten to one stride, matrices with no unit stride) the
product is ``np.matmul``'s.
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

import numpy as np

from ember.jit import blas, native
from ember.ops.linalg import stack_rows

__all__ = ["matmul"]

_MIN_FLOPS = 1 << 20  # smaller products run on one thread: a fork costs more than it saves
_SOURCE = """
void matmul_{t}(const {t} *a, const {t} *b, {t} *c, long batch, long m, long n, long k,
                long sa, int ta, long lda, long sb, int tb, long ldb, void *gemm_fn,
                int threads) {{
  const gemm_{t} gemm = (gemm_{t})gemm_fn;
  if (batch >= threads || threads == 1) {{
    #pragma omp parallel for schedule(static) num_threads(threads) if(threads > 1)
    for (long i = 0; i < batch; i++)
      gemm(101, ta, tb, m, n, k, 1, a + i * sa, lda, b + i * sb, ldb, 0, c + i * m * n, n);
    return;
  }}
  const int cols = n >= m;  /* split the longer side of the result */
  const long side = cols ? n : m, part = ((side + threads - 1) / threads + 15) / 16 * 16;
  for (long i = 0; i < batch; i++) {{
    #pragma omp parallel for schedule(static) num_threads(threads)
    for (long p = 0; p < threads; p++) {{
      const long lo = p * part, w = side - lo < part ? side - lo : part;
      if (w <= 0) continue;
      const {t} *ai = a + i * sa, *bi = b + i * sb;
      {t} *ci = c + i * m * n;
      if (cols)
        gemm(101, ta, tb, m, w, k, 1, ai, lda, bi + (tb == 111 ? lo : lo * ldb), ldb, 0,
             ci + lo, n);
      else
        gemm(101, ta, tb, w, n, k, 1, ai + (ta == 111 ? lo * lda : lo), lda, bi, ldb, 0,
             ci + lo * n, n);
    }}
  }}
}}
"""


@functools.cache
def _library() -> Any:
    """The compiled drivers (one per float dtype), or None without a compiler or CBLAS."""
    lib = blas.find()
    if lib is None:
        return None
    types = "".join(blas.gemm_declaration(lib, t) + "\n" for t in native.CTYPES.values())
    source = types + "".join(_SOURCE.format(t=t) for t in native.CTYPES.values())
    compiled = native.load(source)
    if compiled is None:
        return None
    v, i, long_ = ctypes.c_void_p, ctypes.c_int, ctypes.c_long
    for t in native.CTYPES.values():
        fn = getattr(compiled, f"matmul_{t}")
        fn.argtypes = [v, v, v, long_, long_, long_, long_, long_, i, long_, long_, i, long_, v, i]
        fn.restype = None
    return compiled


def _matrices(x: np.ndarray, batch: tuple) -> tuple[int, int, int] | None:
    """(batch stride, CBLAS transpose flag, leading dimension) of ``x``'s matrices broadcast
    over ``batch``, in elements; None when they are not one strided sequence of matrices with
    a unit stride."""
    size = x.itemsize
    lead = np.broadcast_to(x, batch + x.shape[-2:]).strides[:-2]
    rows, cols = x.strides[-2:]
    if cols == size and rows % size == 0 and rows >= max(size, cols * x.shape[-1]):
        flag, ld = 111, rows // size
    elif rows == size and cols % size == 0 and cols >= max(size, rows * x.shape[-2]):
        flag, ld = 112, cols // size
    else:
        return None
    step = lead[-1] if lead else 0
    for d in range(len(lead) - 1):  # flattening the batch needs one stride throughout
        if lead[d] != lead[d + 1] * batch[d + 1]:
            return None
    return step // size, flag, ld


def matmul(xp: Any, a: Any, b: Any, out: Any = None) -> Any:
    """``a @ b`` (into ``out`` when given) on the host: a stack times one matrix as one
    product of all its rows, cut across the held threads (``blas.hold``) when there are any."""
    if xp is not np:
        return xp.matmul(a, b, out=out)
    rows = stack_rows(np, a, b)
    if rows is None:
        return _product(a, b, out)
    into = out.reshape(-1, b.shape[-1]) if out is not None and out.flags.c_contiguous else None
    res = _product(rows, b, into).reshape(a.shape[:-1] + b.shape[-1:])
    if out is None:
        return res
    if into is None:
        out[...] = res
    return out


def _product(a: np.ndarray, b: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    """``np.matmul(a, b, out=out)``, cut across the held threads where it covers the operands."""
    threads = blas.held()
    if (
        threads < 2
        or a.dtype != b.dtype
        or a.dtype.name not in native.CTYPES
        or a.ndim < 2
        or b.ndim < 2
    ):
        return np.matmul(a, b, out=out)
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    count = int(np.prod(batch, dtype=np.int64))
    lib = _library() if 2 * m * n * k * count >= _MIN_FLOPS else None
    left, right = _matrices(a, batch), _matrices(b, batch)
    if lib is None or left is None or right is None or min(m, n, k) == 0:
        return np.matmul(a, b, out=out)
    res = out
    if res is None or not res.flags.c_contiguous:
        res = np.empty(batch + (m, n), a.dtype)
    gemms = blas.find()
    gemm = gemms.sgemm if a.dtype == np.float32 else gemms.dgemm
    fn = getattr(lib, f"matmul_{native.CTYPES[a.dtype.name]}")
    fn(a.ctypes.data, b.ctypes.data, res.ctypes.data, count, m, n, k, *left, *right, gemm, threads)
    if out is not None and res is not out:
        out[...] = res
        return out
    return res
