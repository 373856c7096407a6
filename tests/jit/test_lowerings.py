"""Every primitive's lowerings (``Primitive.write``, ``c``, ``cuda``), checked where they live:
each elementwise primitive has C and CUDA expressions or says why not; each C expression, compiled
with the native executor's toolchain, equals the NumPy forward on edge values (signed zeros,
infinities, NaN, halves); each CUDA expression compiles with nvcc; each ``write`` equals
``forward``."""

from __future__ import annotations

import ctypes
import itertools
import shutil
import subprocess

import numpy as np
import pytest

import ember  # noqa: F401  (registers every primitive)
from ember.jit import native
from ember.ops.core import ELEMENTWISE, PRIMITIVES
from ember.ops.elementwise import Binary, Where

ELEMENTWISE_PRIMS = sorted(n for n, p in PRIMITIVES.items() if p.kind == ELEMENTWISE)
# params of the primitives that take some: every variant is lowered and checked
PARAMS = {
    "Clamp": [{"min": -1.0, "max": 1.5}, {"min": -1.0}, {"max": 0.5}, {"min": 2.0, "max": 1.0}],
}
EDGES = [-np.inf, -1e30, -2.5, -1.5, -1.0, -0.5, -1e-30, -0.0, 0.0, 1e-30, 0.3, 0.5, 1.0, 1.5,
         2.5, 3.0, 1e30, np.inf, np.nan]  # fmt: skip
CTYPES = ("float32", "float64")  # the dtypes fused kernels compute in


def _arity(name: str) -> int:
    if PRIMITIVES[name] is Where:
        return 3
    return 2 if issubclass(PRIMITIVES[name], Binary) else 1


def _lowered(name: str, target: str) -> bool:
    refs = ["a", "b", "c"][: _arity(name)]
    variants = PARAMS.get(name, [{}])
    return all(PRIMITIVES[name].expression(target, refs, p) is not None for p in variants)


LOWERED = [n for n in ELEMENTWISE_PRIMS if _lowered(n, "c")]


def _cases() -> list[tuple[str, dict]]:
    return [(n, p) for n in LOWERED for p in PARAMS.get(n, [{}])]


def _operands(name: str, dtype: str) -> list[np.ndarray]:
    """Every edge value (unary), every pair of edge values (binary), or both conditions with
    every pair (``where``)."""
    if _arity(name) == 1:
        return [np.array(EDGES, dtype=dtype)]
    pairs = np.array(list(itertools.product(EDGES, EDGES)), dtype=dtype)
    operands = [pairs[:, 0].copy(), pairs[:, 1].copy()]
    if _arity(name) == 3:
        cond = np.repeat([False, True], len(pairs))
        operands = [cond, *(np.tile(a, 2) for a in operands)]
    return operands


def test_every_elementwise_primitive_is_lowered_or_says_why_not() -> None:
    for name in ELEMENTWISE_PRIMS:
        reason = PRIMITIVES[name].no_lowering
        if _lowered(name, "c") and _lowered(name, "cuda"):
            assert not reason, f"{name}: lowered, yet no_lowering says why not"
        else:
            assert reason, f"{name}: no C/CUDA lowering and no reason in no_lowering"
    # what the reference training steps fuse (the Adam update, softmax, norms, GELU) has one
    fused = {"Add", "Sub", "Mul", "Div", "Neg", "Exp", "Log", "Sqrt", "Rsqrt", "Tanh", "Sigmoid",
             "Relu", "Maximum", "Minimum", "Pow", "Abs", "Reciprocal", "Erf"}  # fmt: skip
    assert fused <= set(LOWERED), sorted(fused - set(LOWERED))


def _output(name: str, params: dict, args: list[np.ndarray]) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(PRIMITIVES[name].forward(np, *args, **params))


def _signature(name: str, params: dict, dtype: str) -> tuple[str, str]:
    """The parameters ``(a, b, c, o, n)`` of a kernel of the primitive on ``dtype`` operands,
    each operand and the output of its own C type (booleans: bytes), and its expression on
    element ``i`` of them."""
    args = _operands(name, dtype)
    ctypes_ = [native.value_ctype(a.dtype) for a in args]
    ctypes_ += [ctypes_[-1]] * (3 - len(args))  # operands a kernel of lower arity ignores
    out = native.value_ctype(_output(name, params, args).dtype)
    a, b, c = (f"const {t} *{r}" for t, r in zip(ctypes_, "abc"))
    refs = ["a[i]", "b[i]", "c[i]"][: _arity(name)]
    return f"{a}, {b}, {c}, {out} *o, long n", PRIMITIVES[name].expression("c", refs, params)


def _c_library(dtype: str) -> ctypes.CDLL:
    functions = []
    for k, (name, params) in enumerate(_cases()):
        signature, expr = _signature(name, params, dtype)
        functions.append(
            f"void f{k}({signature}) {{\n  for (long i = 0; i < n; i++) o[i] = {expr};\n}}"
        )
    lib = native.load("\n".join(functions))
    if lib is None:
        pytest.skip("no working C compiler for the native executor")
    return lib


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_each_c_expression_equals_the_numpy_forward(dtype: str) -> None:
    lib = _c_library(dtype)
    for k, (name, params) in enumerate(_cases()):
        prim = PRIMITIVES[name]
        args = _operands(name, dtype)
        expected = _output(name, params, args)
        out = np.empty_like(expected)
        padded = args + [args[-1]] * (3 - len(args))  # a kernel of lower arity ignores them
        ptrs = [ctypes.c_void_p(a.ctypes.data) for a in (*padded, out)]
        getattr(lib, f"f{k}")(*ptrs, ctypes.c_long(out.size))
        what = f"{name}{params or ''} in C, {dtype}"
        if prim.libm:  # libm and NumPy's SIMD kernels may differ in the last places
            rtol = 4 * np.finfo(dtype).eps
            np.testing.assert_allclose(out, expected, rtol=rtol, atol=0, err_msg=what)
        else:  # exact, signed zeros included
            np.testing.assert_array_equal(
                out.view(f"u{out.itemsize}"), expected.view(f"u{out.itemsize}"), err_msg=what
            )


def test_each_cuda_expression_compiles(tmp_path) -> None:
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("needs nvcc (CUDA's compiler) to compile the CUDA lowerings")
    kernels = []
    for dtype in CTYPES:
        for k, (name, params) in enumerate(_cases()):
            signature, _ = _signature(name, params, dtype)
            refs = ["a[i]", "b[i]", "c[i]"][: _arity(name)]
            expr = PRIMITIVES[name].expression("cuda", refs, params)
            kernels.append(
                f'extern "C" __global__ void {name}_{k}_{dtype}({signature}) {{\n'
                "  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;\n"
                f"  if (i < n) o[i] = {expr};\n}}"
            )
    source = tmp_path / "lowerings.cu"
    source.write_text("\n".join(kernels) + "\n")
    built = subprocess.run(
        [nvcc, "--ptx", "-o", str(tmp_path / "lowerings.ptx"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-4000:]


@pytest.mark.parametrize("name", sorted(n for n, p in PRIMITIVES.items() if p.write is not None))
def test_each_write_equals_forward(name: str) -> None:
    prim = PRIMITIVES[name]
    if prim.kind != ELEMENTWISE:  # MatMul: BLAS into a buffer
        a, b = np.random.default_rng(0).standard_normal((2, 3, 4, 4))
        args = [a, b]
    else:
        args = _operands(name, "float64")
    with np.errstate(all="ignore"):
        expected = np.asarray(prim.forward(np, *args))
        out = np.empty_like(expected)
        prim.write(np, *args, out=out)
    np.testing.assert_array_equal(out, expected, err_msg=name)
