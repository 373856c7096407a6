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
from ember.jit.addresses import NativeCall
from ember.ops.linalg import stack_rows

__all__ = ["matmul", "product_step"]

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


# one product as NumPy's matmul makes it, from a table: the operands, the output, the plan
# (``_plan``), the GEMM and the GEMV
_DIRECT = """
void product_{t}(void **table) {{
  const long *p = (const long *)table[3];
  const {t} *a = (const {t} *)table[0], *b = (const {t} *)table[1];
  {t} *c = ({t} *)table[2];
  for (long i = 0; i < p[1]; i++) {{
    const {t} *ai = a + i * p[2], *bi = b + i * p[3];
    {t} *ci = c + i * p[4];
    if (p[0] == 0)
      ((gemm_{t})table[4])(101, p[5], p[6], p[7], p[8], p[9], 1, ai, p[10], bi, p[11], 0, ci,
                           p[12]);
    else
      ((gemv_{t})table[5])(p[5], 112, p[6], p[7], 1, bi, p[8], ai, p[9], 0, ci, p[10]);
  }}
}}
"""


@functools.cache
def _library() -> Any:
    """The compiled drivers (one per float dtype), or None without a compiler or CBLAS."""
    lib = blas.find()
    if lib is None:
        return None
    types = "".join(
        blas.gemm_declaration(lib, t) + "\n" + blas.gemv_declaration(lib, t) + "\n"
        for t in native.CTYPES.values()
    )
    source = types + "".join((_SOURCE + _DIRECT).format(t=t) for t in native.CTYPES.values())
    compiled = native.load(source)
    if compiled is None:
        return None
    v, i, long_ = ctypes.c_void_p, ctypes.c_int, ctypes.c_long
    for t in native.CTYPES.values():
        fn = getattr(compiled, f"matmul_{t}")
        fn.argtypes = [v, v, v, long_, long_, long_, long_, long_, i, long_, long_, i, long_, v, i]
        fn.restype = None
        direct = getattr(compiled, f"product_{t}")
        direct.argtypes, direct.restype = [v], None
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


_BLAS_MAX = 2**31 - 1  # NumPy hands BLAS no dimension or stride beyond this


def _blasable(outer: int, inner: int, d_inner: int, size: int) -> bool:
    """Whether byte strides (``outer``, ``inner``) make a matrix BLAS can read with no copy:
    unit inner stride, outer stride a whole number of at least ``d_inner`` elements (NumPy's
    own test)."""
    return inner == size and outer % size == 0 and d_inner <= outer // size <= _BLAS_MAX


def _batch_step(x: np.ndarray, batch: tuple[int, ...]) -> int | None:
    """The element stride between ``x``'s matrices broadcast over ``batch``, or None when its
    batch dims (those of more than one matrix) do not flatten to one stride."""
    strides = np.broadcast_to(x, batch + x.shape[-2:]).strides[:-2]
    lead = [(n, st) for n, st in zip(batch, strides) if n != 1]
    if any(st != st2 * n2 for (_, st), (n2, st2) in zip(lead, lead[1:])):
        return None
    step = lead[-1][1] if lead else 0
    return None if step % x.itemsize else step // x.itemsize


def _plan(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> list[int] | None:
    """The BLAS calls ``np.matmul(a, b, out=out)`` makes, as ``product_<type>``'s parameters:
    ``[0, count, batch strides, transposes, M, N, K, leading dims]`` for a GEMM per matrix,
    ``[1, count, batch strides, order, K, N, lda, incx, incy]`` for a vector times a matrix
    (a GEMV); the same routine on the same arguments gives the same bits. None where NumPy
    does something else (a dot, its own loops, copies, SYRK for a matrix times its own
    transpose) or the operands overlap the output: the step then calls ``matmul``."""
    if not out.flags.c_contiguous or not a.dtype == b.dtype == out.dtype:
        return None
    if np.may_share_memory(out, a) or np.may_share_memory(out, b):
        return None
    rows = stack_rows(np, a, b)
    if rows is not None:
        a, out = rows, out.reshape(-1, out.shape[-1])
    if a.ndim < 2 or b.ndim < 2:
        return None
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    (m, k), n, size = a.shape[-2:], b.shape[-1], a.itemsize
    if out.shape != batch + (m, n) or min(m, k, n) == 0 or max(m, k, n) > _BLAS_MAX:
        return None
    steps = [_batch_step(x, batch) for x in (a, b, out)]
    if None in steps:
        return None
    count = int(np.prod(batch, dtype=np.int64))
    (a_m, a_k), (b_k, b_n), o_m = a.strides[-2:], b.strides[-2:], out.strides[-2]
    b_c, b_f = _blasable(b_k, b_n, n, size), _blasable(b_n, b_k, k, size)
    if m == 1 and k > 1 and n > 1:  # a vector times a matrix: NumPy's GEMV
        if not (b_c or b_f) or not _blasable(a_k, size, 1, size):
            return None
        order, lda = (102, b_n // size) if b_f else (101, b_k // size)
        return [1, count, *steps, order, k, n, lda, a_k // size, 1]
    if 1 in (m, k, n):
        return None
    a_c, a_f = _blasable(a_m, a_k, k, size), _blasable(a_k, a_m, m, size)
    if not (a_c or a_f) or not (b_c or b_f):
        return None
    if np.may_share_memory(a, b) and m == n and (a_m, a_k) == (b_n, b_k) and a_c != b_c:
        return None  # (possibly) NumPy's SYRK
    ta, lda = (111, a_m // size) if a_c else (112, a_k // size)
    tb, ldb = (111, b_k // size) if b_c else (112, b_n // size)
    return [0, count, *steps, ta, tb, m, n, k, lda, ldb, o_m // size]


def product_step(a_slot: int, b_slot: int, out_slot: int, dtype: Any) -> NativeCall | None:
    """A step computing ``env[a_slot] @ env[b_slot]`` into the buffer ``env[out_slot]`` with
    the BLAS call NumPy's matmul would make, from C (``_plan``); where ``_plan`` finds none,
    through ``matmul``. None without a compiler or CBLAS, or for a dtype BLAS lacks."""
    lib, found = _library(), blas.find()
    name = np.dtype(dtype).name
    if lib is None or name not in native.CTYPES:
        return None
    single = name == "float32"
    table = (ctypes.c_void_p * 6)()
    params = (ctypes.c_long * 13)()
    table[3] = ctypes.addressof(params)
    table[4], table[5] = (found.sgemm, found.sgemv) if single else (found.dgemm, found.dgemv)
    slots = (a_slot, b_slot, out_slot)
    step = NativeCall(None, getattr(lib, f"product_{native.CTYPES[name]}"), table, slots)

    def run(env: list[Any], **_: Any) -> None:
        step.last = None
        a, b, out = env[a_slot], env[b_slot], env[out_slot]
        plan = _plan(a, b, out) if type(a) is type(b) is np.ndarray else None
        if plan is None:
            env[out_slot] = matmul(np, a, b, out=out)
            return
        params[: len(plan)] = plan
        table[0], table[1], table[2] = a.ctypes.data, b.ctypes.data, out.ctypes.data
        step.kernel(table)
        step.last = (a, b, out)

    step.run = run
    return step
