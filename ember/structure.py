"""A counter of changes to modules' structure and modes, for the caches that depend on them.

``nn.Module`` bumps it when any attribute of a module is set or deleted (``train()`` and
``eval()`` set ``training``) and when its registries of parameters or child modules change,
through any path (``Registry``: ``register_parameter``, a container's ``append``, a
dictionary edit). While it stays where it was, every module tree has the same modules, modes
and parameter objects: ``ember.jit``'s guard key then reuses its last walk of a tree instead
of walking it at every call.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Registry", "bump", "version"]


class _Counter:
    value = 0


def version() -> int:
    """The number of changes so far."""
    return _Counter.value


def bump() -> None:
    """Note a change."""
    _Counter.value += 1


class Registry(dict):
    """A module's dictionary of parameters or children: every edit bumps the counter."""

    def __setitem__(self, key: Any, value: Any) -> None:
        bump()
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        bump()
        super().__delitem__(key)

    def __ior__(self, other: Any) -> Registry:
        bump()
        return super().__ior__(other)

    def pop(self, *args: Any) -> Any:
        bump()
        return super().pop(*args)

    def popitem(self) -> tuple:
        bump()
        return super().popitem()

    def clear(self) -> None:
        bump()
        super().clear()

    def update(self, *args: Any, **kwargs: Any) -> None:
        bump()
        super().update(*args, **kwargs)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        bump()
        return super().setdefault(key, default)
