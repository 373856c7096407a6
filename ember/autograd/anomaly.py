"""Anomaly detection: record where each op ran, and (with ``check_nan``) name the op whose
backward first produced NaN, with that place."""

from __future__ import annotations

from typing import Any

from ember.autograd.grad_mode import STATE

__all__ = [
    "detect_anomaly",
    "set_detect_anomaly",
    "is_anomaly_enabled",
    "is_anomaly_check_nan_enabled",
    "set_anomaly_enabled",
]


def is_anomaly_enabled() -> bool:
    """True while anomaly detection records where ops ran."""
    return STATE.anomaly


def is_anomaly_check_nan_enabled() -> bool:
    """True when anomaly detection also fails on NaN gradients (its default)."""
    return STATE.anomaly_check_nan


def set_anomaly_enabled(enabled: bool, check_nan: bool = True) -> None:
    """Turn anomaly detection on or off (``check_nan``: also fail on NaN gradients)."""
    STATE.anomaly = bool(enabled)
    STATE.anomaly_check_nan = bool(check_nan)


class detect_anomaly:  # noqa: N801 - PyTorch name
    """Context manager: anomaly detection on inside (``check_nan`` as ``set_anomaly_enabled``)."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self._prev = (STATE.anomaly, STATE.anomaly_check_nan)
        set_anomaly_enabled(True, self.check_nan)

    def __exit__(self, *exc: Any) -> None:
        set_anomaly_enabled(*self._prev)


class set_detect_anomaly(detect_anomaly):  # noqa: N801
    """Turn anomaly detection on or off (also usable as a context manager)."""

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        super().__init__(check_nan)
        self._prev = (STATE.anomaly, STATE.anomaly_check_nan)
        set_anomaly_enabled(mode, check_nan)

    def __enter__(self) -> None:
        pass
