"""A compiled step's loop written out as one Python function.

The plan executor's generic loop pays, per step, for unpacking the step, dispatching on its
kind, gathering its inputs, spreading its parameters and clearing the values that die there:
about half a microsecond, as much as a small kernel. A decoded token runs some 170 steps.
``loop_function(steps, host)`` writes the same steps out as straight-line Python instead:
one statement per step with its slots and parameters spelled out; a view handed out again
(``SameView``) and a native kernel on the same arrays as at its last call (``NativeCall``)
are tested inline, without a call through Python. ``bind_function`` writes out the reading
and checking of a call's input arrays the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ember.jit.addresses import NativeCall

__all__ = ["SameView", "bind_function", "loop_function"]

ALLOC, INTO, NATIVE = 0, 1, 2  # the executor's step kinds (see ``ember.jit.executor``)


class SameView:
    """``view`` giving back its last result when called on the very same arrays again.

    A compiled step's views of pooled buffers, state and constants (a head split, a
    transpose) are the same views at every call, yet each costs a NumPy call of 1–2 µs: a
    small step (one decoded token) has dozens. A result that does not share memory with its
    inputs (a reshape that had to copy) is made anew each time."""

    __slots__ = ("view", "seen", "result")

    def __init__(self, view: Callable, arity: int) -> None:
        if arity < 1:
            raise ValueError("SameView: a view of no arrays is not the same view of anything")
        self.view = view
        self.seen: tuple = (None,) * arity  # the arrays of the last call that gave a view
        self.result: Any = None

    def __call__(self, xp: Any, *arrays: Any, **params: Any) -> Any:
        if all(a is b for a, b in zip(arrays, self.seen)):
            return self.result
        result = self.view(xp, *arrays, **params)
        if any(np.may_share_memory(result, a) for a in arrays):
            self.seen, self.result = arrays, result
        return result


def _arguments(k: int, params: dict, names: dict[str, Any]) -> str:
    """The keyword arguments of step ``k``, each value bound to a name in ``names``."""
    if not all(key.isidentifier() for key in params):
        names[f"P{k}"] = params
        return f", **P{k}" if params else ""
    parts = []
    for key, value in params.items():
        names[f"P{k}_{key}"] = value
        parts.append(f", {key}=P{k}_{key}")
    return "".join(parts)


def loop_function(steps: list[tuple], host: bool) -> Callable[[list[Any], Any], None]:
    """``run(env, xp)``: the ``steps`` (``(kind, fn, input slots, params, output slot, dying
    slots)``) run in order on the slot list ``env``, as the executor's loop runs them (on
    ``host`` arrays, a kernel's NumPy scalar is made an array)."""
    names: dict[str, Any] = {"ndarray": np.ndarray, "asarray": np.asarray}
    lines = ["def run(env, xp):"]
    for k, (kind, fn, ins, params, out, dying) in enumerate(steps):
        names[f"F{k}"] = fn
        keywords = _arguments(k, params, names)
        reads = [f"env[{s}]" for s in ins]
        if kind == NATIVE and isinstance(fn, NativeCall) and fn.slots:
            lines.append(f"    last = F{k}.last")
            same = " and ".join(f"env[{s}] is last[{j}]" for j, s in enumerate(fn.slots))
            names[f"K{k}"], names[f"T{k}"] = fn.kernel, fn.table
            lines.append(f"    if last is not None and {same}:")
            lines.append(f"        K{k}(T{k})")
            lines.append("    else:")
            lines.append(f"        F{k}(env{keywords})")
        elif kind == NATIVE:
            lines.append(f"    F{k}(env{keywords})")
        elif kind == INTO:
            args = "".join(f", {r}" for r in reads)
            lines.append(f"    env[{out}] = F{k}(xp{args}, out=env[{out}]{keywords})")
        elif isinstance(fn, SameView):
            local = [f"a{k}_{j}" for j in range(len(ins))]
            lines += [f"    {name} = {r}" for name, r in zip(local, reads)]
            lines.append(f"    seen = F{k}.seen")
            same = " and ".join(f"{name} is seen[{j}]" for j, name in enumerate(local))
            call = f"F{k}(xp{''.join(f', {name}' for name in local)}{keywords})"
            lines.append(f"    env[{out}] = F{k}.result if {same} else {call}")
        else:
            args = "".join(f", {r}" for r in reads)
            lines.append(f"    r = F{k}(xp{args}{keywords})")
            value = "r if type(r) is ndarray else asarray(r)" if host else "r"
            lines.append(f"    env[{out}] = {value}")
        lines += [f"    env[{d}] = None" for d in dying]
    if len(lines) == 1:
        lines.append("    pass")
    exec(compile("\n".join(lines), "<ember.jit step>", "exec"), names)
    return names["run"]


def bind_function(inputs: list[tuple[int, Any, tuple, Any]]) -> Callable[[list], list | None]:
    """``bind(args)``: the input arrays of a call (``inputs``: ``(slot, source, shape,
    dtype)``, the executor's), or None when one is missing or no longer has its shape and
    dtype. Written out like ``loop_function``; an array of a tensor's data or gradient that
    is the very array checked at the last call is not checked again."""
    names: dict[str, Any] = {}
    lines = ["def bind(args):"]
    for k, (_, source, shape, dtype) in enumerate(inputs):
        names[f"S{k}"], names[f"D{k}"] = shape, np.dtype(dtype)
        check = f"x{k}.shape != S{k} or x{k}.dtype != D{k}"
        if source.kind == "arg":
            lines.append(f"    x{k} = args[{source.index}]._data")
            lines.append(f"    if {check}: return None")
            continue
        names[f"T{k}"], names[f"L{k}"] = source.tensor, [None]
        if source.kind == "data":
            lines.append(f"    x{k} = T{k}._data")
        else:
            lines.append(f"    g = T{k}.grad")
            lines.append("    if g is None: return None")
            lines.append(f"    x{k} = g._data")
        lines.append(f"    if x{k} is not L{k}[0]:")
        lines.append(f"        if {check}: return None")
        lines.append(f"        L{k}[0] = x{k}")
    lines.append(f"    return [{', '.join(f'x{k}' for k in range(len(inputs)))}]")
    exec(compile("\n".join(lines), "<ember.jit bind>", "exec"), names)
    return names["bind"]
