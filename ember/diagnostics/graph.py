"""draw_graph: the autograd graph behind a tensor as DOT text (SVG/PNG through Graphviz).

One graph node per recorded primitive application (labelled with the op name and output shape)
and one per leaf tensor (shape, and the parameter's name when ``params`` names it); edges follow
the data flow, from each input to the op that consumed it — the reverse of what ``backward()``
walks. Draw before ``backward()`` (or with ``retain_graph=True``): backward frees the inputs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

__all__ = ["Graph", "draw_graph"]


def _shape(t: Any) -> str:
    return "(" + ", ".join(str(d) for d in t.shape) + ")"


def _quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class Graph:
    """A drawn autograd graph: ``dot`` (DOT text), node/edge counts, ``save(path)``.

    ``nodes`` (``{"id", "label", "kind"}``; kind ``op``, ``param`` for a leaf that needs a
    gradient, or ``input``) and ``edges`` (``(src, dst)`` ids) hold the same graph as data,
    for drawing it without Graphviz.
    """

    def __init__(
        self,
        dot: str,
        num_nodes: int,
        num_edges: int,
        nodes: list[dict[str, str]] | None = None,
        edges: list[tuple[str, str]] | None = None,
    ) -> None:
        self.dot = dot
        self.num_nodes = num_nodes
        self.num_edges = num_edges
        self.nodes = nodes or []
        self.edges = edges or []

    def __repr__(self) -> str:
        return f"Graph({self.num_nodes} nodes, {self.num_edges} edges)"

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``.dot`` text, or render ``.svg``/``.png``/``.pdf`` with Graphviz's ``dot``."""
        path = Path(path)
        fmt = path.suffix.lower().lstrip(".")
        if fmt in ("dot", "gv"):
            path.write_text(self.dot)
            return path
        if fmt not in ("svg", "png", "pdf"):
            raise ValueError(
                f"draw_graph: unsupported file type: {path.suffix!r} vs .dot, .svg, .png or .pdf"
            )
        exe = shutil.which("dot")
        if exe is None:
            raise RuntimeError(
                f"draw_graph: cannot write {path.name}: Graphviz's `dot` program is not on PATH\n"
                "hint: install Graphviz (Debian: apt install graphviz) or save as .dot"
            )
        proc = subprocess.run(
            [exe, f"-T{fmt}", "-o", str(path)], input=self.dot.encode(), capture_output=True
        )
        if proc.returncode != 0:
            raise RuntimeError(f"draw_graph: dot failed: {proc.stderr.decode().strip()}")
        return path


def draw_graph(tensor: Any, params: dict[str, Any] | None = None) -> Graph:
    """The autograd graph that produced ``tensor``; ``params`` (name → Parameter) names leaves.

    >>> import ember
    >>> x = ember.ones(2, 3, requires_grad=True)
    >>> "Exp" in draw_graph((x * 2).exp().sum()).dot
    True
    """
    names = {id(p): n for n, p in (params or {}).items()}
    ids: dict[int, str] = {}  # id(node) or id(leaf tensor) → DOT id
    lines = [
        "digraph autograd {",
        "  rankdir=TB;",
        '  node [fontname="Helvetica", fontsize=10];',
    ]
    edges: list[str] = []
    nodes: list[dict[str, str]] = []
    pairs: list[tuple[str, str]] = []
    keep: list[Any] = []  # hold visited objects so their ids stay unique during the walk

    def visit(t: Any) -> tuple[str, bool]:
        """The DOT id of ``t``'s producer (its node, or ``t`` as a leaf); True if new."""
        key = id(t.node) if t.node is not None else id(t)
        if key in ids:
            return ids[key], False
        ids[key] = f"n{len(ids)}"
        keep.append(t)
        if t.node is not None:
            label = f"{t.node.prim.name}\n{_shape(t)}"
            lines.append(f"  {ids[key]} [label={_quote(label)}, shape=box];")
            nodes.append({"id": ids[key], "label": label, "kind": "op"})
        else:
            name = names.get(id(t))
            label = f"{name}\n{_shape(t)}" if name else _shape(t)
            color = "lightblue" if t.requires_grad else "lightgray"
            lines.append(
                f"  {ids[key]} [label={_quote(label)}, shape=ellipse, style=filled, "
                f'fillcolor="{color}"];'
            )
            kind = "param" if t.requires_grad else "input"
            nodes.append({"id": ids[key], "label": label, "kind": kind})
        return ids[key], True

    stack = [tensor]
    visit(tensor)
    while stack:  # iterative depth-first walk: graphs can be far deeper than the recursion limit
        t = stack.pop()
        node = t.node
        if node is None:
            continue
        if node.inputs is None:
            raise RuntimeError(
                f"draw_graph: {node.name()}'s inputs were freed by backward()\n"
                "hint: draw the graph before backward(), or pass retain_graph=True to it"
            )
        dst = ids[id(node)]
        for x in node.inputs:
            if not hasattr(x, "node"):
                continue
            src, new = visit(x)
            edges.append(f"  {src} -> {dst};")
            pairs.append((src, dst))
            if new:
                stack.append(x)
    lines += edges
    lines.append("}")
    return Graph("\n".join(lines) + "\n", len(ids), len(edges), nodes, pairs)
