"""Grad mode: whether ``apply`` records nodes for backward (thread-local like PyTorch's)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = [
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "STATE",
]

F = TypeVar("F", bound=Callable[..., Any])


class _State(threading.local):
    """Per-thread switches read by ``apply`` on every call (kept as plain attributes: fast)."""

    def __init__(self) -> None:
        self.grad_enabled = True
        self.tracer: Any = None  # set by ember.jit while tracing
        self.anomaly = False  # detect_anomaly: record where each op ran
        self.anomaly_check_nan = True  # … and fail on a nan gradient
        self.inference = False  # inside inference_mode
        self.autocast: Any = None  # {device type: dtype} of enabled autocast (ember.ops.autocast)


STATE = _State()


def is_grad_enabled() -> bool:
    """True when operations record the graph for backward."""
    return STATE.grad_enabled


class _GradModeContext:
    """Base for the grad-mode context managers; usable as decorators too."""

    _enabled: bool

    def __enter__(self) -> None:
        self._prev = STATE.grad_enabled
        STATE.grad_enabled = self._enabled

    def __exit__(self, *exc: object) -> None:
        STATE.grad_enabled = self._prev

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = STATE.grad_enabled
            STATE.grad_enabled = self._enabled
            try:
                return fn(*args, **kwargs)
            finally:
                STATE.grad_enabled = prev

        return wrapper  # type: ignore[return-value]


class no_grad(_GradModeContext):  # noqa: N801 - PyTorch name
    """Disable graph recording (evaluation, optimizer updates)."""

    def __init__(self) -> None:
        self._enabled = False


class enable_grad(_GradModeContext):  # noqa: N801
    """Re-enable graph recording inside a ``no_grad`` block."""

    def __init__(self) -> None:
        self._enabled = True


class set_grad_enabled(_GradModeContext):  # noqa: N801
    """Set grad mode to ``mode``; takes effect immediately, and also works as a context."""

    def __init__(self, mode: bool) -> None:
        self._enabled = bool(mode)
        self._prev = STATE.grad_enabled
        STATE.grad_enabled = self._enabled

    def __enter__(self) -> None:
        pass

    def __call__(self, fn: F) -> F:
        STATE.grad_enabled = self._prev  # as a decorator it only applies inside ``fn``
        return super().__call__(fn)


class inference_mode(_GradModeContext):  # noqa: N801
    """Like ``no_grad`` (ember has no extra inference-only fast path to switch on), and
    ``is_inference_mode_enabled()`` says so inside."""

    def __init__(self, mode: bool = True) -> None:
        self._mode = bool(mode)
        self._enabled = not mode  # inference_mode(False) enables grad, as PyTorch's does

    def __enter__(self) -> None:
        super().__enter__()
        self._prev_inference = STATE.inference
        STATE.inference = self._mode

    def __exit__(self, *exc: object) -> None:
        STATE.inference = self._prev_inference
        super().__exit__(*exc)

    def __call__(self, fn: F) -> F:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(self._mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def is_inference_mode_enabled() -> bool:
    """True inside ``inference_mode()``."""
    return STATE.inference
