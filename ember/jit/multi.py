"""Multi-tensor kernels: one native call for the fused groups of one rule over many tensors.

An optimizer's rule, traced by ``ember.jit``, becomes a fused group per parameter (or per
parameter shape), each with its own native kernel and its own call from the executor, plus a
few small groups of scalar work (Adam's bias corrections). ``classes`` finds the groups that
apply the same ops (the same primitives in the same order, one dtype, no reduction
epilogue) and can run together, at the position of the last of them; the executor then
compiles one C entry point per class that calls every member's kernel, and makes one call
from Python per class instead of one per group.

A class may not change what the step computes:

* **Order**: the class runs right after the last step making one of its inputs, so every
  member moves there; nothing before that may read a member's values, and no member may
  read a value computed by another member of the class (checked over the final schedule).
* **Memory**: members run one after another inside the call, so no member may write what a
  later one reads. The memory plan gives no output of the call the buffer of a value the
  call reads, except a state array, into which an output may be computed
  (``StepIO.own_targets``) because no two members read the same state array.

Scalar groups (one element each, such as the bias corrections) join a class as C even when
a member calls libm: for one element NumPy's SIMD loops buy nothing, and the class saves a
NumPy call per op.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ember.jit.addresses import NativeCall, Operands
from ember.jit.fusion import Group
from ember.jit.graph import Graph
from ember.jit.memory import view_owners
from ember.ops.core import ELEMENTWISE

__all__ = ["Class", "classes", "wrapper_source", "multi_step"]


def _signature(group: Group, graph: Graph) -> tuple:
    """What two groups of one class share: dtype, whether they are scalar, and their ops."""
    ops = tuple(graph.nodes[i].prim.__name__ for i in group.nodes)
    return group.dtype.name, _size(group.shape) == 1, ops


@dataclass(frozen=True)
class Class:
    """Fused groups (``members``: indices, in trace order) run by one call, or lone scalar
    nodes (``lone``: ``members`` are node indices) run one by one, at position ``at`` of the
    schedule: between two node indices, after every step making one of their inputs."""

    members: list[int]
    at: float
    lone: bool = False


def classes(groups: list[Group], chosen: list[bool], graph: Graph) -> list[Class]:
    """The classes that run together (two or more members each). ``chosen`` marks the groups
    compiled to C; a scalar group that C can compile joins a class even when it was not
    chosen, and lone scalar nodes of one kind (the casts of Adam's bias corrections) form
    classes too, moved so that the classes reading them can form (module docstring)."""
    units = list(groups)  # the groups, then a one-node unit per lone scalar node
    grouped = {i for g in groups for i in g.nodes + g.reductions}
    candidates: dict[tuple, list[int]] = {}
    for k, g in enumerate(groups):
        eligible = chosen[k] or (_size(g.shape) == 1 and g.native)
        if eligible and not g.reductions and g.nodes:
            candidates.setdefault(_signature(g, graph), []).append(k)
    for i, node in enumerate(graph.nodes):
        out = graph.avals[node.out]
        if i in grouped or node.prim.kind != ELEMENTWISE or node.aliasing or _size(out.shape) != 1:
            continue
        units.append(Group([i], out.shape, out.dtype, list(node.inputs), [node.out]))
        ins = tuple(graph.avals[v].dtype.name for v in node.inputs)
        key = ("lone", node.prim.__name__, repr(node.params), ins, out.dtype.name)
        candidates.setdefault(key, []).append(len(units) - 1)
    owners = view_owners(graph)
    written = {graph.inputs[graph.sources.index(s)] for s, _ in graph.writes}
    found = []
    for members in candidates.values():
        members = _disjoint(members, units, owners, written)
        if len(members) > 1:
            found.append(members)
    placed = _schedulable(found, units, graph)
    lone = len(groups)
    return [
        Class([units[k].nodes[0] for k in c.members], c.at, True) if c.members[0] >= lone else c
        for c in placed
    ]


def _size(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _disjoint(
    members: list[int], groups: list[Group], owners: dict[int, frozenset[int]], written: set[int]
) -> list[int]:
    """The members (in order) that read no state array (a ``written`` graph input, directly
    or through a view) that an earlier kept member reads: each member may compute its new
    state into the old one's memory while the others run."""
    taken: set[int] = set()
    kept = []
    for k in members:
        state = {o for v in groups[k].inputs for o in owners.get(v, (v,)) if o in written}
        if not state & taken:
            taken |= state
            kept.append(k)
    return kept


def _schedulable(found: list[list[int]], groups: list[Group], graph: Graph) -> list[Class]:
    """The classes placed where they can run (``_place``), dropping, one at a time, a class
    that would leave a value read before it is made."""
    while True:
        placed = _place(found, groups, graph)
        bad = _first_violation(placed, groups, graph)
        if bad is None:
            return placed
        found = [c for c in found if c is not bad.members]


def _place(found: list[list[int]], groups: list[Group], graph: Graph) -> list[Class]:
    """Each class just after the last step that makes one of its inputs: a position between
    two nodes' (a group runs at its last node's position, a lone node at its own), or just
    after a class it reads from."""
    where = {v: float(g.nodes[-1]) for g in groups for v in g.outputs}
    for i, node in enumerate(graph.nodes):
        where.setdefault(node.out, float(i))
    at = [-1.0] * len(found)
    for _ in range(len(found)):  # a class reading another's outputs goes after it
        for c, members in enumerate(found):
            made = max(
                (where.get(v, -1.0) for k in members for v in groups[k].inputs), default=-1.0
            )
            at[c] = made + (math.floor(made) + 1 - made) / 2
            for k in members:
                for v in groups[k].outputs:
                    where[v] = at[c]
    return [Class(members, a) for members, a in zip(found, at)]


def _first_violation(placed: list[Class], groups: list[Group], graph: Graph) -> Class | None:
    """A class that would read a value before it is made, or have it read early, or None. A
    step runs at its position: a group's last node's, a lone node's own, a class's; a node may
    read a value made at an earlier position or by its own group."""
    where: dict[int, tuple[float, Any]] = {}  # node -> (position, the step running it)
    for k, g in enumerate(groups):
        for i in g.nodes + g.reductions:
            where[i] = (float(g.nodes[-1]), ("group", k))
    of_class: dict[int, Class] = {}
    for c in placed:
        for k in c.members:
            for i in groups[k].nodes:
                where[i] = (c.at, ("group", k))
                of_class[i] = c
    producer = {node.out: i for i, node in enumerate(graph.nodes)}
    for i, node in enumerate(graph.nodes):
        at, step = where.get(i, (float(i), ("node", i)))
        for v in node.inputs:
            j = producer.get(v)
            if j is None:
                continue
            made_at, maker = where.get(j, (float(j), ("node", j)))
            if maker == step:
                continue
            if made_at >= at or (i in of_class and of_class.get(j) is of_class[i]):
                return of_class.get(i) or of_class.get(j)
    return None


def wrapper_source(name: str, members: list[tuple[str, int]]) -> str:
    """C source of ``name(void **p)``: calls each member kernel ``(fn, operand count)`` on
    the next operands of ``p``, in order."""
    lines, at = [f"void {name}(void **p) {{"], 0
    for fn, count in members:
        args = ", ".join(f"p[{at + k}]" for k in range(count))
        lines.append(f"  {fn}({args});")
        at += count
    return "\n".join(lines + ["}"])


def multi_step(
    kernel: Any,
    members: list[tuple[list[int], list[tuple[int, bool, tuple[int, ...], Any]]]],
    fallback: list[Callable[[list[Any]], None]],
) -> NativeCall:
    """A step running a class: one call of the wrapper ``kernel`` over every member's
    operands, ``(input slots, [(output slot, fresh, shape, dtype)])`` each. When an operand is not
    C-contiguous (the member kernels read C order) the members run one by one through their
    own steps, ``fallback``, which handle other layouts."""
    fresh = [(s, shape, dtype) for _, outs in members for s, new, shape, dtype in outs if new]
    slots = [s for ins, outs in members for s in [*ins, *(s for s, *_ in outs)]]
    operands = Operands(len(slots))

    def fill(env: list[Any]) -> bool:
        """The operands' addresses into ``operands``; False at the first not C-contiguous."""
        for s, shape, dtype in fresh:
            env[s] = np.empty(shape, dtype)
        see = operands.see
        for at, s in enumerate(slots):
            if not see(at, env[s]):
                return False
        return True

    step = NativeCall(None, kernel, operands.table, tuple(slots))

    def run(env: list[Any], **params: Any) -> None:
        step.last = None
        if fill(env):
            kernel(operands.table)
            if not fresh:
                step.last = tuple([env[s] for s in slots])
            return
        for member in fallback:
            member(env)

    step.run = run
    return step
