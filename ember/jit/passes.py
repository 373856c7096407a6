"""Optimisation passes over the graph IR; each rewrites a Graph in place and is tested alone.

``simplify`` (algebraic identities), ``cse`` (common subexpressions), ``fold_constants``
(subgraphs with no graph input) and ``dce`` (dead code) shrink the graph; ``last_uses``
computes, for the executor, which values die after each node so their buffers are freed early.
``optimize`` runs them in order and reports the node count after each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ember.backends import backend_of
from ember.jit.graph import Graph, Node
from ember.ops.core import VIEW

__all__ = [
    "dce",
    "cse",
    "fold_constants",
    "simplify",
    "last_uses",
    "plan_buffers",
    "optimize",
    "PASSES",
]


def dce(graph: Graph) -> None:
    """Drop nodes whose value reaches no output or write-back, and unused constants."""
    live = set(graph.roots())
    kept: list[Node] = []
    for node in reversed(graph.nodes):
        if node.out in live:
            kept.append(node)
            live.update(node.inputs)
    kept.reverse()
    graph.nodes = kept
    graph.constants = {v: c for v, c in graph.constants.items() if v in live}


def _params_key(params: dict[str, Any]) -> Any:
    try:
        key = tuple(sorted(params.items()))
        hash(key)
    except TypeError:
        return None
    return key


def cse(graph: Graph) -> None:
    """Merge equal small constants, then nodes applying one primitive to the same values."""
    seen: dict[tuple, int] = {}
    mapping: dict[int, int] = {}
    for v, c in list(graph.constants.items()):
        if c.size <= 64:
            key = ("const", c.dtype.str, c.shape, backend_of(c).to_host(c).tobytes())
            first = seen.setdefault(key, v)
            if first != v:
                mapping[v] = first
                del graph.constants[v]
    kept: list[Node] = []
    for node in graph.nodes:
        node.inputs = tuple(mapping.get(v, v) for v in node.inputs)
        params = _params_key(node.params)
        key = None if params is None else (node.prim, node.inputs, params)
        if key is not None and key in seen:
            mapping[node.out] = seen[key]
            continue
        if key is not None:
            seen[key] = node.out
        kept.append(node)
    graph.nodes = kept
    graph.rename(mapping)


def fold_constants(graph: Graph) -> None:
    """Evaluate nodes whose inputs are all constants once, at compile time."""
    kept: list[Node] = []
    for node in graph.nodes:
        if node.inputs and all(v in graph.constants for v in node.inputs):
            arrays = [graph.constants[v] for v in node.inputs]
            xp = backend_of(arrays[0]).xp
            with np.errstate(all="ignore"):
                out = node.prim.forward(xp, *arrays, **node.params)
            graph.constants[node.out] = xp.asarray(out)
        else:
            kept.append(node)
    graph.nodes = kept


def _const_equal(graph: Graph, vid: int, value: float) -> bool:
    c = graph.constants.get(vid)
    return c is not None and c.size <= 64 and bool((c == value).all())


def _identity_operand(graph: Graph, node: Node) -> int | None:
    """For ``x * 1``, ``x + 0``, ``x - 0``, ``x / 1``: the operand ``x`` (else None)."""
    name, ins = node.prim.name, node.inputs
    if len(ins) != 2:
        return None
    a, b = ins
    candidates: list[tuple[int, int, float]] = []
    if name in ("Mul", "Add"):
        unit = 1.0 if name == "Mul" else 0.0
        candidates = [(a, b, unit), (b, a, unit)]
    elif name in ("Sub", "Div"):
        candidates = [(a, b, 0.0 if name == "Sub" else 1.0)]
    out = graph.avals[node.out]
    for x, c, unit in candidates:
        if graph.avals[x] == out and _const_equal(graph, c, unit):
            return x
    return None


def simplify(graph: Graph) -> None:
    """Algebraic identities: x*1, x+0, x-0, x/1; permute∘permute; reshape∘reshape."""
    producer: dict[int, Node] = {}
    mapping: dict[int, int] = {}
    kept: list[Node] = []
    for node in graph.nodes:
        node.inputs = tuple(mapping.get(v, v) for v in node.inputs)
        name = node.prim.name
        same = _identity_operand(graph, node)
        if same is None and name in ("Permute", "Reshape"):
            inner = producer.get(node.inputs[0])
            if inner is not None and inner.prim is node.prim:
                if name == "Permute":
                    inner_dims = inner.params["dims"]
                    node.params = {"dims": tuple(inner_dims[d] for d in node.params["dims"])}
                node.inputs = inner.inputs
            source_aval = graph.avals[node.inputs[0]]
            dims = node.params.get("dims")
            if (name == "Reshape" and source_aval == graph.avals[node.out]) or (
                dims is not None and dims == tuple(range(len(dims)))
            ):
                same = node.inputs[0]
        if same is not None:
            mapping[node.out] = same
            continue
        producer[node.out] = node
        kept.append(node)
    graph.nodes = kept
    graph.rename(mapping)


def last_uses(graph: Graph) -> list[tuple[int, ...]]:
    """For each node, the values read for the last time there (the executor frees them)."""
    keep = set(graph.roots()) | set(graph.constants) | set(graph.inputs)
    seen: set[int] = set()
    out: list[tuple[int, ...]] = []
    for node in reversed(graph.nodes):
        dying = tuple(v for v in dict.fromkeys(node.inputs) if v not in seen and v not in keep)
        seen.update(node.inputs)
        out.append(dying)
    out.reverse()
    return out


# primitives whose kernel is exactly this ufunc, so they can write into a given buffer
UFUNCS = {
    "Add": "add",
    "Sub": "subtract",
    "Mul": "multiply",
    "Div": "true_divide",
    "Neg": "negative",
    "Exp": "exp",
    "Sqrt": "sqrt",
    "Maximum": "maximum",
}


def _aliasing(node: Node) -> bool:
    return node.aliasing or node.prim.kind is VIEW


def _input_aliases(graph: Graph) -> dict[int, set[int]]:
    """For each value that may share memory with graph inputs: those inputs."""
    roots: dict[int, set[int]] = {v: {v} for v in graph.inputs}
    for node in graph.nodes:
        if _aliasing(node):
            shared = set().union(*(roots.get(v, ()) for v in node.inputs))
            if shared:
                roots[node.out] = shared
    return roots


def plan_buffers(
    graph: Graph, dying: list[tuple[int, ...]] | None = None
) -> tuple[dict[int, int], list[int]]:
    """Which ufunc nodes write into an existing buffer instead of a new array.

    Returns ``({node index: value whose buffer it overwrites}, [indices of graph.writes done
    in place])``. Two cases: the node computing a write-back (an optimizer update ``p - lr*d``)
    writes straight into the target once nothing reads the target's old value (or a view of
    it) any more; and a node reuses the buffer of an input that dies there, owns its memory
    and is seen by no view. ``dying`` is ``last_uses(graph)`` when the caller has it.
    """
    where = {n.out: i for i, n in enumerate(graph.nodes)}
    aliases = _input_aliases(graph)
    last_read: dict[int, int] = {}  # input -> last node reading it or a view of it
    for i, node in enumerate(graph.nodes):
        for v in node.inputs:
            for r in aliases.get(v, ()):
                last_read[r] = i
    # inputs whose old value (or a view of it) is handed out or written elsewhere at the end
    handed_out = {r for v in graph.roots() for r in aliases.get(v, ())}
    plan: dict[int, int] = {}
    done: list[int] = []
    taken: set[int] = set()  # node outputs that now live in a target's memory
    by_value = [v for _, v in graph.writes]
    for k, (source, v) in enumerate(graph.writes):
        i = where.get(v)
        target = graph.inputs[graph.sources.index(source)]
        if i is None or graph.nodes[i].prim.name not in UFUNCS or by_value.count(v) > 1:
            continue
        if graph.avals[v] != graph.avals[target] or last_read.get(target, -1) > i:
            continue
        if target in handed_out:
            continue
        plan[i] = target
        taken.add(v)
        done.append(k)
    dying = last_uses(graph) if dying is None else dying
    viewed = {v for n in graph.nodes if _aliasing(n) for v in n.inputs}
    for i, node in enumerate(graph.nodes):
        if i in plan or node.prim.name not in UFUNCS:
            continue
        for v in node.inputs:
            owner = where.get(v)
            if (
                v in dying[i]
                and owner is not None
                and not _aliasing(graph.nodes[owner])
                and v not in viewed
                and v not in taken
                and graph.avals[v] == graph.avals[node.out]
            ):
                plan[i] = v
                break
    return plan, done


PASSES: list[tuple[str, Callable[[Graph], None]]] = [
    ("simplify", simplify),
    ("cse", cse),
    ("fold_constants", fold_constants),
    ("dce", dce),
]


def optimize(graph: Graph) -> list[tuple[str, int]]:
    """Run every pass in order; returns ``[("traced", n), (pass name, n after it), …]``."""
    counts = [("traced", len(graph.nodes))]
    for name, run in PASSES:
        run(graph)
        counts.append((name, len(graph.nodes)))
    return counts
