"""Progress output: a one-line bar with the time left on a terminal; elsewhere (a log file, a
pipe) nothing per step, and the Trainer prints one line per epoch."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["progress_bar", "format_logs", "format_duration"]


def format_duration(seconds: float) -> str:
    """``42s``, ``3m07s`` or ``1h05m``."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class _Bar:
    """``epoch 2/8  120/469  loss 0.4123  1m02s, 3m01s left``, redrawn at most 5 times a
    second on ``stream`` and erased by ``close``."""

    def __init__(self, stream: TextIO, label: str, total: int, done: int) -> None:
        self.stream, self.label, self.total = stream, label, total
        self.done, self.first = done, done
        self.start = self.last = time.perf_counter()
        self.width = 0

    def update(self, values: dict[str, float]) -> None:
        self.done += 1
        now = time.perf_counter()
        if now - self.last < 0.2 and self.done < self.total:
            return
        self.last = now
        elapsed = now - self.start
        rate = (self.done - self.first) / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        shown = "  ".join(f"{k} {v:.4f}" for k, v in values.items())
        text = (
            f"{self.label}  {self.done}/{self.total}  {shown}  "
            f"{format_duration(elapsed)}, {format_duration(left)} left"
        )
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def close(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


class _Silent:
    """The bar's interface, printing nothing."""

    def update(self, values: dict[str, float]) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(enabled: bool, label: str, total: int, done: int = 0) -> Any:
    """A live bar when ``enabled`` and stdout is a terminal, else a silent stand-in."""
    if enabled and sys.stdout.isatty():
        return _Bar(sys.stdout, label, total, done)
    return _Silent()


def format_logs(label: str, logs: dict[str, float]) -> str:
    """``epoch 3/10  loss 0.4123  accuracy 0.8571  val_loss …  time 12.3s``."""
    parts = [label]
    for key, value in logs.items():
        if key in ("epoch", "iter"):
            continue
        parts.append(f"{key} {value:.1f}s" if key == "time" else f"{key} {value:.4g}")
    return "  ".join(parts)
