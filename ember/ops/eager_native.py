"""Native C loops for eager ops on host arrays, where NumPy needs several passes: ``where``
(``ember.ops.elementwise.Where``), float32 ``erf`` (``Erf``) and ``sigmoid`` (``Sigmoid``).

- **where.** NumPy's ``where`` branches per element; on an unpredictable mask (LeakyReLU's
  ``x > 0``, its backward on the saved mask, dropout) the branch-free bitwise blend of
  ``elementwise`` is the faster NumPy form, but it still makes five passes over the data. One
  C loop reads the mask, both operands and writes the result once, as the jit's fused kernels
  do (a blend, every value copied bit for bit: NaN payloads, -0.0). The kernels take a
  full-size mask whose elements fill one block of memory (in C order or, like a
  convolution's output, in another order of its dims) and operands that are each laid out
  like it or a single element (the zero a backward where blends with), in float32 or float64.
- **erf.** NumPy has no erf; ``elementwise._erf_float32`` computes it in about twenty NumPy
  passes. One loop over glibc's vector ``erff`` (libmvec, within 4 ulp; measured within 2
  ulp of float64's erf, as the NumPy form is) does it 27x faster on GELU's (12, 64, 512)
  input. As the jit's own kernels, only with vector libm (``native.vector_math``).
- **sigmoid.** NumPy's form negates, exponentiates, adds and inverts in four passes; one loop
  over vector ``expf`` computes the jit's own C expression for it, in the input's layout.

``native_where`` and ``native_unary`` return None where their kernels do not apply, and the
caller keeps NumPy. The library is compiled once per process with the jit's toolchain and disk
cache (``ember.jit.native.load``); without a compiler (or, for erf and sigmoid, vector libm)
it is None.
"""

from __future__ import annotations

import ctypes
import functools
import itertools

import numpy as np

__all__ = ["native_unary", "native_where"]

_CTYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}


def _kernel(ctype: str, a_full: bool, b_full: bool) -> str:
    name = f"where_{ctype}_{int(a_full)}{int(b_full)}"
    a, b = ("a[i]" if a_full else "a[0]"), ("b[i]" if b_full else "b[0]")
    # both operands are read before the blend: GCC does not vectorise a read made under the
    # condition (a masked load) here
    return (
        f"void {name}(long n, const unsigned char *restrict c, const {ctype} *restrict a,\n"
        f"    const {ctype} *restrict b, {ctype} *restrict o) {{\n"
        "  #pragma omp simd\n"
        "  for (long i = 0; i < n; i++) {\n"
        f"    const {ctype} x = {a}, y = {b};\n"
        "    o[i] = c[i] ? x : y;\n"
        "  }\n"
        "}\n"
    )


# float32 unary ops over vector libm: the jit's C expressions for them
_UNARY = {"erf": "erf(x[i])", "sigmoid": "(1 / (1 + exp(-x[i])))"}
_UNARY_SOURCE = """
void {name}_float(long n, const float *restrict x, float *restrict o) {{
  #pragma omp simd
  for (long i = 0; i < n; i++) o[i] = {expression};
}}
"""


@functools.cache
def _library() -> tuple[dict, dict] | None:
    """(the where kernels by (C type, a full, b full), the float32 unary kernels by name:
    none without vector libm), or None without a working compiler (``native.load`` warns
    once)."""
    from ember.jit import native  # the jit package imports ember.ops: load it only when used

    variants = list(itertools.product(_CTYPES.values(), (False, True), (False, True)))
    vector = native.vector_math()
    unary = "".join(
        _UNARY_SOURCE.format(name=name, expression=expression)
        for name, expression in _UNARY.items()
    )
    lib = native.load("\n".join(_kernel(*v) for v in variants) + (unary if vector else ""))
    if lib is None:
        return None
    kernels = {}
    for ctype, a_full, b_full in variants:
        fn = getattr(lib, f"where_{ctype}_{int(a_full)}{int(b_full)}")
        fn.argtypes = [ctypes.c_long, *[ctypes.c_void_p] * 4]
        fn.restype = None
        kernels[ctype, a_full, b_full] = fn
    unaries = {name: getattr(lib, f"{name}_float") for name in _UNARY} if vector else {}
    for fn in unaries.values():
        fn.argtypes, fn.restype = [ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p], None
    return kernels, unaries


def _layout(x: np.ndarray) -> tuple[int, ...] | None:
    """The element strides of ``x`` if its elements fill one block of memory in some order of
    its dims (C order, or a convolution's (C, N, H, W) memory seen as (N, C, H, W)), else
    None."""
    strides = [st // x.itemsize for st in x.strides]
    step = 1
    for d in sorted(range(x.ndim), key=lambda d: strides[d]):
        if x.shape[d] != 1:
            if strides[d] != step:
                return None
            step *= x.shape[d]
    return tuple(st if n != 1 else 0 for st, n in zip(strides, x.shape))


def _operand(x: np.ndarray, shape: tuple[int, ...], layout: tuple[int, ...]) -> bool | None:
    """True for an operand of the full ``shape`` in the mask's ``layout``, False for a single
    element, None otherwise."""
    if x.shape == shape and _layout(x) == layout:
        return True
    return False if x.size == 1 else None


def native_where(
    c: np.ndarray, a: np.ndarray, b: np.ndarray, shape: tuple[int, ...]
) -> np.ndarray | None:
    """``where(c, a, b)`` broadcast to ``shape`` by one C loop over memory, the result in the
    mask's layout (as NumPy's), or None where the kernels do not apply (see the module
    docstring)."""
    ctype = _CTYPES.get(a.dtype)
    layout = _layout(c) if c.shape == shape else None
    if ctype is None or b.dtype != a.dtype or layout is None:
        return None
    a_full, b_full = _operand(a, shape, layout), _operand(b, shape, layout)
    if a_full is None or b_full is None:
        return None
    found = _library()
    if found is None:
        return None
    out = np.empty_like(c, dtype=a.dtype)
    addresses = [x.ctypes.data for x in (c, a, b, out)]
    found[0][ctype, a_full, b_full](c.size, *addresses)
    return out


def native_unary(name: str, x: np.ndarray) -> np.ndarray | None:
    """float32 ``erf`` or ``sigmoid`` of a host array by one loop over vector libm, the
    result in ``x``'s layout (any order of dims filling one block, as NumPy's), or None
    (another dtype, no compiler or no vector libm)."""
    found = _library() if x.dtype == np.float32 else None
    if found is None or name not in found[1]:
        return None
    if _layout(x) is None:
        x = x.copy(order="C")  # (ascontiguousarray makes 0-d 1-d)
    out = np.empty_like(x)
    if out.strides != x.strides:
        x, out = x.copy(order="C"), np.empty(x.shape, x.dtype)
    found[1][name](x.size, x.ctypes.data, out.ctypes.data)
    return out
