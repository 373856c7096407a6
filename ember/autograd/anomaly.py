"""Anomaly detection: name the op whose backward first produced NaN/Inf."""

from __future__ import annotations

from typing import Any

from ember.autograd.grad_mode import STATE

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]


def is_anomaly_enabled() -> bool:
    return STATE.anomaly


class detect_anomaly:  # noqa: N801 - PyTorch name
    """Context manager: check every gradient backward computes for NaN/Inf."""

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self._prev = STATE.anomaly
        STATE.anomaly = self.check_nan

    def __exit__(self, *exc: Any) -> None:
        STATE.anomaly = self._prev


class set_detect_anomaly(detect_anomaly):  # noqa: N801
    """Turn anomaly detection on or off (also usable as a context manager)."""

    def __init__(self, mode: bool) -> None:
        super().__init__(mode)
        self._prev = STATE.anomaly
        STATE.anomaly = mode
