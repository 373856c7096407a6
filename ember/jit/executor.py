"""The plan executor: runs an optimised graph as a flat list of kernel calls on raw arrays.

No Tensor objects, no autograd and no ``apply`` in the loop: each step is
``slots[out] = prim.forward(xp, *slots[ins], **params)``, and values are dropped after their
last use so their memory is freed early. Afterwards the mutated state is written back in place
(``target[...] = value``) and new ``.grad`` tensors are attached.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ember.backends import backend_of
from ember.jit.graph import Graph, Source
from ember.jit.passes import UFUNCS, last_uses, plan_buffers
from ember.tensor import Tensor

__all__ = ["Executor"]

_wrap = Tensor._wrap


def _into(name: str) -> Any:
    """A kernel calling the ufunc ``name`` with its last argument as the output buffer."""

    def run(xp: Any, *arrays: Any) -> Any:
        return getattr(xp, name)(*arrays[:-1], out=arrays[-1])

    return run


def resolve(source: Source, args: list[Tensor]) -> Any:
    """The array behind ``source`` now (None when a ``.grad`` is missing)."""
    if source.kind == "arg":
        return args[source.index]._data
    if source.kind == "data":
        return source.tensor._data
    grad = source.tensor.grad
    return None if grad is None else grad._data


class Executor:
    """A graph compiled into slots and steps (see the module docstring)."""

    def __init__(self, graph: Graph, aliases: set[int]) -> None:
        self.graph = graph
        slot: dict[int, int] = {}
        for v in [*graph.inputs, *graph.constants, *(n.out for n in graph.nodes)]:
            slot.setdefault(v, len(slot))
        for v in graph.roots():  # a root may be an input, a constant or a node output
            slot.setdefault(v, len(slot))
        self.size = len(slot)
        self.inputs = [
            (slot[v], s, graph.avals[v].shape, graph.avals[v].dtype.np)
            for v, s in zip(graph.inputs, graph.sources)
        ]
        self.constants = [(slot[v], c) for v, c in graph.constants.items()]
        dying_at = last_uses(graph)
        plan, done = plan_buffers(graph, dying_at)
        self.steps = []
        for i, (n, dying) in enumerate(zip(graph.nodes, dying_at)):
            forward, ins = n.prim.forward, tuple(slot[v] for v in n.inputs)
            if i in plan:  # write into a dead input's buffer, or straight into the target
                forward, ins = _into(UFUNCS[n.prim.name]), (*ins, slot[plan[i]])
                if plan[i] in graph.inputs:
                    aliases = aliases | {n.out}
            self.steps.append((forward, ins, n.params, slot[n.out], tuple(slot[v] for v in dying)))
        self.outputs = [slot[v] for v in graph.outputs]
        owned: set[int] = set()
        # values handed out (returned, or attached as .grad) must own fresh memory
        self.out_copy = []
        for v in graph.outputs:
            self.out_copy.append(v in aliases or v in owned)
            owned.add(v)
        self.writes = [
            (s, slot[v], v in aliases) for k, (s, v) in enumerate(graph.writes) if k not in done
        ]
        self.in_place = len(plan)
        self.grad_sets = []
        for t, v in graph.grad_sets:
            if v is None:
                self.grad_sets.append((t, None, False))
            else:
                self.grad_sets.append((t, slot[v], v in aliases or v in owned))
                owned.add(v)
        xp = None
        for _, s, *_ in self.inputs:
            if s.kind == "data":
                xp = backend_of(s.tensor._data).xp
                break
        self.xp = xp

    def bind(self, args: list[Tensor]) -> list[Any] | None:
        """The input arrays for this call, or None if one no longer matches the graph."""
        arrays = []
        for _, source, shape, dtype in self.inputs:
            arr = resolve(source, args)
            if arr is None or arr.shape != shape or arr.dtype != dtype:
                return None
            arrays.append(arr)
        return arrays

    def run(self, args: list[Tensor], arrays: list[Any]) -> list[Tensor]:
        """Execute the steps, write the state back, and return the outputs as tensors."""
        env: list[Any] = [None] * self.size
        for (slot, *_), arr in zip(self.inputs, arrays):
            env[slot] = arr
        for slot, c in self.constants:
            env[slot] = c
        xp = self.xp
        if xp is None:
            xp = backend_of(arrays[0]).xp if arrays else np
        host = xp is np
        ndarray, asarray = np.ndarray, np.asarray
        with np.errstate(all="ignore"):  # like the quiet kernels in eager mode: no warnings
            for forward, ins, params, out, dying in self.steps:
                r = forward(xp, *[env[i] for i in ins], **params)
                if host and type(r) is not ndarray:
                    r = asarray(r)
                env[out] = r
                for d in dying:
                    env[d] = None
        results = [
            _wrap(env[s].copy() if copy else env[s]) for s, copy in zip(self.outputs, self.out_copy)
        ]
        # read every value before writing any target: a value may be a view of a target
        pending = [(s, env[v].copy() if copy else env[v]) for s, v, copy in self.writes]
        for source, value in pending:
            resolve(source, args)[...] = value
        for t, s, copy in self.grad_sets:
            if s is None:
                t.grad = None
            else:
                t.grad = _wrap(env[s].copy() if copy else env[s])
        return results
