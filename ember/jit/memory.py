"""The static memory plan: which buffer each computed value lives in, decided once per graph.

The executor runs a list of steps; each step reads values and writes values, and a step that
can write into given memory (a NumPy ``out=`` kernel or a native kernel) gets its outputs'
buffers from this plan. Three kinds of placement:

* **in place into state**: a value that is written back to graph state (an optimizer update
  ``p - lr * d``, a running statistic) is computed straight into the target array once nothing
  reads the target's old value (or a view of it) any more — no copy back at the end;
* **pooled**: an intermediate value gets a preallocated buffer of its shape and dtype, reused
  by later values once every reader of the earlier value (and of its views) has run;
* **fresh**: values the caller keeps (outputs, new ``.grad`` tensors) and values a kernel
  allocates itself get new memory on every call.

A buffer is reused by a value written at the same step that reads the old value for the last
time only for elementwise steps (they read element ``i`` before writing element ``i``), and
never by the sums of a native kernel's reduction epilogue: a broadcast input of the sum's shape
is read again after a sum is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ember.jit.graph import Graph
from ember.ops.core import VIEW

__all__ = ["StepIO", "MemoryPlan", "plan_memory", "view_owners"]


@dataclass(frozen=True)
class StepIO:
    """What one executor step reads and writes, and whether it writes into given memory."""

    reads: tuple[int, ...]
    writes: tuple[int, ...]
    into: bool = False  # its outputs can be written into given buffers
    elementwise: bool = False  # an output may take the buffer of an input read last here
    reduced: tuple[int, ...] = ()  # writes that are sums (never in place over an input)
    # a multi-tensor step (``ember.jit.multi``): not elementwise across its members, but each
    # output may be computed into the state array that only its own member reads
    own_targets: bool = False


@dataclass
class MemoryPlan:
    """``buffer[v]``: pooled buffer index of value v; ``target[v]``: graph input it is
    computed into; ``done``: indices of ``graph.writes`` made by that; ``dying[p]``: the
    other values read for the last time at step p (the executor drops them)."""

    buffers: list[tuple[tuple[int, ...], Any]] = field(default_factory=list)
    buffer: dict[int, int] = field(default_factory=dict)
    target: dict[int, int] = field(default_factory=dict)
    done: list[int] = field(default_factory=list)
    dying: list[tuple[int, ...]] = field(default_factory=list)
    last: dict[int, int] = field(default_factory=dict)  # value -> last step reading its memory
    defined: dict[int, int] = field(default_factory=dict)  # value -> step writing it

    def nbytes(self) -> int:
        """Bytes of all pooled buffers."""
        total = 0
        for shape, dtype in self.buffers:
            n = dtype.np.itemsize
            for d in shape:
                n *= d
            total += n
        return total


def view_owners(graph: Graph) -> dict[int, frozenset[int]]:
    """For each value that may share memory with another: the values owning that memory."""
    owners: dict[int, frozenset[int]] = {}
    for node in graph.nodes:
        if node.aliasing or node.prim.kind == VIEW:
            owners[node.out] = frozenset((node.out,)).union(
                *(owners.get(v, frozenset((v,))) for v in node.inputs)
            )
    return owners


def plan_memory(graph: Graph, steps: Sequence[StepIO], aliases: set[int]) -> MemoryPlan:
    """Place every value written by ``steps`` (see the module docstring).

    ``aliases`` are values that may share memory with graph inputs or constants: they are
    never pooled or written into.
    """
    plan = MemoryPlan()
    owners = view_owners(graph)
    mine = {v: frozenset((v,)) for v in graph.avals}
    own = owners.get
    roots = graph.roots()
    handed_out = {o for r in roots for o in own(r, mine.get(r, frozenset((r,))))}
    view_read: dict[int, set[int]] = {}  # owner -> steps reading it through a view
    for p, step in enumerate(steps):
        for v in step.writes:
            plan.defined[v] = p
        for v in step.reads:
            for o in own(v, mine[v]):
                plan.last[o] = p
                if o != v:
                    view_read.setdefault(o, set()).add(p)
    inputs = set(graph.inputs)

    # 1. values computed straight into the state they are written back to
    by_value = [v for _, v in graph.writes]
    targeted: set[int] = set()
    for k, (source, v) in enumerate(graph.writes):
        p = plan.defined.get(v)
        t = graph.inputs[graph.sources.index(source)]
        if p is None or not steps[p].into or by_value.count(v) > 1 or t in targeted:
            continue
        if v in aliases or graph.avals[v] != graph.avals[t] or t in handed_out:
            continue
        last = plan.last.get(t, -1)
        in_step = (
            not (steps[p].elementwise or steps[p].own_targets)
            or v in steps[p].reduced
            or p in view_read.get(t, ())
        )
        if last > p or (last == p and in_step):
            continue
        plan.target[v] = t
        targeted.add(t)
        plan.done.append(k)

    # 2. pooled intermediates, by liveness
    pool = {
        v
        for p, step in enumerate(steps)
        if step.into
        for v in step.writes
        if v not in plan.target and v not in aliases and v not in handed_out and v not in inputs
    }
    free: dict[tuple, list[int]] = {}
    dying_at: dict[int, list[int]] = {}
    for v, p in plan.last.items():
        dying_at.setdefault(p, []).append(v)

    def release(p: int, viewed_here: bool | None) -> None:
        """Free the buffers last read at step p (only those read through a view at p, or
        only those not, or all when ``viewed_here`` is None)."""
        for v in dying_at.get(p, ()):
            b = plan.buffer.get(v)
            if b is not None and viewed_here in (None, p in view_read.get(v, ())):
                free.setdefault(plan.buffers[b], []).append(b)

    def place(v: int) -> None:
        aval = graph.avals[v]
        key = (aval.shape, aval.dtype)
        stack = free.get(key)
        if stack:
            plan.buffer[v] = stack.pop()
        else:
            plan.buffer[v] = len(plan.buffers)
            plan.buffers.append(key)

    for p, step in enumerate(steps):
        for v in step.reduced:  # placed before this step's inputs are released
            if v in pool:
                place(v)
        if step.elementwise:  # in place, except over memory read through a view here
            release(p, False)
        for v in step.writes:
            if v in pool and v not in step.reduced:
                place(v)
        release(p, True if step.elementwise else None)
        for v in step.writes:  # written but never read: its buffer is free after this step
            if v in plan.buffer and v not in plan.last:
                free.setdefault(plan.buffers[plan.buffer[v]], []).append(plan.buffer[v])

    keep = set(roots) | inputs | set(graph.constants) | set(plan.buffer) | set(plan.target)
    plan.dying = [tuple(v for v in dying_at.get(p, ()) if v not in keep) for p in range(len(steps))]
    return plan
