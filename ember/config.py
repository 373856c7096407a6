"""``ember.config``: the process-wide switches, one typed object instead of environment variables.

Each field is read where it acts (the jit at every call and compile, the allocator when it is
asked), so a change takes effect at once; assignment is validated, and ``override`` sets fields
for a ``with`` block only. Locations stay environment variables: ``cache_root()`` here,
``EMBER_DATA`` and ``EMBER_CC`` where they are used. docs/configuration.md lists both kinds.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = ["Config", "config", "cache_root", "default_root"]


def _setting(default: Any, valid: Callable[[Any], bool], expected: str) -> Any:
    """A field with the test its values must pass and how to describe them in an error."""
    return field(default=default, metadata={"valid": valid, "expected": expected})


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


_FLAG = (_is_bool, "True or False")


@dataclass
class Config:
    """The switches (docs/configuration.md); process-wide, shared by all threads."""

    # trace and compile ember.jit functions; False runs them eagerly
    jit_enabled: bool = _setting(True, *_FLAG)
    # run fused groups as C kernels: True where C was measured to win, "all" wherever C
    # can, False never (NumPy plan executor only)
    jit_native: bool | Literal["all"] = _setting(
        True, lambda v: _is_bool(v) or v == "all", 'True, False or "all"'
    )
    # compute sums inside the C kernel of the group producing their input
    jit_fuse_reductions: bool = _setting(True, *_FLAG)
    # elements from which a C kernel runs on every core (OpenMP); large because two threads
    # lost at every size measured on a shared 2-core machine (benchmarks/jit_codegen.py)
    jit_parallel_min: int = _setting(1 << 22, _is_count, "an int >= 0")
    # the same for the fused kernels of a step with native convolutions: it holds OpenBLAS
    # at one thread, so OpenMP's pool runs alone (65536: 0.94-0.99x on those steps, 2 threads)
    jit_parallel_min_pooled: int = _setting(1 << 16, _is_count, "an int >= 0")
    # on a GPU, capture a compiled step as a CUDA graph and replay it (ember/jit/cuda_graph.py)
    jit_cuda_graphs: bool = _setting(True, *_FLAG)
    # folder of compiled kernels; None: cache_root() / "jit"
    jit_cache_dir: str | os.PathLike | None = _setting(
        None, lambda v: v is None or isinstance(v, (str, os.PathLike)), "None or a path"
    )
    # let allocator.keep_freed_memory() tune malloc (the ember train/bench entry points call it)
    keep_freed_memory: bool = _setting(True, *_FLAG)

    def __setattr__(self, name: str, value: Any) -> None:
        _check(name, value)
        object.__setattr__(self, name, value)

    @contextlib.contextmanager
    def override(self, **changes: Any) -> Iterator[Config]:
        """Set ``changes`` for the ``with`` block and restore the previous values after it,
        also when it raises; nothing is set unless every change is valid."""
        for name, value in changes.items():
            _check(name, value)
        saved = {name: getattr(self, name) for name in changes}
        vars(self).update(changes)
        try:
            yield self
        finally:
            vars(self).update(saved)


def _check(name: str, value: Any) -> None:
    """Raise unless ``name`` is a field of Config and ``value`` one it accepts."""
    spec = Config.__dataclass_fields__.get(name)
    if spec is None:
        known = ", ".join(Config.__dataclass_fields__)
        raise AttributeError(f"ember.config has no field {name!r}; the fields: {known}")
    if not spec.metadata["valid"](value):
        raise ValueError(f"ember.config.{name} must be {spec.metadata['expected']}, got {value!r}")


def default_root() -> Path:
    """``~/.cache/ember``: where downloads and caches go unless a variable says otherwise."""
    return Path.home() / ".cache" / "ember"


def cache_root() -> Path:
    """The cache folder: ``$EMBER_CACHE``, else ``$EMBER_CACHE_DIR`` (its former name, still
    honoured), else ``default_root()``. Kernels go to ``jit/``, the FID classifier to ``fid/``."""
    root = os.environ.get("EMBER_CACHE") or os.environ.get("EMBER_CACHE_DIR")
    return Path(root) if root else default_root()


config = Config()
