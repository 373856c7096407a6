"""ember.jit: trace a function (a whole training step included) into a graph and replay it.

Flow: ``ember.jit(fn)`` → first call per guard key: ``trace.Tracer`` runs ``fn`` eagerly and
records every ``apply`` (forward, backward, optimizer update) into ``graph.Graph`` → the
passes in ``passes`` shrink it → ``executor.Executor`` replays it on raw arrays on later calls
and writes mutated state (parameters, ``.grad``, optimizer state, buffers) back in place.
``cache`` computes the guard key. ``EMBER_JIT=0`` runs everything eagerly.

Random draws on the host (dropout masks) are not traced yet: they raise ``JitError`` (or run
eagerly with ``fallback=True``) rather than being frozen into the graph.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from ember.jit.api import JitFunction, explain, jit
from ember.jit.graph import Graph
from ember.jit.trace import JitError

__all__ = ["jit", "JitFunction", "JitError", "Graph", "explain"]


class _CallableModule(types.ModuleType):
    """Lets ``@ember.jit`` and ``ember.jit(fn, …)`` call this package like a function."""

    def __call__(self, fn: Any = None, **kwargs: Any) -> Any:
        return jit(fn, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
