"""The native executor's code generator: one C kernel per fused elementwise group.

``kernel_source`` writes a loop over the group's elements (float32 or float64; inputs indexed
contiguously or through their broadcast strides; scalar constants inlined as exact hex
literals), parallelised with OpenMP from ``ember.config.jit_parallel_min`` elements. A group
with reduction epilogues (``Group.reductions``) loops over rows or blocks of columns instead and
adds each sum's terms into double accumulators as it computes them: float32 sums come out at
least as accurate as NumPy's pairwise ones, and a summed value is stored only if another op
reads it.
``load`` compiles the kernels of a graph into one shared library with the system C compiler
(``cc``, or ``EMBER_CC``; ``-O3 -march=native``) and loads it with ctypes. Libraries are
cached on disk in ``cache_dir()`` (default ``~/.cache/ember/jit``), keyed by a hash of the
source, the compiler, its version, the flags and the CPU; each entry stores its size and
SHA-256 next to it, and an entry that fails that check or fails to load is rebuilt.
Without a working compiler ``load`` returns None after a one-line warning, and the caller
runs the groups with NumPy.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ember.config import cache_root, config
from ember.jit.fusion import Group, Split
from ember.jit.graph import Graph
from ember.ops.core import c_literal
from ember.ops.reduce import Amax

__all__ = [
    "CTYPES",
    "value_ctype",
    "broadcast_index",
    "members",
    "operands",
    "kernel_source",
    "strided_kernel_source",
    "load",
    "cache_dir",
    "compiler",
    "vector_math",
    "FLAGS",
]

# -fno-math-errno and the simd pragmas let the compiler vectorise the loops: errno writes
# (sqrt, log, …) and possible aliasing of the pointers otherwise keep them scalar, 5x slower
# than the vector code on an Adam update (see docs/jit.md)
FLAGS = ("-O3", "-march=native", "-shared", "-fPIC", "-std=c99", "-fno-math-errno", "-fopenmp-simd")
CTYPES = {"float32": "float", "float64": "double"}  # the C type of each dtype kernels handle
BOOL_CTYPE = "unsigned char"  # a kernel's booleans, as NumPy holds them: a byte, 0 or 1
# The float libm functions kernels call (<tgmath.h> picks them for float operands), declared
# with vector variants when the C library has them (glibc's libmvec, x86-64: 16 floats per
# call with AVX-512, within 4 ulp). Double stays on scalar libm: correctly rounded to ~1 ulp,
# which float64 results are compared at.
_VECTOR_MATH = {
    "expf": "float", "logf": "float", "tanhf": "float", "sinf": "float", "cosf": "float",
    "log1pf": "float", "expm1f": "float", "erff": "float", "powf": "float, float",
}  # fmt: skip
_VECTOR_DECLARATIONS = "".join(
    f'__attribute__((simd("notinbranch"))) float {name}({args});\n'
    for name, args in _VECTOR_MATH.items()
)
BLOCK = 256  # columns summed at once by a sum over leading axes


def compiler() -> str | None:
    """The C compiler to use: ``$EMBER_CC`` (a path or a name on PATH), else cc or gcc."""
    name = os.environ.get("EMBER_CC")
    if name:
        return shutil.which(name)
    return shutil.which("cc") or shutil.which("gcc")


def cache_dir() -> Path:
    """Where compiled kernels are kept: ``ember.config.jit_cache_dir``, else
    ``cache_root() / "jit"``."""
    folder = config.jit_cache_dir
    return Path(folder) if folder is not None else cache_root() / "jit"


def broadcast_index(shape: tuple[int, ...], full: tuple[int, ...], i: str = "i") -> str:
    """The C index into a contiguous input of ``shape`` broadcast to ``full`` at element ``i``."""
    size = int(np.prod(shape, dtype=np.int64))
    if size == 1:
        return "0"
    shape = (1,) * (len(full) - len(shape)) + tuple(shape)
    if shape == full:
        return i
    n = len(full)
    k = 0  # leading broadcast dims followed by the full trailing dims: i % size
    while k < n and shape[k] == 1:
        k += 1
    if shape[k:] == full[k:]:
        return f"({i} % {size}L)"
    terms, stride, inner = [], 1, 1
    for d in reversed(range(n)):
        if shape[d] != 1:
            terms.append(f"(({i} / {inner}L) % {full[d]}L) * {stride}L")
            stride *= shape[d]
        inner *= full[d]
    return "(" + " + ".join(terms) + ")"


def _padded(shape: tuple[int, ...], n: int) -> tuple[int, ...]:
    return (1,) * (n - len(shape)) + tuple(shape)


def inner_split(shapes: list[tuple[int, ...]], full: tuple[int, ...]) -> int:
    """The first dim of the longest trailing block of ``full`` over which every C-contiguous
    input of ``shapes`` is either whole (contiguous with the output) or constant (broadcast):
    the inner loop of a loop nest whose broadcast reads are hoisted out of it."""
    return layout_cut([_broadcast_strides(s, full) for s in shapes], full)


def _broadcast_strides(shape: tuple[int, ...], full: tuple[int, ...]) -> tuple[int, ...]:
    """Element strides of a C-contiguous array of ``shape`` broadcast to ``full``."""
    strides, step = [], 1
    for n in reversed(_padded(shape, len(full))):
        strides.append(0 if n == 1 else step)
        step *= n
    return tuple(reversed(strides))


def value_ctype(dtype: Any) -> str:
    """The C type of a kernel's values of ``dtype`` (ember's or NumPy's): its float type, or a
    byte for a boolean."""
    return BOOL_CTYPE if dtype.name == "bool" else CTYPES[dtype.name]


def operands(group: Group, graph: Graph) -> tuple[dict, list[str], list[int]]:
    """(C name of each input value, the input parameters, the values passed as pointers):
    scalar constants are inlined as literals, every other input is a pointer ``a<k>``."""
    names: dict[int, str] = {}
    params: list[str] = []
    pointers: list[int] = []
    for v in group.inputs:
        ctype = value_ctype(graph.avals[v].dtype)
        const = graph.constants.get(v)
        if const is not None and const.size == 1:
            names[v] = f"(({ctype}){c_literal(np.asarray(const).item())})"
            continue
        params.append(f"const {ctype} *a{len(pointers)}")
        names[v] = f"x{len(pointers)}"
        pointers.append(v)
    return names, params, pointers


def members(group: Group, graph: Graph, names: dict[int, str], target: str = "c") -> list[str]:
    """One C (or CUDA, ``target``) statement per member node (``names`` gains each node's
    value)."""
    lines = []
    for i in group.nodes:
        node = graph.nodes[i]
        expr = node.prim.expression(target, [names[v] for v in node.inputs], node.params)
        lines.append(f"const {value_ctype(graph.avals[node.out].dtype)} t{node.out} = {expr};")
        names[node.out] = f"t{node.out}"
    return lines


def kernel_source(
    name: str, group: Group, graph: Graph, parallel_min: int | None = None
) -> tuple[str, list[int]]:
    """C source of a function ``name`` computing ``group`` on C-contiguous operands; and the
    values passed as pointers (the group's inputs other than inlined scalar constants), before
    its outputs. Loops run on every core from ``parallel_min`` elements (default
    ``ember.config.jit_parallel_min``)."""
    size = int(np.prod(group.shape, dtype=np.int64))
    names, params, pointers = operands(group, graph)
    types = [value_ctype(graph.avals[v].dtype) for v in pointers]
    shapes = [graph.avals[v].shape for v in pointers]
    if group.split is None:
        cut = inner_split(shapes, group.shape)
        nest = 0 < cut < len(group.shape) and any(
            broadcast_index(s, group.shape) != "i" for s in shapes
        )
    else:  # loops over rows (or down columns): reads constant along a row are hoisted too
        cut = _first_dim(group.shape, group.split.inner)
        nest = inner_split(shapes, group.shape) <= cut
    hoisted, body = (_nest_reads if nest else _flat_reads)(types, shapes, group.shape, cut)
    body += members(group, graph, names)
    sums = [(graph.nodes[r].out, names[graph.nodes[r].inputs[0]]) for r in group.reductions]
    summed = {v for v, _ in sums}
    maxima = {graph.nodes[r].out for r in group.reductions if graph.nodes[r].prim is Amax}
    for k, v in enumerate(group.outputs):
        params.append(f"{value_ctype(graph.avals[v].dtype)} *o{k}")
        if v in summed:
            names[v] = f"o{k}"
        else:
            body.append(f"o{k}[i] = {names[v]};")
    if group.split is not None:
        accs = [(f"s{k}", x, names[v]) for k, (v, x) in enumerate(sums) if v not in maxima]
        if group.split.kind == Split.ROWS:
            tops = [(f"m{k}", x, names[v]) for k, (v, x) in enumerate(sums) if v in maxima]
            ctype = value_ctype(group.dtype)
            loop = _rows_loop(group.split, hoisted, body, accs, parallel_min, tops, ctype)
        else:
            loop = _columns_loop(group.split, hoisted, body, accs)
    elif nest:
        inner = int(np.prod(group.shape[cut:], dtype=np.int64))
        loop = _nested_loop(size, inner, hoisted, body, parallel_min)
    else:
        loop = _flat_loop(size, body, parallel_min)
    lines = [f"void {name}({', '.join(params)}) {{", *(f"  {line}" for line in loop), "}"]
    return "\n".join(lines), pointers


def strided_kernel_source(
    name: str,
    group: Group,
    graph: Graph,
    strides: list[tuple[int, ...]],
    parallel_min: int | None = None,
) -> str:
    """C source of ``name`` computing ``group`` (no reductions) on operands of any memory
    layout: ``strides`` holds each pointer input's, then each output's, element strides
    broadcast to the group's shape (0 along broadcast dims). A convolution's output, say, is
    (N, C, H, W) over (C, N, H, W) memory: read in place, not first copied to C order.

    The inner loop runs over the longest trailing block that every operand reads contiguously
    or not at all (then the read is hoisted out of it); the rows outside it are visited in the
    first output's memory order (a (C, N, H, W)-ordered output: channel-major), and their
    offsets use literal strides.
    """
    full = group.shape
    names, params, pointers = operands(group, graph)
    strides = [tuple(0 if n == 1 else st for n, st in zip(full, s)) for s in strides]
    cut = layout_cut(strides, full)
    inner = int(np.prod(full[cut:], dtype=np.int64))
    order = sorted(range(cut), key=lambda d: -abs(strides[len(pointers)][d]))  # outermost first
    hoisted, body = [], []
    for k, st in enumerate(strides[: len(pointers)]):
        base = _offset(st, full, order)
        ctype = value_ctype(graph.avals[pointers[k]].dtype)
        if any(st[cut:]):
            hoisted.append(f"const long b{k} = {base};")
            body.append(f"const {ctype} x{k} = a{k}[b{k} + j];")
        else:
            hoisted.append(f"const {ctype} x{k} = a{k}[{base}];")
    body += members(group, graph, names)
    for k, (v, st) in enumerate(zip(group.outputs, strides[len(pointers) :])):
        params.append(f"{value_ctype(graph.avals[v].dtype)} *o{k}")
        hoisted.append(f"const long c{k} = {_offset(st, full, order)};")
        body.append(f"o{k}[c{k} + j] = {names[v]};")
    size = int(np.prod(full, dtype=np.int64))
    loop = _nested_loop(size, inner, hoisted, body, parallel_min)
    return "\n".join([f"void {name}({', '.join(params)}) {{", *(f"  {ln}" for ln in loop), "}"])


def layout_cut(strides: list[tuple[int, ...]], full: tuple[int, ...]) -> int:
    """The first dim of the longest trailing block of ``full`` that every operand (element
    ``strides`` broadcast to ``full``, 0 along size-1 dims) holds C-contiguously or not at all:
    ``len(full)`` when even the last dim is strided."""
    contiguous = tuple(0 if n == 1 else int(np.prod(full[d + 1 :])) for d, n in enumerate(full))
    for k in range(len(full) + 1):
        if all(st[k:] == contiguous[k:] or not any(st[k:]) for st in strides):
            return k
    return len(full)


def _offset(strides: tuple[int, ...], full: tuple[int, ...], order: list[int]) -> str:
    """The C offset of row ``r`` in an operand of ``strides``, the rows being the dims of
    ``order`` (outermost first) in row-major order."""
    terms, inner = [], 1
    for d in reversed(order):
        if strides[d]:
            index = "r" if inner == 1 else f"(r / {inner}L)"
            terms.append(f"({index} % {full[d]}L) * {strides[d]}L")
        inner *= full[d]
    return " + ".join(terms) or "0"


def _flat_reads(
    types: list[str], shapes: list[tuple[int, ...]], full: tuple[int, ...], k: int
) -> tuple[list[str], list[str]]:
    """Each input (of C type ``types[n]``) read at element ``i`` (no hoisted lines)."""
    return [], [
        f"const {t} x{n} = a{n}[{broadcast_index(s, full)}];"
        for n, (t, s) in enumerate(zip(types, shapes))
    ]


def _nest_reads(
    types: list[str], shapes: list[tuple[int, ...]], full: tuple[int, ...], k: int
) -> tuple[list[str], list[str]]:
    """(lines per outer index ``r``, lines per element ``i = r * inner + j``) reading the
    inputs (of C types ``types``) in a loop nest split at dim ``k``: broadcast inputs once per
    ``r``."""
    inner = int(np.prod(full[k:], dtype=np.int64))
    hoisted, body = [], []
    for n, (ctype, shape) in enumerate(zip(types, shapes)):
        padded = _padded(shape, len(full))
        outer = broadcast_index(padded[:k], full[:k], "r")
        if padded[k:] == full[k:]:
            hoisted.append(f"const long b{n} = {outer} * {inner}L;")
            body.append(f"const {ctype} x{n} = a{n}[b{n} + j];")
        else:
            hoisted.append(f"const {ctype} x{n} = a{n}[{outer}];")
    return hoisted, body


def _parallel(size: int, parallel_min: int | None) -> bool:
    """Whether a loop over ``size`` elements runs on every core (OpenMP): from
    ``parallel_min`` of them (None: ``ember.config.jit_parallel_min``)."""
    return size >= (config.jit_parallel_min if parallel_min is None else parallel_min)


def _nested_loop(
    size: int, inner: int, hoisted: list[str], body: list[str], parallel_min: int | None
) -> list[str]:
    """A loop over rows of ``inner`` elements with ``hoisted`` lines per row and a vectorised
    inner loop (on every core from ``jit_parallel_min`` elements)."""
    return [
        *(["#pragma omp parallel for schedule(static)"] if _parallel(size, parallel_min) else []),
        f"for (long r = 0; r < {size // inner}L; r++) {{",
        *(f"  {line}" for line in hoisted),
        "  #pragma omp simd",
        f"  for (long j = 0; j < {inner}L; j++) {{",
        f"    const long i = r * {inner}L + j;",  # the element index (unused by strided code)
        *(f"    {line}" for line in body),
        "  }",
        "}",
    ]


def _flat_loop(size: int, body: list[str], parallel_min: int | None) -> list[str]:
    """One vectorised loop over the elements; on every core (OpenMP) from ``jit_parallel_min`` of
    them. (An ``if`` clause on ``parallel for simd`` stops GCC from vectorising.)"""
    parallel = "parallel for simd schedule(static)" if _parallel(size, parallel_min) else "simd"
    return [
        f"#pragma omp {parallel}",
        f"for (long i = 0; i < {size}L; i++) {{",
        *(f"  {line}" for line in body),
        "}",
    ]


def _first_dim(shape: tuple[int, ...], inner: int) -> int:
    """The first dim of the trailing block of ``shape`` holding ``inner`` elements."""
    k = len(shape)
    while k > 0 and int(np.prod(shape[k - 1 :], dtype=np.int64)) <= inner:
        k -= 1
    return k


def _rows_loop(
    split: Split,
    hoisted: list[str],
    body: list[str],
    sums: list[tuple[str, str, str]],
    parallel_min: int | None,
    maxima: Sequence[tuple[str, str, str]] = (),
    ctype: str = "double",
) -> list[str]:
    """A loop per row of ``split.inner`` elements (``hoisted`` lines once per row); each
    ``(acc, term, out)`` of ``sums`` adds ``term`` into a double ``acc`` (a SIMD reduction:
    one partial sum per vector lane, added up at the row's end) and stores it in ``out[r]``;
    each of ``maxima`` keeps the row's largest ``term`` (of C type ``ctype``), NaN if any is
    NaN, as NumPy's ``amax`` gives it."""
    n, outer = split.inner, split.outer
    parallel = _parallel(outer * n, parallel_min)
    clauses = []
    if sums:
        clauses.append(f"reduction(+:{', '.join(acc for acc, _, _ in sums)})")
    if maxima:
        clauses.append(f"reduction(max:{', '.join(acc for acc, _, _ in maxima)})")
        clauses.append(f"reduction(|:{', '.join(f'{acc}_nan' for acc, _, _ in maxima)})")
    return [
        *(["#pragma omp parallel for schedule(static)"] if parallel else []),
        f"for (long r = 0; r < {outer}L; r++) {{",
        *(f"  {line}" for line in hoisted),
        *(f"  double {acc} = 0;" for acc, _, _ in sums),
        *(f"  {ctype} {acc} = -INFINITY; int {acc}_nan = 0;" for acc, _, _ in maxima),
        f"  #pragma omp simd {' '.join(clauses)}",
        f"  for (long j = 0; j < {n}L; j++) {{",
        f"    const long i = r * {n}L + j;",
        *(f"    {line}" for line in body),
        *(f"    {acc} += {term};" for acc, term, _ in sums),
        *(
            f"    {acc} = {term} > {acc} ? {term} : {acc}; {acc}_nan |= {term} != {term};"
            for acc, term, _ in maxima
        ),
        "  }",
        *(f"  {out}[r] = {acc};" for acc, _, out in sums),
        *(f"  {out}[r] = {acc}_nan ? NAN : {acc};" for acc, _, out in maxima),
        "}",
    ]


def _columns_loop(
    split: Split, hoisted: list[str], body: list[str], sums: list[tuple[str, str, str]]
) -> list[str]:
    """Blocks of ``BLOCK`` columns; each block sums its columns down all ``split.outer`` rows
    (``hoisted`` lines once per row) in double accumulators on the stack, then writes them."""
    rows, n = split.outer, split.inner
    return [
        f"for (long c = 0; c < {n}L; c += {BLOCK}) {{",
        f"  const long w = {n}L - c < {BLOCK} ? {n}L - c : {BLOCK};",
        *(f"  double {acc}[{BLOCK}] = {{0}};" for acc, _, _ in sums),
        f"  for (long r = 0; r < {rows}L; r++) {{",
        *(f"    {line}" for line in hoisted),
        "    #pragma omp simd",
        "    for (long l = 0; l < w; l++) {",
        "      const long j = c + l;",
        f"      const long i = r * {n}L + j;",
        *(f"      {line}" for line in body),
        *(f"      {acc}[l] += {term};" for acc, term, _ in sums),
        "    }",
        "  }",
        *(f"  for (long l = 0; l < w; l++) {out}[c + l] = {acc}[l];" for acc, _, out in sums),
        "}",
    ]


class Toolchain(NamedTuple):
    """A working compiler: its version line, flags, libraries, and whether kernels get vector
    libm calls (``_VECTOR_DECLARATIONS`` compiled, linked against ``-lmvec`` and loaded)."""

    version: str
    flags: tuple[str, ...]
    libs: tuple[str, ...]
    vector_math: bool


def _builds(cc: str, flags: tuple[str, ...], source: str, libs: tuple[str, ...]) -> bool:
    """Whether ``source`` compiles, links and loads as a shared library."""
    with tempfile.TemporaryDirectory() as tmp:
        src, lib = Path(tmp) / "probe.c", Path(tmp) / "probe.so"
        src.write_text(source)
        proc = subprocess.run([cc, *flags, str(src), "-o", str(lib), *libs], capture_output=True)
        if proc.returncode != 0:
            return False
        try:
            ctypes.CDLL(str(lib))
        except OSError:  # a vector function the C library lacks: an undefined symbol
            return False
        return True


@functools.cache
def _toolchain(cc: str) -> Toolchain | None:
    """The toolchain of ``cc`` (OpenMP and vector libm when it has them), or None."""
    try:
        version = subprocess.run(
            [cc, "--version"], capture_output=True, text=True, timeout=30
        ).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return None
    calls = " + ".join(
        f"{name}(x{', x' if ',' in args else ''})" for name, args in _VECTOR_MATH.items()
    )
    vector_probe = (
        "#include <math.h>\n" + _VECTOR_DECLARATIONS + "void probe(const float *a, float *o) {\n"
        "  #pragma omp simd\n  for (int i = 0; i < 64; i++) { const float x = a[i]; "
        f"o[i] = {calls}; }}\n}}\n"
    )
    for extra in (("-fopenmp",), ()):
        flags = FLAGS + extra
        if _builds(cc, flags, "int probe(void) { return 1; }\n", ()):
            vector = _builds(cc, flags, vector_probe, ("-lmvec", "-lm"))
            libs = ("-lmvec", "-lm") if vector else ("-lm",)
            return Toolchain(version, flags, libs, vector)
    return None


def vector_math() -> bool:
    """Whether compiled float32 kernels call vector libm (so groups with exp, tanh, erf… are
    worth compiling), as the compiler found now builds them."""
    cc = compiler()
    tool = _toolchain(cc) if cc else None
    return tool is not None and tool.vector_math


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("model name", "flags")):
                return line
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _valid(lib: Path, meta: Path) -> bool:
    """The cached library exists and matches the size and hash recorded when it was built."""
    try:
        info = json.loads(meta.read_text())
        return lib.stat().st_size == info["size"] and _digest(lib) == info["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _compile(cc: str, tool: Toolchain, source: str, lib: Path, meta: Path) -> str | None:
    """Build ``lib`` from ``source`` atomically and record its size and hash (error or None)."""
    lib.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=lib.parent) as tmp:
        src, out = Path(tmp) / "kernels.c", Path(tmp) / lib.name
        src.write_text(source)
        command = [cc, *tool.flags, str(src), "-o", str(out), *tool.libs]
        proc = subprocess.run(command, capture_output=True)
        if proc.returncode != 0:
            lines = proc.stderr.decode(errors="replace").strip().splitlines()
            return lines[-1] if lines else f"exit status {proc.returncode}"
        info = {"size": out.stat().st_size, "sha256": _digest(out)}
        os.replace(out, lib)
    meta.write_text(json.dumps(info))
    return None


def _warn(message: str) -> None:
    warnings.warn(f"ember.jit: {message}; running fused kernels with NumPy", stacklevel=4)


def load(source: str) -> ctypes.CDLL | None:
    """Compile (or find in the disk cache) and load a library of kernels; None without one."""
    cc = compiler()
    tool = _toolchain(cc) if cc else None
    if tool is None:
        _warn(f"no working C compiler ({os.environ.get('EMBER_CC') or 'cc'})")
        return None
    prelude = "#include <math.h>\n" + (_VECTOR_DECLARATIONS if tool.vector_math else "")
    source = prelude + "#include <tgmath.h>\n\n" + source + "\n"
    parts = [source, cc, tool.version, *tool.flags, *tool.libs, _cpu()]
    key = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    lib, meta = cache_dir() / f"{key[:32]}.so", cache_dir() / f"{key[:32]}.json"
    for attempt in range(2):
        if attempt or not _valid(lib, meta):
            try:
                error = _compile(cc, tool, source, lib, meta)
            except OSError as e:  # an unwritable cache directory, a full disk
                error = str(e)
            if error is not None:
                _warn(f"compiling kernels failed ({error})")
                return None
        try:
            return ctypes.CDLL(str(lib))
        except OSError:
            continue  # a corrupt entry that still matched its record: build it again
    _warn(f"cannot load {lib}")
    return None
