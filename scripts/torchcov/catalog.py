"""The public names of each PyTorch namespace that the coverage measure walks."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MISSING = object()


@dataclass(frozen=True)
class Namespace:
    """One PyTorch namespace, its ember counterpart and which of its names count."""

    title: str
    torch_obj: Any
    ember_obj: Any
    select: Callable[[Any], list[str]]
    target: float

    def names(self) -> list[str]:
        return sorted(set(self.select(self.torch_obj)))  # torch.__all__ repeats a few names

    def torch_attr(self, name: str) -> Any:
        """The raw object: for a class namespace the descriptor, not the bound result."""
        return inspect.getattr_static(self.torch_obj, name)

    def ember_attr(self, name: str) -> Any:
        if isinstance(self.ember_obj, type):
            try:
                return inspect.getattr_static(self.ember_obj, name)
            except AttributeError:
                return MISSING
        return getattr(self.ember_obj, name, MISSING)


def is_function(obj: Any) -> bool:
    """A plain or builtin function (also behind a wrapper such as functools.lru_cache)."""
    return inspect.isroutine(inspect.unwrap(obj)) and not isinstance(obj, type)


def public(module: Any) -> list[str]:
    """``__all__`` where the module declares it, else the names without a leading underscore."""
    names = getattr(module, "__all__", None)
    return list(names) if names is not None else [n for n in dir(module) if n[0] != "_"]


def functions_in(module: Any) -> list[str]:
    return [n for n in public(module) if is_function(getattr(module, n))]


def classes_in(module: Any) -> list[str]:
    return [n for n in public(module) if inspect.isclass(getattr(module, n))]


def class_members(cls: type) -> list[str]:
    """Public attributes, and the dunders the class defines beyond ``object``'s."""
    return [
        n
        for n in dir(cls)
        if n[0] != "_"
        or (
            n.startswith("__")
            and inspect.getattr_static(cls, n) is not inspect.getattr_static(object, n, None)
        )
    ]


def pytorch_namespaces() -> list[Namespace]:
    """The namespaces of issue 15 with their coverage targets, from the installed torch."""
    import torch

    import ember

    def pair(module: str) -> tuple[Any, Any]:
        ember_name = "ember" + module[len("torch") :]
        return importlib.import_module(module), importlib.import_module(ember_name)

    return [
        Namespace("torch", torch, ember, functions_in, 0.70),
        Namespace("torch.nn", *pair("torch.nn"), classes_in, 0.90),
        Namespace("torch.nn.functional", *pair("torch.nn.functional"), functions_in, 0.90),
        Namespace("torch.optim", *pair("torch.optim"), classes_in, 0.90),
        Namespace("torch.optim.lr_scheduler", *pair("torch.optim.lr_scheduler"), classes_in, 0.90),
        Namespace("torch.utils.data", *pair("torch.utils.data"), public, 0.0),
        Namespace("Tensor", torch.Tensor, ember.Tensor, class_members, 0.80),
    ]
