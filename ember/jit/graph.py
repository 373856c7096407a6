"""The graph IR of ``ember.jit``: values, nodes, state sources and write-backs, and a printer.

A graph is a straight-line program in SSA form. Every value has an integer id and an abstract
value (shape and dtype). Values come from graph inputs (state read at call time: a tensor
argument, a parameter's data, a ``.grad``), constants captured at trace time, or nodes that
apply a primitive to earlier values. After the nodes run, ``outputs`` are the function's
results and ``writes``/``grad_sets`` say how the mutated state is written back. ``str(graph)``
prints one op per line; ``graph.draw()`` gives DOT text with the fused groups as clusters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ember.ops.core import Aval, Primitive

__all__ = ["Source", "Node", "Graph"]


@dataclass(frozen=True)
class Source:
    """Where a graph input lives at call time: ``kind`` is "arg", "data" or "grad".

    "arg": the ``index``-th tensor among the call's (flattened) arguments; "data": the array of
    ``tensor`` (a parameter, buffer or optimizer state); "grad": the array of ``tensor.grad``.
    """

    kind: str
    index: int = -1
    tensor: Any = field(default=None, compare=False, hash=False)

    def label(self) -> str:
        if self.kind == "arg":
            return f"arg{self.index}"
        shape = "x".join(str(n) for n in self.tensor.shape) or "scalar"
        return f"{self.kind}#{self.index}({shape})"


@dataclass
class Node:
    """``out = prim.forward(xp, *inputs, **params)``."""

    prim: type[Primitive]
    inputs: tuple[int, ...]
    params: dict[str, Any]
    out: int
    aliasing: bool = False  # the output may share memory with an input (a view)


@dataclass
class Graph:
    """A traced function: inputs, constants, nodes, outputs and state write-backs."""

    avals: dict[int, Aval] = field(default_factory=dict)
    inputs: list[int] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    constants: dict[int, Any] = field(default_factory=dict)
    nodes: list[Node] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)
    # (source of the target array, value written into it in place)
    writes: list[tuple[Source, int]] = field(default_factory=list)
    # (tensor, value that becomes its new ``.grad``, or None to clear it)
    grad_sets: list[tuple[Any, int | None]] = field(default_factory=list)
    # node indices of each fused group, set by the executor (drawn as clusters)
    groups: list[list[int]] = field(default_factory=list)

    def new_value(self, aval: Aval) -> int:
        vid = len(self.avals)
        self.avals[vid] = aval
        return vid

    def roots(self) -> list[int]:
        """The values the caller observes: outputs and everything written back."""
        roots = list(self.outputs)
        roots += [v for _, v in self.writes]
        roots += [v for _, v in self.grad_sets if v is not None]
        return roots

    def rename(self, mapping: dict[int, int]) -> None:
        """Replace value ids everywhere (nodes, outputs, write-backs) following ``mapping``."""
        if not mapping:
            return
        get = mapping.get
        for node in self.nodes:
            node.inputs = tuple(get(v, v) for v in node.inputs)
        self.outputs = [get(v, v) for v in self.outputs]
        self.writes = [(s, get(v, v)) for s, v in self.writes]
        self.grad_sets = [(t, v if v is None else get(v, v)) for t, v in self.grad_sets]

    def __len__(self) -> int:
        return len(self.nodes)

    def __str__(self) -> str:
        def val(v: int) -> str:
            return f"%{v}"

        def typed(v: int) -> str:
            return f"%{v}: {self.avals[v]!r}"

        lines = ["graph("]
        for v, s in zip(self.inputs, self.sources):
            lines.append(f"    {typed(v)}  # {s.label()}")
        lines.append(") {")
        for v, c in self.constants.items():
            text = repr(c.item()) if c.size == 1 else "..."
            lines.append(f"  {typed(v)} = const {text}")
        for n in self.nodes:
            operands = [val(v) for v in n.inputs] + [f"{k}={p!r}" for k, p in n.params.items()]
            lines.append(f"  {typed(n.out)} = {n.prim.name}({', '.join(operands)})")
        for s, v in self.writes:
            lines.append(f"  write {s.label()} <- {val(v)}")
        for t, v in self.grad_sets:
            lines.append(f"  set {_owner(self, t)}.grad <- {'None' if v is None else val(v)}")
        lines.append(f"  return ({', '.join(val(v) for v in self.outputs)})")
        lines.append("}")
        return "\n".join(lines)

    __repr__ = __str__

    def draw(self) -> Any:
        """The graph as DOT text (``.dot``), with fused groups as clusters; ``.save(path)``
        writes ``.dot``, or ``.svg``/``.png``/``.pdf`` when Graphviz's ``dot`` is installed."""
        from ember.diagnostics.graph import Graph as Drawing  # rendering lives there

        lines = ["digraph jit {", "  rankdir=TB;", '  node [fontname="Helvetica", fontsize=10];']
        edges = 0
        for v, s in zip(self.inputs, self.sources):
            lines.append(
                f'  v{v} [label="{s.label()}\\n{self.avals[v]!r}", shape=ellipse, '
                'style=filled, fillcolor="lightblue"];'
            )
        for v in self.constants:
            lines.append(f'  v{v} [label="const\\n{self.avals[v]!r}", shape=plaintext];')
        member = {i: k for k, nodes in enumerate(self.groups) for i in nodes}
        clusters: dict[int, list[str]] = {}
        for i, n in enumerate(self.nodes):
            line = f'  v{n.out} [label="{n.prim.name}\\n{self.avals[n.out]!r}", shape=box];'
            k = member.get(i)
            (lines if k is None else clusters.setdefault(k, [])).append(line)
        for k, body in clusters.items():
            lines += [f"  subgraph cluster_{k} {{", f'  label="fused {k}"; style=dashed;', *body]
            lines.append("  }")
        for n in self.nodes:
            for v in n.inputs:
                lines.append(f"  v{v} -> v{n.out};")
                edges += 1
        roots = [(f"out{k}", v) for k, v in enumerate(self.outputs)]
        roots += [(f"write {s.label()}", v) for s, v in self.writes]
        for k, (label, v) in enumerate(roots):
            lines.append(f'  r{k} [label="{label}", shape=doublecircle, fontsize=8];')
            lines.append(f"  v{v} -> r{k};")
            edges += 1
        lines.append("}")
        count = len(self.inputs) + len(self.constants) + len(self.nodes) + len(roots)
        return Drawing("\n".join(lines) + "\n", count, edges)


def _owner(graph: Graph, tensor: Any) -> str:
    """A short name for a tensor whose ``.grad`` is set: its data input, if it is one."""
    for s in graph.sources:
        if s.tensor is tensor and s.kind == "data":
            return s.label()
    shape = "x".join(str(n) for n in tensor.shape) or "scalar"
    return f"tensor({shape})"
