"""Each model written once, for every framework with PyTorch's API (ember or torch).

A *family* is a function of the ``torch``-like module that defines a model's classes against
that module's API and returns them in a namespace: ``cnn_family(ember).CNN`` is the model
``ember train`` trains, ``cnn_family(torch).CNN`` its PyTorch twin, with the same parameter
names, shapes and initialisation order (so a state dict moves across unchanged). ember never
imports torch: the bench and the comparison scripts hand it in.

``family`` builds each framework's classes once (``isinstance`` and weight tying across
calls need one class per framework); ``publish`` gives ember's classes the names of the module
attributes that hold them, so that pickle finds them.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType, SimpleNamespace

__all__ = ["family", "publish"]


def family(
    define: Callable[[ModuleType], SimpleNamespace],
) -> Callable[[ModuleType], SimpleNamespace]:
    """``define`` called once per framework module; later calls return the same classes."""
    return functools.cache(define)


def publish(module: str, *classes: type) -> tuple[type, ...]:
    """``classes`` named ``module.<class name>``: the caller binds each to that name."""
    for cls in classes:
        cls.__module__, cls.__qualname__ = module, cls.__name__
    return classes
