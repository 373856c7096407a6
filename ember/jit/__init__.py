"""ember.jit: trace a function (a whole training step included) into a graph and replay it.

Flow: ``ember.jit(fn)`` → first call per guard key: ``trace.Tracer`` runs ``fn`` eagerly and
records every ``apply`` (forward, backward, optimizer update) into ``graph.Graph`` → the
passes in ``passes`` shrink it → ``executor.Executor`` replays it on raw arrays on later calls
and writes mutated state (parameters, ``.grad``, optimizer state, buffers) back in place.
``cache`` computes the guard key. ``ember.config.jit_enabled = False`` runs everything eagerly.

State that changes every step is read by the graph, never baked into it: optimizer step
counts are 0-d tensors, a float learning rate is passed in as a 0-d tensor (schedulers do not
retrace), and random draws (``ember.random.sample``: dropout masks, ``randn``) replay from the
generator. A call that creates the state it is guarded on (the first step creates ``.grad``
and the optimizer state) is a warm-up: its trace is dropped and the next call compiles. A
traced call is rewound and run again by its graph, so no step after the warm-up runs eagerly
(which makes a resumed compiled run equal an uninterrupted one bit for bit).
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
