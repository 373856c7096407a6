"""``ember.jit``: JitFunction (guards, cache, trace on a miss, replay on a hit) and ``explain``."""

from __future__ import annotations

import functools
import inspect
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ember.autograd.grad_mode import STATE
from ember.config import config
from ember.creation import zeros
from ember.dtypes import float64
from ember.flags import is_warn_always_enabled
from ember.jit.cache import GraphCache, changed_parts, flatten_args, guard_key
from ember.jit.executor import Executor
from ember.jit.graph import Graph
from ember.jit.passes import optimize
from ember.jit.report import describe
from ember.jit.trace import (
    JitError,
    Tracer,
    _is_module,
    _is_optimizer,
    may_alias,
    scan_roots,
    state_tensors,
)
from ember.random import default_generator
from ember.tensor import Tensor

__all__ = ["JitFunction", "jit", "explain"]

_EAGER = "eager"  # cache entry of a key whose trace fell back to eager execution


@dataclass
class Compiled:
    """One cache entry: the optimised graph, its executor and how to rebuild the result."""

    graph: Graph
    counts: list[tuple[str, int]]
    executor: Executor
    template: Any


def _flatten_out(obj: Any, leaves: list[Tensor]) -> Any:
    """A template of ``obj`` with its tensors replaced by their index in ``leaves``."""
    if isinstance(obj, Tensor):
        leaves.append(obj)
        return ("tensor", len(leaves) - 1)
    if isinstance(obj, (list, tuple)):
        return (type(obj), [_flatten_out(x, leaves) for x in obj])
    if isinstance(obj, dict):
        return (dict, {k: _flatten_out(v, leaves) for k, v in obj.items()})
    return ("value", obj)


def _rebuild(template: Any, leaves: list[Tensor]) -> Any:
    kind, body = template
    if kind == "tensor":
        return leaves[body]
    if kind == "value":
        return body
    if kind is dict:
        return {k: _rebuild(v, leaves) for k, v in body.items()}
    items = [_rebuild(x, leaves) for x in body]
    return kind(*items) if hasattr(kind, "_fields") else kind(items)  # a namedtuple: fields


class _Snapshot:
    """The values of a call's state tensors and gradients and the default generator's state
    before it, so that a traced call can be rewound and its step run again by the compiled
    graph: every step then rounds the same way, and a resumed run equals an uninterrupted one
    bit for bit. A gradient the call created is zeroed (not removed), which keeps the key of
    the call that created it and adds the same as a missing one would."""

    def __init__(self, state: list[Tensor]) -> None:
        self.values = [(t, t._data.copy()) for t in state]
        self.grads = [(t, None if t.grad is None else t.grad._data.copy()) for t in state]
        self.rng = default_generator.get_state()

    def restore(self) -> None:
        for tensor, value in self.values:
            tensor._data[...] = value
        for tensor, grad in self.grads:
            if tensor.grad is not None:
                tensor.grad._data[...] = 0 if grad is None else grad
        default_generator.set_state(self.rng)


def _needs_backward_outside(graph: Graph, outputs: list[Tensor]) -> bool:
    """An output carries an autograd graph while no gradient was computed inside the call:
    the caller means to run backward() on it, which a compiled graph cannot support."""
    grads_inside = graph.grad_sets or any(s.kind == "grad" for s, _ in graph.writes)
    return not grads_inside and any(t.requires_grad for t in outputs)


class JitFunction:
    """A function traced on first call (per guard key) and replayed as a compiled graph."""

    def __init__(self, fn: Callable, *, fallback: bool = False, cache_size: int = 8) -> None:
        functools.update_wrapper(self, fn)
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.fn, self.fallback = fn, fallback
        self.cache = GraphCache(cache_size)
        self.traces = 0  # graphs compiled (or runs that fell back to eager)
        self.warmups = 0  # traces dropped because the call created the state it guards on
        self.compile_s = 0.0  # seconds spent in compiled traces: run, optimise, build executor
        self._rates: dict[int, tuple[dict, Tensor]] = {}  # id(param group) -> (group, its lr)
        self._last: Compiled | None = None
        self._last_key: tuple | None = None
        self._warned = False
        self._eager_reasons: set[str | None] = set()
        # what _roots reads the closure and globals through, looked up once: on a callable
        # object such as a module each failed lookup costs an attribute hook's miss per call
        self._owner = getattr(fn, "__self__", None)  # a bound method's object
        self._func = getattr(fn, "__func__", fn)
        self._has_code = getattr(self._func, "__code__", None) is not None
        try:
            self._params = list(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            self._params = []

    @property
    def graph(self) -> Graph:
        """The optimised graph of the most recent call (prints as a readable IR)."""
        if self._last is None:
            raise RuntimeError(
                f"{self.__name__}.graph: the function has not been compiled yet\n"
                "hint: call it once first (eager fallbacks have no graph)"
            )
        return self._last.graph

    def _arg_names(self, n: int, kwargs: dict) -> list[str]:
        names = [self._params[i] if i < len(self._params) else f"arg{i}" for i in range(n)]
        return [f"argument {name!r}" for name in names + list(kwargs)]

    def _roots(self, args: tuple, kwargs: dict) -> tuple[list, list]:
        """Tensors, modules and optimizers reachable from the arguments, closure and globals,
        and the Python numbers/strings the function reads from its closure and globals."""
        owner, fn = self._owner, self._func
        names = self._arg_names(len(args), kwargs)
        named: list[tuple[str, Any]] = list(zip(names, (*args, *kwargs.values())))
        if owner is not None:
            named.append(("self", owner))
        code = fn.__code__ if self._has_code else None
        if code is not None:
            for name, cell in zip(code.co_freevars, fn.__closure__ or ()):
                try:
                    named.append((name, cell.cell_contents))
                except ValueError:  # an empty cell
                    continue
            glob = fn.__globals__
            named += [(name, glob[name]) for name in code.co_names if name in glob]
        elif owner is None and callable(fn):  # a callable object, e.g. a module
            named.append(("the function", fn))
        statics = [(f"{name!r}", v) for name, v in named[len(args) + len(kwargs) :]]
        statics = [(n, v) for n, v in statics if isinstance(v, (int, float, str, bool, complex))]
        return scan_roots(named), statics

    def _key(self, args: tuple, kwargs: dict) -> tuple[tuple, list[Tensor], list]:
        """(guard key, the tensors among the arguments, the state roots) of a call."""
        tensors: list[Tensor] = []
        sigs = [flatten_args(a, tensors) for a in (*args, *kwargs.values())]
        roots, statics = self._roots(args, kwargs)
        return guard_key(self._arg_names(len(args), kwargs), sigs, roots, statics), tensors, roots

    def _learning_rates(self, roots: list) -> list[tuple[dict, Tensor]]:
        """(param group, 0-d tensor holding its lr now) for each group whose lr is a float.

        A compiled step reads the learning rate from that tensor, an input of the graph, so a
        scheduler that changes it between steps does not retrace.
        """
        rates = []
        for _, obj in roots:
            # (a module's attribute hook makes a miss costly: tensors and modules go first)
            if isinstance(obj, Tensor) or _is_module(obj) or not _is_optimizer(obj):
                continue
            for group in obj.param_groups:
                if type(group.get("lr")) is not float:
                    continue
                if id(group) not in self._rates:
                    device = group["params"][0].device if group["params"] else None
                    self._rates[id(group)] = (group, zeros((), dtype=float64, device=device))
                holder = self._rates[id(group)][1]
                holder._data[...] = group["lr"]
                rates.append((group, holder))
        return rates

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not config.jit_enabled or STATE.tracer is not None:
            return self.fn(*args, **kwargs)  # disabled, or inlined into an outer trace
        key, tensors, roots = self._key(args, kwargs)
        rates = self._learning_rates(roots)
        entry = self.cache.get(key)
        if entry is _EAGER:
            return self.fn(*args, **kwargs)
        if entry is not None:
            arrays = entry.executor.bind(tensors)
            if arrays is not None:
                self._last = entry
                return _rebuild(entry.template, entry.executor.run(tensors, arrays))
        if self._warned:  # it kept retracing: new keys run eagerly (tracing costs more)
            if is_warn_always_enabled():
                self._warn_retracing(key, stacklevel=3)
            return self.fn(*args, **kwargs)
        return self._trace(key, args, kwargs, tensors, roots, rates)

    def _warn_retracing(self, key: Any, stacklevel: int) -> None:
        """Say that calls matching no cached graph now run eagerly (once, or every time under
        ``ember.set_warn_always(True)``)."""
        parts = changed_parts(self._last_key, key) if self._last_key else ["arguments"]
        warnings.warn(
            f"ember.jit: {self.__name__} was traced {self.traces} times (the cache holds "
            f"{self.cache.size} graphs): {', '.join(parts)} keeps changing; calls that "
            "match no cached graph run eagerly from now on\n"
            "hint: every new value of a Python number, shape or optimizer state counts "
            "as a new graph; pass changing numbers as tensors",
            stacklevel=stacklevel,
        )

    def _call_with_rates(self, rates: list, args: tuple, kwargs: dict) -> Any:
        """``fn(*args, **kwargs)`` with each float lr swapped for its tensor during the call."""
        floats = [group["lr"] for group, _ in rates]
        for group, holder in rates:
            group["lr"] = holder
        try:
            result = self.fn(*args, **kwargs)
        finally:
            changed = [group["lr"] is not holder for group, holder in rates]
            for (group, _), lr, assigned in zip(rates, floats, changed):
                if not assigned:
                    group["lr"] = lr
        if any(changed):
            raise JitError(
                f"ember.jit: cannot trace {self.__name__}: it sets a learning rate, which a "
                "compiled step reads as an input\nhint: call scheduler.step() (or set "
                "param_group['lr']) outside the jitted function"
            )
        return result

    def _trace(
        self, key: tuple, args: tuple, kwargs: dict, tensors: list, roots: list, rates: list
    ) -> Any:
        start = time.perf_counter()
        found = state_tensors(roots)
        state = found + [holder for _, holder in rates]
        before = _Snapshot(state)
        tracer = Tracer(self.__name__, tensors, state, self.fallback)
        prev, STATE.tracer = STATE.tracer, tracer
        try:
            result = self._call_with_rates(rates, args, kwargs)
            leaves: list[Tensor] = []
            template = _flatten_out(result, leaves)
            graph = None
            if tracer.aborted is None:
                end_state = state_tensors(self._roots(args, kwargs)[0])
                graph = tracer.finish(leaves, end_state)
        finally:
            STATE.tracer = prev
        warmup = self.warmups < self.cache.size and graph is not None
        if warmup and self._key(args, kwargs)[0] != key:
            # the call created state (optimizer state, .grad): the next call has another key,
            # so this graph would never run again. When it created only .grad (the first step
            # of a resumed run), rewind and run the step again, compiled; when it created
            # optimizer state (a run's first step), the step stays eager and the next compiles
            self.warmups += 1
            if {id(t) for t in end_state} == {id(t) for t in found}:
                before.restore()
                return self(*args, **kwargs)
            return result
        if graph is not None and _needs_backward_outside(graph, leaves):
            tracer.aborted = (
                f"ember.jit: cannot compile {self.__name__}: an output requires grad, and "
                "a compiled graph returns detached outputs (backward() outside it would "
                "fail)\nhint: jit the whole training step (forward, loss.backward(), "
                "optimizer.step()), or call the function under ember.no_grad() for inference"
            )
        self.traces += 1
        if tracer.aborted is not None:
            if tracer.aborted not in self._eager_reasons:  # once per reason, not per key
                self._eager_reasons.add(tracer.aborted)
                warnings.warn(f"{tracer.aborted}\n(running it eagerly)", stacklevel=3)
            self.cache.put(key, _EAGER)
            return result
        counts = optimize(graph)
        gpu = any(t.is_cuda for t in [*tensors, *found])
        executor = Executor(graph, may_alias(graph, tracer.aliases), gpu=gpu)
        entry = Compiled(graph, counts, executor, template)
        evicted = self.cache.put(key, entry)
        self.compile_s += time.perf_counter() - start
        if (evicted or self.traces > self.cache.size) and not self._warned:
            self._warned = True
            self._warn_retracing(key, stacklevel=4)
        self._last, self._last_key = entry, key
        # rewind the traced call and run the compiled graph instead, so that every compiled
        # step rounds the same way, the first one included
        arrays = entry.executor.bind(tensors)
        if arrays is None:
            return result
        before.restore()
        return _rebuild(template, entry.executor.run(tensors, arrays))


def jit(fn: Callable | None = None, *, fallback: bool = False, cache_size: int = 8) -> Any:
    """Compile ``fn`` into a graph on first call (``@ember.jit`` or ``ember.jit(fn, …)``).

    ``fallback=True`` runs the function eagerly (with a warning) when it cannot be traced,
    instead of raising ``JitError``. ``ember.config.jit_enabled = False`` runs every jitted
    function eagerly; the other ``ember.config.jit_*`` fields shape what a compile produces
    and are part of the guard key, so changing one retraces.
    """
    if fn is None:
        return functools.partial(jit, fallback=fallback, cache_size=cache_size)
    return JitFunction(fn, fallback=fallback, cache_size=cache_size)


def explain(fn: Callable, *args: Any, **kwargs: Any) -> str:
    """Trace ``fn`` on ``args`` and report the op count after each pass, the fused kernels and
    the memory plan. Runs ``fn`` once, or twice when the first call creates the state it is
    guarded on (a training step's first call creates ``.grad`` and the optimizer state)."""
    compiled = JitFunction(getattr(fn, "fn", fn))
    compiled(*args, **kwargs)
    if compiled._last is None and compiled.warmups:
        compiled(*args, **kwargs)
    entry = compiled._last
    if entry is None:
        return f"{compiled.__name__}: not traced (it fell back to eager execution)"
    return describe(compiled.__name__, entry.counts, entry.executor)
