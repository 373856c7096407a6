"""The native executor's code generator: one C kernel per fused elementwise group.

``kernel_source`` writes a loop over the group's elements (float32 or float64; inputs indexed
contiguously or through their broadcast strides; scalar constants inlined as exact hex
literals), parallelised with OpenMP above ``PARALLEL_MIN`` elements. A group with reduction
epilogues (``Group.reductions``) loops over rows or blocks of columns instead and adds each
sum's terms into double accumulators as it computes them: float32 sums come out at least as
accurate as NumPy's pairwise ones, and a summed value is stored only if another op reads it.
``load`` compiles the kernels of a graph into one shared library with the system C compiler
(``cc``, or ``EMBER_CC``; ``-O3 -march=native``) and loads it with ctypes. Libraries are
cached on disk under ``$EMBER_CACHE_DIR/jit`` (default ``~/.cache/ember/jit``), keyed by a
hash of the source, the compiler, its version, the flags and the CPU; each entry stores its
size and SHA-256 next to it, and an entry that fails that check or fails to load is rebuilt.
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
from pathlib import Path

import numpy as np

from ember.jit.fusion import CEXPR, Group, Split
from ember.jit.graph import Graph

__all__ = ["kernel_source", "load", "cache_dir", "compiler", "PARALLEL_MIN", "FLAGS"]

# elements from which a kernel runs on every core (OpenMP); on the shared 2-core machine of
# benchmarks/jit_codegen.py two threads lost at every size measured: large by default
PARALLEL_MIN = int(os.environ.get("EMBER_JIT_PARALLEL_MIN", 1 << 22))
# -fno-math-errno and the simd pragmas let the compiler vectorise the loops: errno writes
# (sqrt, log, …) and possible aliasing of the pointers otherwise keep them scalar, 5x slower
# than the vector code on an Adam update (see docs/jit.md)
FLAGS = ("-O3", "-march=native", "-shared", "-fPIC", "-std=c99", "-fno-math-errno", "-fopenmp-simd")
_CTYPE = {"float32": "float", "float64": "double"}
LANES = 8  # double accumulators per sum over rows (one AVX-512 vector)
BLOCK = 256  # columns summed at once by a sum over leading axes


def compiler() -> str | None:
    """The C compiler to use: ``$EMBER_CC`` (a path or a name on PATH), else cc or gcc."""
    name = os.environ.get("EMBER_CC")
    if name:
        return shutil.which(name)
    return shutil.which("cc") or shutil.which("gcc")


def cache_dir() -> Path:
    """Where compiled kernels are kept: ``$EMBER_CACHE_DIR/jit`` or ``~/.cache/ember/jit``."""
    root = os.environ.get("EMBER_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "ember"
    )
    return Path(root) / "jit"


def _literal(value: float) -> str:
    return float(value).hex()


def _index(shape: tuple[int, ...], full: tuple[int, ...]) -> str:
    """The C index into a contiguous input of ``shape`` broadcast to ``full`` at element i."""
    size = int(np.prod(shape, dtype=np.int64))
    if size == 1:
        return "0"
    shape = (1,) * (len(full) - len(shape)) + tuple(shape)
    if shape == full:
        return "i"
    n = len(full)
    k = 0  # leading broadcast dims followed by the full trailing dims: i % size
    while k < n and shape[k] == 1:
        k += 1
    if shape[k:] == full[k:]:
        return f"(i % {size}L)"
    terms, stride, inner = [], 1, 1
    for d in reversed(range(n)):
        if shape[d] != 1:
            terms.append(f"((i / {inner}L) % {full[d]}L) * {stride}L")
            stride *= shape[d]
        inner *= full[d]
    return "(" + " + ".join(terms) + ")"


def kernel_source(name: str, group: Group, graph: Graph) -> tuple[str, list[int]]:
    """C source of a function ``name`` computing ``group``; and the values passed as pointers
    (the group's inputs other than inlined scalar constants), before its outputs."""
    ctype = _CTYPE[group.dtype.name]
    size = int(np.prod(group.shape, dtype=np.int64))
    names: dict[int, str] = {}
    params: list[str] = []
    pointers: list[int] = []
    body: list[str] = []
    for v in group.inputs:
        const = graph.constants.get(v)
        if const is not None and const.size == 1:
            names[v] = f"(({ctype}){_literal(np.asarray(const).item())})"
            continue
        k = len(pointers)
        pointers.append(v)
        params.append(f"const {ctype} *a{k}")
        body.append(f"const {ctype} x{k} = a{k}[{_index(graph.avals[v].shape, group.shape)}];")
        names[v] = f"x{k}"
    for i in group.nodes:
        node = graph.nodes[i]
        expr = CEXPR[node.prim.name].format(*(names[v] for v in node.inputs))
        body.append(f"const {ctype} t{node.out} = {expr};")
        names[node.out] = f"t{node.out}"
    sums = [(graph.nodes[r].out, names[graph.nodes[r].inputs[0]]) for r in group.reductions]
    summed = {v for v, _ in sums}
    for k, v in enumerate(group.outputs):
        params.append(f"{ctype} *o{k}")
        if v in summed:
            names[v] = f"o{k}"
        else:
            body.append(f"o{k}[i] = {names[v]};")
    if group.split is None:
        loop = _flat_loop(size, body)
    else:
        make = _rows_loop if group.split.kind == Split.ROWS else _columns_loop
        loop = make(group.split, body, [(f"s{k}", x, names[v]) for k, (v, x) in enumerate(sums)])
    lines = [f"void {name}({', '.join(params)}) {{", *(f"  {line}" for line in loop), "}"]
    return "\n".join(lines), pointers


def _flat_loop(size: int, body: list[str]) -> list[str]:
    """One vectorised loop over the elements; on every core (OpenMP) from ``PARALLEL_MIN`` of
    them. (An ``if`` clause on ``parallel for simd`` stops GCC from vectorising.)"""
    parallel = "parallel for simd schedule(static)" if size >= PARALLEL_MIN else "simd"
    return [
        f"#pragma omp {parallel}",
        f"for (long i = 0; i < {size}L; i++) {{",
        *(f"  {line}" for line in body),
        "}",
    ]


def _rows_loop(split: Split, body: list[str], sums: list[tuple[str, str, str]]) -> list[str]:
    """A loop per row of ``split.inner`` elements; each ``(acc, term, out)`` of ``sums`` adds
    ``term`` into ``LANES`` double accumulators (independent, so they vectorise without
    reassociating anything), combined pairwise into ``out[row]`` at the row's end."""
    n, outer = split.inner, split.outer
    zero = [f"double {acc}[{LANES}] = {{0}};" for acc, _, _ in sums]
    total = [f"{out}[r] = {_pairwise(acc, LANES)};" for acc, _, out in sums]
    return [
        f"#pragma omp parallel for if({outer * n}L >= {PARALLEL_MIN}L) schedule(static)",
        f"for (long r = 0; r < {outer}L; r++) {{",
        *(f"  {line}" for line in zero),
        "  long j = 0;",
        f"  for (; j + {LANES} <= {n}L; j += {LANES}) {{",
        f"    for (long l = 0; l < {LANES}; l++) {{",
        f"      const long i = r * {n}L + j + l;",
        *(f"      {line}" for line in body),
        *(f"      {acc}[l] += {term};" for acc, term, _ in sums),
        "    }",
        "  }",
        f"  for (; j < {n}L; j++) {{",
        f"    const long i = r * {n}L + j;",
        *(f"    {line}" for line in body),
        *(f"    {acc}[0] += {term};" for acc, term, _ in sums),
        "  }",
        *(f"  {line}" for line in total),
        "}",
    ]


def _columns_loop(split: Split, body: list[str], sums: list[tuple[str, str, str]]) -> list[str]:
    """Blocks of ``BLOCK`` columns; each block sums its column down all ``split.outer`` rows in
    double accumulators (on the stack), then writes the block's sums."""
    rows, n = split.outer, split.inner
    return [
        f"for (long c = 0; c < {n}L; c += {BLOCK}) {{",
        f"  const long w = {n}L - c < {BLOCK} ? {n}L - c : {BLOCK};",
        *(f"  double {acc}[{BLOCK}] = {{0}};" for acc, _, _ in sums),
        f"  for (long r = 0; r < {rows}L; r++) {{",
        "    for (long l = 0; l < w; l++) {",
        f"      const long i = r * {n}L + c + l;",
        *(f"      {line}" for line in body),
        *(f"      {acc}[l] += {term};" for acc, term, _ in sums),
        "    }",
        "  }",
        *(f"  for (long l = 0; l < w; l++) {out}[c + l] = {acc}[l];" for acc, _, out in sums),
        "}",
    ]


def _pairwise(acc: str, n: int) -> str:
    """The sum of ``acc[0]`` … ``acc[n - 1]`` (n a power of two) added in pairs."""
    terms = [f"{acc}[{k}]" for k in range(n)]
    while len(terms) > 1:
        terms = [f"({a} + {b})" for a, b in zip(terms[::2], terms[1::2])]
    return terms[0]


@functools.cache
def _toolchain(cc: str) -> tuple[str, tuple[str, ...]] | None:
    """``(compiler version, flags)`` of a working compiler (OpenMP when it has it), or None."""
    try:
        version = subprocess.run(
            [cc, "--version"], capture_output=True, text=True, timeout=30
        ).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text("int probe(void) { return 1; }\n")
        for extra in (("-fopenmp",), ()):
            flags = FLAGS + extra
            proc = subprocess.run(
                [cc, *flags, str(src), "-o", str(Path(tmp) / "probe.so")], capture_output=True
            )
            if proc.returncode == 0:
                return version, flags
    return None


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


def _compile(cc: str, flags: tuple[str, ...], source: str, lib: Path, meta: Path) -> str | None:
    """Build ``lib`` from ``source`` atomically and record its size and hash (error or None)."""
    lib.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=lib.parent) as tmp:
        src, out = Path(tmp) / "kernels.c", Path(tmp) / lib.name
        src.write_text(source)
        proc = subprocess.run([cc, *flags, str(src), "-o", str(out), "-lm"], capture_output=True)
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
    version, flags = tool
    source = "#include <math.h>\n#include <tgmath.h>\n\n" + source + "\n"
    key = hashlib.sha256("\0".join([source, cc, version, *flags, _cpu()]).encode()).hexdigest()
    lib, meta = cache_dir() / f"{key[:32]}.so", cache_dir() / f"{key[:32]}.json"
    for attempt in range(2):
        if attempt or not _valid(lib, meta):
            try:
                error = _compile(cc, flags, source, lib, meta)
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
