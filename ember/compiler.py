"""``ember.compile``: PyTorch's ``torch.compile`` entry point, compiling with ``ember.jit``.

``torch.compile``'s keyword arguments map onto ``ember.jit`` as follows:

- ``fullgraph=True``: code ember cannot trace raises ``JitError``; with the default False it
  runs eagerly with a warning (``ember.jit(fallback=True)``), as a graph break would.
- ``backend``: ``"inductor"`` (the default) compiles with ``ember.jit``; ``"eager"`` and
  ``"aot_eager"`` run the model unchanged; other backends do not exist in ember (ValueError).
- ``mode``: PyTorch's modes are accepted and change nothing (ember always replays one graph
  per call and does no autotuning); an unknown mode is an error, as in PyTorch.
- ``dynamic``: ember compiles one graph per input shape. ``dynamic=True`` warns that it does.
- ``recompile_limit``: how many graphs one function keeps (``ember.jit``'s ``cache_size``).
- ``options``, ``name``, ``isolate_recompiles``, ``shapes_spec``: configure PyTorch's
  compiler stack, which ember does not have; accepted and ignored.
- ``disable=True`` returns the model or function unchanged.

A model called for training (outputs that need ``backward()`` outside the compiled call) runs
eagerly with a warning: ember compiles whole training steps (``ember.jit`` on a function that
runs forward, ``backward()`` and ``optimizer.step()``), and forward-only calls under
``ember.no_grad()``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any

from ember.jit import jit
from ember.nn.module import Module

__all__ = ["compile", "OptimizedModule"]

_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
_EAGER_BACKENDS = ("eager", "aot_eager")


class OptimizedModule(Module):
    """A compiled module: ``_orig_mod`` is the original (so state_dict keys start with
    ``_orig_mod.``, as in PyTorch); its other attributes are reachable through this one."""

    def __init__(self, mod: Module, call: Callable[..., Any]) -> None:
        super().__init__()
        self._orig_mod = mod
        object.__setattr__(self, "_call", call)  # a plain attribute even when it is a Module

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self._call(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            modules = self.__dict__.get("_modules", {})
            if "_orig_mod" not in modules:
                raise
            return getattr(modules["_orig_mod"], name)


def compile(  # noqa: A001 - PyTorch's name
    model: Callable[..., Any] | None = None,
    *,
    fullgraph: bool = False,
    dynamic: bool | None = None,
    backend: str | Callable[..., Any] | None = "inductor",
    mode: str | None = None,
    options: dict[str, Any] | None = None,
    name: str | None = None,
    disable: bool = False,
    recompile_limit: int | None = None,
    isolate_recompiles: bool = False,
    shapes_spec: Any = None,
) -> Any:
    """Compile a module or function with ``ember.jit`` (see the module docstring for how each
    argument maps). Usable as ``@ember.compile`` and ``@ember.compile(...)``."""
    settings = dict(
        fullgraph=fullgraph,
        dynamic=dynamic,
        backend=backend,
        mode=mode,
        options=options,
        name=name,
        disable=disable,
        recompile_limit=recompile_limit,
        isolate_recompiles=isolate_recompiles,
        shapes_spec=shapes_spec,
    )
    if model is None:
        return functools.partial(compile, **settings)
    if mode is not None and options is not None:
        raise RuntimeError(
            "Either mode or options can be specified, but both can't be specified at the same time."
        )
    if mode is not None and mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(_MODES)}")
    if backend is None:
        backend = "inductor"
    if not (isinstance(backend, str) and backend in ("inductor", *_EAGER_BACKENDS)):
        raise ValueError(
            f"ember.compile: backend {backend!r} is not available: ember compiles with "
            "ember.jit (backend='inductor', the default) or runs eagerly ('eager', 'aot_eager')"
        )
    if disable:
        return model
    if dynamic:
        warnings.warn(
            "ember.compile(dynamic=True): ember compiles one graph per input shape (each new "
            "shape is traced again, up to recompile_limit graphs)",
            stacklevel=2,
        )
    if backend in _EAGER_BACKENDS:
        call = model
    else:
        call = jit(model, fallback=not fullgraph, cache_size=recompile_limit or 8)
    return OptimizedModule(model, call) if isinstance(model, Module) else call
