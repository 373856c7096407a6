"""Tracing: run a function eagerly once while recording every ``apply`` into a Graph.

The tracer sits behind ``STATE.tracer``; ``apply`` hands it each call, and it runs the
primitive eagerly (so the traced call returns the right result and autograd works as usual)
while recording a node. Values are identified by their backend array: a tensor handle that is
created without an op (``detach()``, ``.data``) shares its array and so its value. An array the
tracer has not seen before is state read from outside: a tensor argument, a parameter, buffer,
optimizer state or ``.grad`` reachable from the function (see ``scan_roots``), which becomes a
graph input; or a tensor made during the call without an op (``zeros``, Python scalars), which
becomes a constant. In-place writes (``ops.core.inplace``) re-bind the written array to a new
value; at the end, state whose array holds a new value is written back.

Random draws (``ember.random.sample``: rand, randn, dropout masks, …) become ``Sample`` nodes
that call the generator again on every replay, in the traced order, so a compiled step draws
the same numbers as eager steps from the same seed and leaves the generator in the same state.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import ember
from ember.autograd.grad_mode import STATE
from ember.jit.graph import Graph, Node, Source
from ember.ops.core import OPAQUE, VIEW, Primitive, apply
from ember.ops.elementwise import Copy
from ember.tensor import Tensor

__all__ = ["JitError", "Tracer", "Sample", "scan_roots", "user_line"]

_EMBER_DIR = os.path.dirname(os.path.abspath(ember.__file__)) + os.sep


class JitError(RuntimeError):
    """Raised when a function cannot be traced into a graph (with the line and a hint)."""


def user_line() -> str:
    """``file:line: source`` of the innermost frame outside the ember package."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_EMBER_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    import linecache

    code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return f"{frame.f_code.co_filename}:{frame.f_lineno}: {code}"


class Sample(Primitive):
    """A random draw in a graph: no inputs; ``forward`` draws anew from the generator.

    Impure: passes must keep every Sample node and the order of Samples (the tracer makes each
    one a graph output so dead-code elimination keeps it).
    """

    abstract = True  # graph-only: never applied eagerly, so not in the op database
    kind = OPAQUE
    differentiable = False

    @staticmethod
    def forward(xp: Any, *, draw: Callable[[], Any]) -> Any:
        return draw()


class _Draw:
    """The ``draw`` parameter of a Sample node: calls ``produce`` and returns its array."""

    def __init__(self, produce: Callable[[], Tensor], aval: Any) -> None:
        self.produce, self.aval = produce, aval

    def __call__(self) -> Any:
        return self.produce()._data

    def __repr__(self) -> str:
        return f"draw({self.aval!r})"


def _root(arr: Any) -> Any:
    """The array that owns ``arr``'s memory (views share it with their base)."""
    base = arr.base
    return arr if base is None else base


def _is_module(obj: Any) -> bool:
    return hasattr(obj, "named_parameters") and hasattr(obj, "training") and hasattr(obj, "modules")


def _is_optimizer(obj: Any) -> bool:
    return hasattr(obj, "param_groups") and isinstance(getattr(obj, "state", None), dict)


def _children(obj: Any) -> list[tuple[str, Any]]:
    """Named objects one level inside ``obj`` that may hold tensors, modules or optimizers;
    ``obj`` is none of those itself (``scan_roots`` tests that first)."""
    if isinstance(obj, dict):
        return [(repr(k), v) for k, v in obj.items()]
    if isinstance(obj, (list, tuple)):
        return [(f"[{i}]", v) for i, v in enumerate(obj)]
    d = getattr(obj, "__dict__", None)
    if isinstance(d, dict) and not isinstance(obj, type):
        return [(f".{k}", v) for k, v in d.items()]
    return []


# neither state nor followed; a Python module is tested first: probing its attribute hook for
# module or optimizer attributes is costly (ember has one)
_SKIPPED = (type(sys), str, bytes, int, float, bool)


def scan_roots(named: list[tuple[str, Any]], depth: int = 3) -> list[tuple[str, Any]]:
    """Tensors, modules and optimizers reachable from ``named`` roots (containers followed)."""
    found: list[tuple[str, Any]] = []
    seen: set[int] = set()
    stack = [(name, obj, depth) for name, obj in reversed(named)]
    while stack:
        name, obj, left = stack.pop()
        if id(obj) in seen or obj is None or isinstance(obj, _SKIPPED):
            continue
        seen.add(id(obj))
        if isinstance(obj, Tensor) or _is_module(obj) or _is_optimizer(obj):
            found.append((name, obj))
        elif left > 0:
            stack += [(name + k, v, left - 1) for k, v in reversed(_children(obj))]
    return found


def state_tensors(found: list[tuple[str, Any]]) -> list[Tensor]:
    """Every tensor that is state of the roots: parameters, buffers, optimizer state."""
    out: list[Tensor] = []
    for _, obj in found:
        if isinstance(obj, Tensor):
            out.append(obj)
        elif _is_module(obj):
            out += list(obj.parameters())
            out += list(obj.buffers())
        else:
            for group in obj.param_groups:
                out += group["params"]
            for state in obj.state.values():
                out += [v for v in state.values() if isinstance(v, Tensor)]
    return out


class Tracer:
    """Records ``apply`` calls into ``graph`` while running them eagerly."""

    def __init__(self, name: str, args: list[Tensor], state: list[Tensor], fallback: bool):
        self.name, self.fallback = name, fallback
        self.graph = Graph()
        self.aborted: str | None = None
        # id(array) -> (value id, id(root array), write epoch of that root, array kept alive)
        self.values: dict[int, tuple[int, int, int, Any]] = {}
        self.epoch: dict[int, int] = {}
        self.aliases: set[int] = set()  # values that may share memory with inputs/constants
        self.candidates: dict[int, tuple[Tensor, Any]] = {}  # unknown value -> (tensor, copy)
        self.input_of: dict[tuple, int] = {}  # source key -> input value
        self.sources: dict[int, Source] = {}  # input value -> source
        self.known: dict[int, tuple[tuple, Source, Any]] = {}  # id(array) -> state it is
        self.key_arr: dict[tuple, Any] = {}  # state key -> its array
        self.start_grads: dict[int, tuple[Tensor, Any]] = {}
        self.draws: list[int] = []  # values of Sample nodes
        self.rng = _rng_state()  # the default generator's state after the last recorded draw
        for i, t in enumerate(args):
            self._know(t._data, ("arg", i), Source("arg", i))
        self.add_state(state, start=True)

    # -- state bookkeeping -------------------------------------------------------------------
    def _know(self, arr: Any, key: tuple, source: Source) -> None:
        if id(arr) not in self.known:
            self.known[id(arr)] = (key, source, arr)
            self.key_arr.setdefault(key, arr)

    def add_state(self, tensors: list[Tensor], start: bool = False) -> None:
        """Register state tensors (and their grads) as possible graph inputs."""
        for t in tensors:
            n = len(self.known)
            self._know(t._data, ("data", id(t)), Source("data", n, t))
            if start:
                self.start_grads.setdefault(id(t), (t, t.grad))
            if t.grad is not None:
                self._know(t.grad._data, ("grad", id(t)), Source("grad", n, t))

    # -- what apply and inplace call ---------------------------------------------------------
    def read(self, t: Tensor) -> int:
        """The value id held by ``t``'s array (registering state or a constant on first use)."""
        arr = t._data
        entry = self.values.get(id(arr))
        if entry is None:
            return self._first_sight(t)
        vid, root, epoch, _ = entry
        if self.epoch.get(root, 0) != epoch:
            self.unsupported(
                "a view of a tensor was read after the tensor was modified in place",
                "compute the view after the in-place update, or clone() it before",
            )
        return vid

    def _first_sight(self, t: Tensor) -> int:
        arr = t._data
        vid = self.graph.new_value(t.aval)
        known = self.known.get(id(arr))
        if known is not None:
            key, source, _ = known
            self.input_of[key] = vid
            self.sources[vid] = source
        else:
            if _rng_state() != self.rng:
                self.unsupported(
                    "random numbers drawn outside ember.random.sample (e.g. an nn.init "
                    "function) would be frozen into the graph",
                    _DRAW_HINT,
                )
            self.candidates[vid] = (t, arr.copy())
        self.aliases.add(vid)
        self._bind(arr, vid)
        return vid

    def _bind(self, arr: Any, vid: int) -> None:
        root = id(_root(arr))
        self.values[id(arr)] = (vid, root, self.epoch.get(root, 0), arr)

    def record(self, prim: Any, inputs: tuple, params: dict) -> Any:
        """``apply`` while tracing: run ``prim`` eagerly and add a node to the graph."""
        ins = tuple([self.read(t) for t in inputs])
        try:
            prim.infer(*[t.aval for t in inputs], **params)
        except RuntimeError as exc:
            if "depends on the data" in str(exc):
                self.unsupported(
                    f"{prim.name.lower()}: the output shape depends on the data",
                    "keep data-dependent ops (nonzero, boolean masks) out of the jitted "
                    "function, or use ember.jit(fn, fallback=True)",
                )
        except Exception:  # noqa: BLE001 - the eager call below raises the user's error
            pass
        if self.aborted is not None:
            return apply(prim, *inputs, **params)
        STATE.tracer = None
        try:
            out = apply(prim, *inputs, **params)
        finally:
            STATE.tracer = self
        vid = self.graph.new_value(out.aval)
        arr, root = out._data, _root(out._data)
        aliased = prim.kind is VIEW or any(_root(t._data) is root for t in inputs)
        if aliased and any(v in self.aliases for v in ins):
            self.aliases.add(vid)
        self.graph.nodes.append(Node(prim, ins, dict(params), vid, aliased))
        self._bind(arr, vid)
        return out

    def sample(self, produce: Callable[[], Tensor]) -> Tensor:
        """A random draw (``ember.random.sample``): run it now and record a Sample node."""
        t = produce()
        if self.aborted is None:
            vid = self.graph.new_value(t.aval)
            self.graph.nodes.append(Node(Sample, (), {"draw": _Draw(produce, t.aval)}, vid))
            self.draws.append(vid)
            self._bind(t._data, vid)
            self.rng = _rng_state()
        return t

    def write(self, t: Tensor, res: Tensor, src: Tensor) -> None:
        """``inplace`` is about to copy ``res`` into ``t``'s memory."""
        if self.aborted is not None:
            return
        old = self.read(t)
        if src._data is not t._data:  # inplace kept t's old value in a copy for backward
            self._bind(src._data, old)
        new = self.read(res)
        root = id(_root(t._data))
        self.epoch[root] = self.epoch.get(root, 0) + 1
        self._bind(t._data, new)

    def alias(self, copy: Any, original: Any) -> None:
        """``copy`` is a fresh (C-contiguous) copy of ``original``: recorded as a Copy node, so
        the graph keeps eager's memory layout (a transposed weight gradient read by the
        optimizer as a strided view makes its elementwise updates several times slower)."""
        entry = self.values.get(id(original))
        if entry is not None and self.aborted is None:
            vid = self.graph.new_value(self.graph.avals[entry[0]])
            self.graph.nodes.append(Node(Copy, (entry[0],), {}, vid))
            self._bind(copy, vid)

    def host_read(self, what: str) -> None:
        """A tensor's value is needed in Python (``.item()``, ``bool(t)``, ``float(t)``)."""
        self.unsupported(
            f"{what}: the value of a tensor is needed in Python",
            "a traced function runs as a graph without Python; keep .item()/bool()/float() "
            "and value-dependent `if`s outside it (return the tensor and read it after the "
            "call), or use ember.jit(fn, fallback=True) to run it eagerly",
        )

    def unsupported(self, what: str, hint: str) -> None:
        """Abort tracing: raise JitError, or (fallback) finish the call eagerly."""
        if self.aborted is not None:
            return
        line = user_line()
        message = f"ember.jit: cannot trace {self.name}: {what}\n  at {line}\nhint: {hint}"
        if self.fallback:
            self.aborted = message
            STATE.tracer = None
            return
        raise JitError(message)

    # -- the end of the trace ------------------------------------------------------------------
    def finish(self, outputs: list[Tensor], end_state: list[Tensor]) -> Graph:
        """Resolve constants vs state, outputs and write-backs; returns the graph."""
        g = self.graph
        # draws are outputs too (after the function's): a replay must make every one of them
        g.outputs = [self.read(t) for t in outputs] + self.draws
        if _rng_state() != self.rng:
            self.unsupported(
                "random numbers were drawn outside ember.random.sample (e.g. by an nn.init "
                "function): a replay would not draw them",
                _DRAW_HINT,
            )
            return g
        self.add_state(end_state)
        for vid, (t, snapshot) in self.candidates.items():
            known = self.known.get(id(t._data))
            if known is not None and known[0][0] == "data" and known[0] not in self.input_of:
                self.input_of[known[0]] = vid
                self.sources[vid] = known[1]
            else:
                g.constants[vid] = snapshot
        for vid, source in self.sources.items():  # numbered in order, for the printer
            if source.kind != "arg":
                source = self.sources[vid] = Source(source.kind, len(g.inputs), source.tensor)
            g.inputs.append(vid)
            g.sources.append(source)
        for key, vid in self.input_of.items():
            if key[0] == "grad":
                continue
            final = self.values.get(id(self.key_arr[key]))
            if final is not None and final[0] != vid:
                g.writes.append((self.sources[vid], final[0]))
        self._grads(end_state)
        return g

    def _grads(self, end_state: list[Tensor]) -> None:
        """Write-backs for ``.grad``: in place, a new tensor, or cleared."""
        g = self.graph
        owners = {id(t): t for t, _ in self.start_grads.values()}
        owners.update((id(t), t) for t in end_state)
        for tid, t in owners.items():
            before = self.start_grads.get(tid, (t, None))[1]
            grad = t.grad
            if grad is None:
                if before is not None:
                    g.grad_sets.append((t, None))
                continue
            final = self.values.get(id(grad._data))
            if grad is before:
                vid = self.input_of.get(("grad", tid))
                if final is not None and final[0] != vid:
                    g.writes.append((self.sources[vid], final[0]))
            elif final is None:
                raise JitError(
                    f"ember.jit: cannot trace {self.name}: a .grad of shape "
                    f"{tuple(grad.shape)} was assigned a tensor that was not computed by ops\n"
                    "hint: assign .grad outside the jitted function"
                )
            else:
                g.grad_sets.append((t, final[0]))


_DRAW_HINT = (
    "draw with ember.random functions (rand, randn, randint, dropout), which a compiled graph "
    "replays; or draw outside and pass the tensor as an argument, or use "
    "ember.jit(fn, fallback=True)"
)


def _rng_state() -> Any:
    return ember.random.default_generator._rng.bit_generator.state


def may_alias(graph: Graph, aliases: set[int]) -> set[int]:
    """Values that may share memory with an input or a constant (after passes too)."""
    out = set(aliases) | set(graph.inputs) | set(graph.constants)
    for node in graph.nodes:
        if node.prim.kind is VIEW and any(v in out for v in node.inputs):
            out.add(node.out)
    return out
