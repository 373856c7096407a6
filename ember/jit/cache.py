"""Guards: what a compiled graph is specialised on, as a hashable key per call.

The key lists named parts so that a retrace warning can say which one keeps changing: grad
mode, each argument (tensors by shape, dtype, device and requires_grad; Python values by
value), and the state of the modules and optimizers the function reaches (training flags,
which gradients exist, the optimizer's hyperparameters and per-parameter state, whose Python
numbers such as Adam's step count are baked into the graph).
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import Any

from ember import structure
from ember.autograd.grad_mode import STATE
from ember.config import config
from ember.jit.trace import _is_module, _is_optimizer
from ember.tensor import Tensor

__all__ = ["flatten_args", "guard_key", "GraphCache"]

_STATIC = (int, float, bool, str, bytes, type(None), complex)


def _tensor_sig(t: Tensor) -> tuple:
    """Shape, dtype, array type and requires_grad (the dtype and type objects themselves:
    ``dtype.str`` builds a new string at every call)."""
    data = t._data
    return ("tensor", data.shape, data.dtype, type(data), t.requires_grad)


def flatten_args(obj: Any, tensors: list[Tensor]) -> Any:
    """A hashable description of ``obj``; its tensors are appended to ``tensors`` in order."""
    if isinstance(obj, Tensor):
        tensors.append(obj)
        return _tensor_sig(obj)
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, tuple(flatten_args(x, tensors) for x in obj))
    if isinstance(obj, dict):
        return ("dict", tuple((k, flatten_args(v, tensors)) for k, v in obj.items()))
    if isinstance(obj, _STATIC):
        return (type(obj).__name__, obj)
    return ("object", type(obj).__name__, id(obj))


def _value_sig(v: Any) -> Any:
    if isinstance(v, Tensor):
        return _tensor_sig(v)
    if isinstance(v, (list, tuple)):
        return tuple(_value_sig(x) for x in v)
    return v if isinstance(v, _STATIC) else (type(v).__name__, id(v))


def _walk(root: Any) -> tuple[tuple, tuple, tuple]:
    """Each module's training flag, its parameters and their identities (a graph reads the
    parameter objects it was traced with), in ``modules()`` order; walked over
    ``_modules`` directly, without the names ``modules()`` builds, and with plain loops over
    bound appends (a list comprehension per module costs a call each)."""
    flags, params, seen, stack = [], [], set(), [root]
    flag, param, mark, push = flags.append, params.append, seen.add, stack.extend
    while stack:
        m = stack.pop()
        if m is None or id(m) in seen:
            continue
        mark(id(m))
        flag(m.training)
        for p in m._parameters.values():
            if p is not None:
                param(p)
        push(reversed(m._modules.values()))
    return tuple(flags), tuple(params), tuple(map(id, params))


# root module -> (structure version, its walk)
_walks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _module_sig(root: Any) -> tuple:
    """The modules' training flags, their parameter objects and which have no gradient. The
    walk is reused while no module changed (``ember.structure``); the gradients are read at
    every call. (A parameter's identity cannot be that of a new one: the graphs traced with it
    keep it alive.)"""
    now = structure.version()
    try:
        entry = _walks.get(root)
        if entry is None or entry[0] != now:
            entry = _walks[root] = (now, _walk(root))
    except TypeError:  # a module that cannot be weakly referenced or hashed
        entry = (now, _walk(root))
    flags, params, ids = entry[1]
    return (flags, ids, tuple([p.grad is None for p in params]))


def _entry_sig(v: Any) -> Any:
    return _tensor_sig(v) if isinstance(v, Tensor) else _value_sig(v)


def _optimizer_sig(opt: Any) -> tuple:
    """Per group: its hyperparameters (a float lr only by type: it is an input of the graph,
    see ``JitFunction._learning_rates``), and per parameter whether it has a gradient and the
    signature of its state."""
    groups, state = [], opt.state
    for group in opt.param_groups:
        hyper = tuple(
            (k, type(v).__name__ if k == "lr" and type(v) is float else _value_sig(v))
            for k, v in group.items()
            if k != "params"
        )
        per_param = []
        for p in group["params"]:
            entries = state.get(p)
            sig = tuple([(k, _entry_sig(v)) for k, v in entries.items()]) if entries else ()
            per_param.append((p.grad is None, sig))
        groups.append((hyper, tuple(per_param)))
    return tuple(groups)


def _state_sig(obj: Any) -> Any:
    """The Python-side state of a module, optimizer or tensor that the trace depends on."""
    if isinstance(obj, Tensor):
        return (_tensor_sig(obj), obj.grad is None)
    if _is_module(obj):
        return _module_sig(obj)
    if _is_optimizer(obj):
        return _optimizer_sig(obj)
    return None


def guard_key(
    arg_names: list[str],
    arg_sigs: list[Any],
    roots: list[tuple[str, Any]],
    statics: list[tuple[str, Any]],
) -> tuple:
    """The cache key: ``((name, signature), …)`` for grad mode, autocast (a trace records
    the casts its policy made), the ``ember.config`` fields that shape a compile, arguments
    and reached state."""
    settings = (
        config.jit_native,
        config.jit_fuse_reductions,
        config.jit_parallel_min,
        config.jit_parallel_min_pooled,
    )
    autocast = tuple(sorted((d, t.name) for d, t in (STATE.autocast or {}).items()))
    parts: list[tuple[str, Any]] = [
        ("grad mode", STATE.grad_enabled),
        ("autocast", autocast),
        ("ember.config", settings),
    ]
    parts += list(zip(arg_names, arg_sigs))
    parts += [(f"state of {name}", _state_sig(obj)) for name, obj in roots]
    parts += [(f"Python value {name}", (type(v).__name__, v)) for name, v in statics]
    return tuple(parts)


def _state_keys(old: Any, new: Any) -> set[str]:
    """The optimizer state entries (e.g. 'step') that differ between two signatures."""
    keys: set[str] = set()
    if not (isinstance(old, tuple) and isinstance(new, tuple) and len(old) == len(new)):
        return keys
    for (_, params_old), (_, params_new) in zip(old, new):
        for (_, st_old), (_, st_new) in zip(params_old, params_new):
            before = dict(st_old)
            keys.update(k for k, v in st_new if before.get(k) != v)
    return keys


def changed_parts(old: tuple, new: tuple) -> list[str]:
    """Names of the guard parts that differ between two keys."""
    before = dict(old)
    parts = []
    for name, sig in new:
        if before.get(name, sig) != sig:
            keys = _state_keys(before[name], sig) if name.startswith("state of") else set()
            parts.append(name + (f" ({', '.join(sorted(keys))})" if keys else ""))
    return parts or ["the call signature"]


class GraphCache:
    """A bounded LRU cache of compiled graphs keyed by the guard key."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.entries: OrderedDict[tuple, Any] = OrderedDict()

    def get(self, key: tuple) -> Any:
        entry = self.entries.get(key)
        if entry is not None:
            self.entries.move_to_end(key)
        return entry

    def put(self, key: tuple, entry: Any) -> bool:
        """Store ``entry``; returns True when an older entry had to be evicted."""
        self.entries[key] = entry
        self.entries.move_to_end(key)
        if len(self.entries) > self.size:
            self.entries.popitem(last=False)
            return True
        return False

    def __len__(self) -> int:
        return len(self.entries)
