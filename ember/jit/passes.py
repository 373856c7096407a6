"""Optimisation passes over the graph IR; each rewrites a Graph in place and is tested alone.

``transpose_matmul`` computes transposed matrix products in the layout they are used in,
``simplify`` (algebraic identities), ``cse`` (common subexpressions), ``fold_constants``
(subgraphs with no graph input) and ``dce`` (dead code) shrink the graph. ``optimize`` runs
them in order and reports the node count after each. Fusion and the memory plan work on the
optimised graph in the executor (``fusion``, ``memory``): the graph itself stays one op per
line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ember.arrays import backend_of
from ember.jit.graph import Graph, Node
from ember.ops.core import Aval, widened, widening
from ember.ops.elementwise import Copy
from ember.ops.linalg import MatMul
from ember.ops.movement import Permute

__all__ = [
    "dce",
    "cse",
    "fold_constants",
    "simplify",
    "transpose_matmul",
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
            forward = node.prim.forward
            low = widening(node.prim, [a.dtype for a in arrays])
            if low is not None:  # as ``apply`` runs it
                forward = widened(forward, low)
            with np.errstate(all="ignore"):
                out = forward(xp, *arrays, **node.params)
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


def _swap_last(ndim: int) -> tuple[int, ...]:
    return (*range(ndim - 2), ndim - 1, ndim - 2)


def transpose_matmul(graph: Graph) -> None:
    """``copy((a @ b).mT)`` → ``b.mT @ a.mT``: one contiguous product instead of a product, a
    strided view and a copy.

    This is the weight gradient of every ``x @ w.mT`` (Linear): backward computes
    ``(x.mT @ g).mT`` and eager copies the view into a contiguous ``.grad``. The rewritten
    product reads ``x.mT.mT``, which ``simplify`` then folds to ``x``. Applies only when the
    product and the view have no other reader.
    """
    readers: dict[int, int] = {}
    for node in graph.nodes:
        for v in node.inputs:
            readers[v] = readers.get(v, 0) + 1
    for v in graph.roots():
        readers[v] = readers.get(v, 0) + 1
    producer = {node.out: node for node in graph.nodes}
    rewritten: list[Node] = []
    for node in graph.nodes:
        view = producer.get(node.inputs[0]) if node.prim is Copy else None
        product = producer.get(view.inputs[0]) if view and view.prim is Permute else None
        if (
            product is None
            or product.prim is not MatMul
            or readers[view.out] != 1
            or readers[product.out] != 1
            or any(len(graph.avals[v].shape) < 2 for v in product.inputs)
            or view.params["dims"] != _swap_last(len(graph.avals[view.out].shape))
        ):
            rewritten.append(node)
            continue
        operands = []
        for v in reversed(product.inputs):  # b.mT, then a.mT
            shape, dims = graph.avals[v].shape, _swap_last(len(graph.avals[v].shape))
            aval = Aval(tuple(shape[d] for d in dims), graph.avals[v].dtype)
            operands.append(graph.new_value(aval))
            rewritten.append(Node(Permute, (v,), {"dims": dims}, operands[-1], aliasing=True))
        rewritten.append(Node(MatMul, tuple(operands), {}, node.out))
    graph.nodes = rewritten


PASSES: list[tuple[str, Callable[[Graph], None]]] = [
    ("transpose_matmul", transpose_matmul),
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
