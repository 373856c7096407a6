"""Placeholders for PyTorch names that later work fills in (distributed, ONNX, …).

A placeholder exists so that ``import``, ``hasattr`` and ``isinstance`` checks in real PyTorch
programs work, and fails loudly the moment it is used instead of pretending to work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

__all__ = ["NotAvailableError", "not_available", "placeholder"]


class NotAvailableError(NotImplementedError):
    """A PyTorch feature that ember does not provide yet (a ``RuntimeError`` subclass)."""


def not_available(name: str, why: str) -> NoReturn:
    """Raise the error every placeholder raises: ``name`` is not available yet, and ``why``."""
    raise NotAvailableError(f"{name} is not available in ember yet: {why}")


def placeholder(name: str, why: str) -> Callable[..., NoReturn]:
    """A function ``name`` that raises ``NotAvailableError`` whenever it is called."""

    def unavailable(*args: Any, **kwargs: Any) -> NoReturn:
        not_available(name, why)

    unavailable.__name__ = unavailable.__qualname__ = name.rpartition(".")[2]
    unavailable.__doc__ = f"Not available in ember yet: {why}"
    return unavailable
