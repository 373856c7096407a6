"""CUDA code generation: one ``__global__`` kernel per fused elementwise group.

The CUDA twin of ``native.kernel_source``, from the same pieces: the group's operands (scalar
constants inlined as exact literals, the rest read through their broadcast index) and one
statement per member from the primitives' ``cuda`` expressions (``Primitive.expression``).
Shapes are static in a graph, so sizes are literals.

* A group without sums is a grid-stride loop over its elements (``launch``: blocks of
  ``THREADS``).
* Rows (sums over trailing axes: a softmax denominator, a norm's mean): one block per row; each
  thread adds its elements into double accumulators, then the block adds the partial sums in
  shared memory.
* Columns (sums over leading axes: a bias gradient): one thread per column walks down it,
  adding into a double; neighbouring threads read neighbouring addresses.

``module_source`` puts the kernels of a graph in one translation unit, compiled by NVRTC
(``ember.jit.nvrtc``) without a GPU, so a codegen regression fails on any machine.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ember.jit.fusion import Group, Split
from ember.jit.graph import Graph
from ember.jit.native import CTYPES, broadcast_index, members, operands, value_ctype

__all__ = ["THREADS", "Kernel", "cuda_capable", "kernel_source", "launch", "module_source"]

THREADS = 256  # threads per block; a power of two (the block reduction halves it)
_MAX_BLOCKS = 65535 * 32  # grid-stride loops need no more blocks than the GPU can keep busy


class Kernel(NamedTuple):
    """A generated kernel: its source, the values passed as pointers (before its outputs),
    and its launch shape (blocks, threads)."""

    source: str
    pointers: list[int]
    blocks: int
    threads: int


def cuda_capable(group: Group, graph: Graph) -> bool:
    """Whether every member has a CUDA expression and the dtype is float32 or float64."""
    if group.dtype.name not in CTYPES:
        return False
    return all(
        graph.nodes[i].prim.expression(
            "cuda", ["x"] * len(graph.nodes[i].inputs), graph.nodes[i].params
        )
        is not None
        for i in group.nodes
    )


def launch(size: int) -> int:
    """Blocks for a grid-stride loop over ``size`` elements."""
    return max(1, min(-(-size // THREADS), _MAX_BLOCKS))


def kernel_source(name: str, group: Group, graph: Graph) -> Kernel:
    """The CUDA kernel ``name`` computing ``group`` on C-contiguous operands."""
    ctype = CTYPES[group.dtype.name]
    names, params, pointers = operands(group, graph)
    reads = [
        f"const {value_ctype(graph.avals[v].dtype)} x{k} = "
        f"a{k}[{broadcast_index(graph.avals[v].shape, group.shape)}];"
        for k, v in enumerate(pointers)
    ]
    body = reads + members(group, graph, names, target="cuda")
    sums = [(graph.nodes[r].out, names[graph.nodes[r].inputs[0]]) for r in group.reductions]
    summed = {v for v, _ in sums}
    stores = []
    for k, v in enumerate(group.outputs):
        params.append(f"{value_ctype(graph.avals[v].dtype)} *o{k}")
        if v not in summed:
            stores.append(f"o{k}[i] = {names[v]};")
    body += stores
    terms = [(f"s{k}", x, f"o{group.outputs.index(v)}") for k, (v, x) in enumerate(sums)]
    size = int(np.prod(group.shape, dtype=np.int64))
    if group.split is None:
        loop, blocks = _elements_loop(size, body), launch(size)
    elif group.split.kind == Split.ROWS:
        loop, blocks = _rows_loop(group.split, ctype, body, terms), group.split.outer
    else:
        loop, blocks = _columns_loop(group.split, ctype, body, terms), launch(group.split.inner)
    head = f'extern "C" __global__ void {name}({", ".join(params)}) {{'
    return Kernel(
        "\n".join([head, *(f"  {line}" for line in loop), "}"]), pointers, blocks, THREADS
    )


def module_source(kernels: list[Kernel]) -> str:
    """One translation unit holding ``kernels``."""
    return "\n\n".join(k.source for k in kernels) + "\n"


def _elements_loop(size: int, body: list[str]) -> list[str]:
    return [
        "for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; "
        f"i < {size}L; i += (long)blockDim.x * gridDim.x) {{",
        *(f"  {line}" for line in body),
        "}",
    ]


def _rows_loop(split: Split, ctype: str, body: list[str], sums: list[tuple]) -> list[str]:
    """Block ``r`` computes row ``r``; each sum ``(acc, term, out)`` reaches ``out[r]`` through
    a shared-memory tree over the block's partial sums."""
    lines = [
        "const long r = blockIdx.x;",
        *(f"double {acc} = 0.0;" for acc, _, _ in sums),
        f"for (long j = threadIdx.x; j < {split.inner}L; j += blockDim.x) {{",
        f"  const long i = r * {split.inner}L + j;",
        *(f"  {line}" for line in body),
        *(f"  {acc} += (double){term};" for acc, term, _ in sums),
        "}",
        f"__shared__ double partial[{len(sums)}][{THREADS}];",
        *(f"partial[{k}][threadIdx.x] = {acc};" for k, (acc, _, _) in enumerate(sums)),
        "__syncthreads();",
        "for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {",
        "  if (threadIdx.x < half) {",
        *(
            f"    partial[{k}][threadIdx.x] += partial[{k}][threadIdx.x + half];"
            for k in range(len(sums))
        ),
        "  }",
        "  __syncthreads();",
        "}",
        "if (threadIdx.x == 0) {",
        *(f"  {out}[r] = ({ctype})partial[{k}][0];" for k, (_, _, out) in enumerate(sums)),
        "}",
    ]
    return lines


def _columns_loop(split: Split, ctype: str, body: list[str], sums: list[tuple]) -> list[str]:
    """Thread ``j`` walks down column ``j`` (``split.outer`` rows of ``split.inner``)."""
    return [
        "for (long j = (long)blockIdx.x * blockDim.x + threadIdx.x; "
        f"j < {split.inner}L; j += (long)blockDim.x * gridDim.x) {{",
        *(f"  double {acc} = 0.0;" for acc, _, _ in sums),
        f"  for (long r = 0; r < {split.outer}L; r++) {{",
        f"    const long i = r * {split.inner}L + j;",
        *(f"    {line}" for line in body),
        *(f"    {acc} += (double){term};" for acc, term, _ in sums),
        "  }",
        *(f"  {out}[j] = ({ctype}){acc};" for acc, _, out in sums),
        "}",
    ]
