"""Elementwise fusion: groups of elementwise nodes that run as one kernel.

``fuse(graph)`` partitions the elementwise nodes of a graph into groups. A group has one
output shape and computes in one dtype; its inputs may broadcast to that shape. Comparisons
and ``where`` on that dtype join it too: their booleans are values of the group like any
other (``_computes_in``). Members need not be adjacent in the traced order: a group stays
open while the nodes between its members do not read its values, and runs at the position
of its last member (every member's inputs exist by then, and nothing before that position
reads a member's value). A value read outside the group, or observed by the caller, is a
group output; the rest never leave the kernel.

Reduction epilogues: a ``Sum`` of a group's value over its trailing axes (``Split.ROWS``: a
softmax denominator, LayerNorm's mean, a loss over all elements) or its leading axes
(``Split.COLUMNS``: a bias gradient), or an ``Amax`` over its trailing axes (softmax's
shift, with ``maxima=True``), joins the group as an epilogue when ``reductions=True``: a
native kernel accumulates it in the loop that computes the value, which is then written only
if someone else reads it. The group stays open afterwards; reading the sum closes it (it
exists only once the whole loop has run). One split per group: a second sum
over other axes reads the value like any non-member. The plan executor runs the epilogues as
ordinary nodes after the group's members.

Each primitive carries its own lowerings (``ember.ops.core.Primitive``): ``write``, the NumPy
kernel into a given buffer, through which the plan executor runs a group member by member
into planned buffers, and ``c``, the C expression the native executor (``ember.jit.native``)
compiles a group from. A group whose members all have one is native-capable; one whose member
calls libm per element (``libm``) goes to C only as float32 with vector libm, since NumPy's
SIMD kernels beat scalar libm by far (``native.vector_math``; measured: benchmarks/jit_codegen.py,
docs/jit.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ember import dtypes
from ember.jit.graph import Graph
from ember.ops.core import ELEMENTWISE
from ember.ops.reduce import Amax, Sum

__all__ = ["Group", "Split", "fuse", "split"]

SMALL = 4096  # elements: a lone op on no more than this runs in C (``Group.prefer_native``)


@dataclass(frozen=True)
class Split:
    """How a reduction splits its input's elements: ``outer`` slices of ``inner`` contiguous
    elements. ROWS sums each slice (trailing axes); COLUMNS sums across the slices (leading
    axes), one result per position in a slice."""

    ROWS: ClassVar[str] = "rows"
    COLUMNS: ClassVar[str] = "columns"
    kind: str
    outer: int
    inner: int


def split(shape: tuple[int, ...], dims: tuple[int, ...]) -> Split | None:
    """The split of a reduction of ``shape`` over ``dims``, or None when the reduced axes (not
    counting those of size 1) are neither the trailing nor the leading ones."""
    size = int(np.prod(shape, dtype=np.int64))
    flags = [d in dims for d, n in enumerate(shape) if n != 1]
    k = sum(flags)
    if size == 0 or not dims:
        return None
    reduced = int(np.prod([n for d, n in enumerate(shape) if d in dims], dtype=np.int64))
    if flags == [False] * (len(flags) - k) + [True] * k:
        return Split(Split.ROWS, size // reduced, reduced)
    if flags == [True] * k + [False] * (len(flags) - k):
        return Split(Split.COLUMNS, reduced, size // reduced)
    return None


@dataclass
class Group:
    """Node indices of one fused group, in order; its external inputs and its outputs.

    ``reductions``: the ``Sum`` (and ``Amax``) nodes reducing group values in the kernel (its
    epilogue), all with the same ``split``; their outputs are group outputs too."""

    nodes: list[int]
    shape: tuple[int, ...]
    dtype: Any
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    c_ops: bool = True  # every member has a C expression
    libm: bool = False  # a member calls libm per element in C (``Primitive.libm``)
    reductions: list[int] = field(default_factory=list)
    split: Split | None = None

    @property
    def native(self) -> bool:
        """Whether the native executor can compile it (C expressions, a C float dtype)."""
        return self.c_ops and self.dtype.name in ("float32", "float64")

    def prefer_native(self, vector_math: bool) -> bool:
        """Whether C beats the NumPy plan on it: several ops, or one on at most ``SMALL``
        elements (where the call costs more than the arithmetic: a compiled call on the same
        arrays as before is one ctypes call, a NumPy one a ufunc dispatch and a layout check),
        all vector instructions (a libm call only as a float32 vector call, when
        ``vector_math``)."""
        several = len(self.nodes) + len(self.reductions) > 1
        small = int(np.prod(self.shape, dtype=np.int64)) <= SMALL
        vector = not self.libm or (vector_math and self.dtype.name == "float32")
        return self.native and (several or small) and vector


def _computes_in(graph: Graph, i: int, apart: tuple[type, ...]) -> Any:
    """The dtype node ``i`` computes in as a group member, or None when it joins no group.

    A node of one dtype computes in it. A node with a C expression may also read or give
    booleans beside one other dtype (a comparison of floats, ``where`` on floats): it computes
    in that dtype, and its booleans are bytes in the kernel (as are those of a logical op
    joining the group that makes its operands: ``_host``)."""
    node = graph.nodes[i]
    if node.prim.kind != ELEMENTWISE or node.aliasing or node.prim in apart:
        return None
    kinds = {graph.avals[v].dtype for v in [*node.inputs, node.out]}
    if len(kinds) == 1:
        return kinds.pop()
    others = kinds - {dtypes.bool_}
    if len(kinds) == 2 and len(others) == 1 and node.prim.c is not None:
        return others.pop()
    return None


def _host(graph: Graph, i: int, owner: dict[int, Group], open_: dict[tuple, Group]) -> Any:
    """The dtype of the open group (of a dtype other than bool) that makes an input of node
    ``i``, a logical op on booleans with a C expression (a mask combined from comparisons): it
    computes there; or None."""
    node = graph.nodes[i]
    if node.prim.c is None:
        return None
    shape = graph.avals[node.out].shape
    for v in node.inputs:
        g = owner.get(v)
        if g is not None and g.shape == shape and g.dtype is not dtypes.bool_:
            if open_.get((shape, g.dtype)) is g:
                return g.dtype
    return None


def _epilogue(graph: Graph, i: int, owner: dict[int, Group], maxima: bool) -> Group | None:
    """The group node ``i`` can join as a reduction epilogue, or None: a Sum of one of its
    values over axes of the group's split, or (``maxima``) an Amax over its rows."""
    node = graph.nodes[i]
    if node.prim is Sum or (maxima and node.prim is Amax):
        group = owner.get(node.inputs[0])
    else:
        group = None
    if group is None or graph.avals[node.out].dtype != group.dtype:  # (a count of booleans)
        return None
    s = split(group.shape, node.params["dims"])
    if s is None or group.split not in (None, s) or (node.prim is Amax and s.kind != Split.ROWS):
        return None
    return group


def fuse(
    graph: Graph,
    *,
    reductions: bool = False,
    maxima: bool = False,
    apart: tuple[type, ...] = (),
) -> list[Group]:
    """Partition the elementwise nodes of ``graph`` into groups, with reduction epilogues
    when ``reductions`` (see the module docstring), maxima over rows among them when
    ``maxima`` too; nodes of the primitives ``apart`` stay out of groups."""
    open_: dict[tuple, Group] = {}  # (shape, dtype) -> the group new members may join
    owner: dict[int, Group] = {}  # value -> the group computing it
    summed: dict[int, Group] = {}  # value -> the group whose epilogue sums it
    groups: list[Group] = []
    for i, node in enumerate(graph.nodes):
        dtype = _computes_in(graph, i, apart)
        if dtype is dtypes.bool_:
            dtype = _host(graph, i, owner, open_) or dtype
        fusible = dtype is not None
        aval = graph.avals[node.out]
        key = (aval.shape, dtype)
        tail = _epilogue(graph, i, owner, maxima) if reductions else None
        if tail is not None:
            tail.reductions.append(i)
            tail.split = split(tail.shape, node.params["dims"])
            summed[node.out] = tail
            continue
        for v in node.inputs:  # a group whose value is read by a non-member is closed
            g = owner.get(v) or summed.get(v)
            if (
                g is not None
                and open_.get((g.shape, g.dtype)) is g
                and (v in summed or not fusible or g.shape != aval.shape or g.dtype != dtype)
            ):
                del open_[(g.shape, g.dtype)]
        if not fusible:
            continue
        group = open_.get(key)
        if group is None:
            group = open_[key] = Group([], aval.shape, dtype)
            groups.append(group)
        group.nodes.append(i)
        operands = ["x"] * len(node.inputs)
        group.c_ops = group.c_ops and node.prim.expression("c", operands, node.params) is not None
        group.libm = group.libm or node.prim.libm
        owner[node.out] = group
    roots = set(graph.roots())
    readers: dict[int, set[int]] = {}
    for i, node in enumerate(graph.nodes):
        for v in node.inputs:
            readers.setdefault(v, set()).add(i)
    for group in groups:
        members = set(group.nodes) | set(group.reductions)
        made = {graph.nodes[i].out for i in group.nodes}
        for i in group.nodes:
            node = graph.nodes[i]
            for v in node.inputs:
                if v not in made and v not in group.inputs:
                    group.inputs.append(v)
            if node.out in roots or readers.get(node.out, set()) - members:
                group.outputs.append(node.out)
        group.outputs += [graph.nodes[i].out for i in group.reductions]
    return groups
