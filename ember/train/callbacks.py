"""Callbacks for the ``Trainer``: EarlyStopping, ModelCheckpoint, CSVLogger.

A callback gets the ``FitState`` (model, optimizer, scheduler, history, epoch, stop flag) at
the start and end of training, after every step, at the end of every epoch, and when Ctrl-C
interrupts the run.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from typing import Any

from ember.io.safetensors import atomic_write_bytes
from ember.train import checkpoint

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint", "CSVLogger", "History", "FitState"]


class History:
    """One dict row per epoch (``epoch``, ``loss``, ``accuracy``, ``val_loss`` …)."""

    def __init__(self, rows: list[dict[str, float]] | None = None) -> None:
        self.rows = list(rows or [])

    def append(self, row: dict[str, float]) -> None:
        self.rows.append(dict(row))

    def __getitem__(self, key: str) -> list[float]:
        """All values of one column, e.g. ``history["val_accuracy"]``."""
        return [r[key] for r in self.rows if key in r]

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def last(self) -> dict[str, float]:
        return self.rows[-1] if self.rows else {}

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write the rows as CSV (atomically)."""
        columns = list(dict.fromkeys(k for r in self.rows for k in r))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_bytes(path, buf.getvalue().encode())

    def __repr__(self) -> str:
        return f"History({len(self.rows)} epochs, last={self.last})"


@dataclass
class FitState:
    """What callbacks see and may change (``stop = True`` ends training after this epoch).

    ``epoch`` is the epoch running or, in ``on_epoch_end``, just finished (0-based);
    ``batch`` the steps done in it, ``step`` the steps done in all. ``plan`` and
    ``meter`` are the Trainer's batch plan and epoch meter, whose states a checkpoint stores.
    """

    model: Any
    optimizer: Any
    scheduler: Any
    history: History
    epoch: int = 0
    stop: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    step: int = 0
    batch: int = 0
    plan: Any = None
    meter: Any = None

    def position(self, epoch_end: bool = False) -> dict[str, Any]:
        """Where the run is, for a checkpoint: epochs done, steps done in the epoch running,
        steps in all, plan and meter states (``epoch_end``: called from ``on_epoch_end``)."""
        return {
            "epoch": self.epoch + 1 if epoch_end else self.epoch,
            "batch": 0 if epoch_end else self.batch,
            "step": self.step,
            "plan": self.plan.state_dict() if self.plan is not None else None,
            "meter": self.meter.state_dict() if self.meter is not None else None,
        }

    def restore_position(self, position: dict[str, Any]) -> None:
        """Continue from a checkpoint's ``position``: the next step is the one that followed."""
        self.epoch, self.batch, self.step = position["epoch"], position["batch"], position["step"]
        if self.plan is not None:
            self.plan.load_state_dict(position["plan"])
        if self.meter is not None and position["meter"] is not None:
            self.meter.load_state_dict(position["meter"])


class Callback:
    """Hooks called by ``fit``; override the ones you need."""

    def on_train_begin(self, state: FitState) -> None:
        pass

    def on_batch_end(self, state: FitState, logs: dict[str, float]) -> None:
        """After each optimizer step; ``logs`` holds the batch's ``loss``."""

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        pass

    def on_train_end(self, state: FitState) -> None:
        pass

    def on_interrupt(self, state: FitState) -> None:
        """Ctrl-C stopped the run after a completed step (save what must not be lost)."""


class _Monitor:
    """Tracks the best value of ``monitor`` (``mode`` 'min', 'max' or 'auto' by name)."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{type(self).__name__}: mode must be auto/min/max, got {mode!r}")
        if mode == "auto":
            mode = "min" if "loss" in monitor else "max"
        self.monitor, self.mode, self.min_delta = monitor, mode, abs(min_delta)
        self.best = math.inf if mode == "min" else -math.inf

    def value(self, logs: dict[str, float]) -> float:
        if self.monitor not in logs:
            raise KeyError(
                f"{type(self).__name__}: metric {self.monitor!r} is not logged; available: "
                f"{sorted(logs)}\nhint: val_* metrics need a val_loader"
            )
        return float(logs[self.monitor])

    def improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(Callback, _Monitor):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs."""

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        _Monitor.__init__(self, monitor, mode, min_delta)
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self.wait = 0
        self.best_epoch: int | None = None
        self.best_state: dict[str, Any] | None = None
        self.stopped_epoch: int | None = None

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        value = self.value(logs)
        if self.improved(value):
            self.best, self.best_epoch, self.wait = value, state.epoch, 0
            if self.restore_best_weights:
                self.best_state = {k: v.clone() for k, v in state.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait > self.patience:
            state.stop = True
            self.stopped_epoch = state.epoch

    def on_train_end(self, state: FitState) -> None:
        if self.restore_best_weights and self.best_state is not None:
            state.model.load_state_dict(self.best_state)


class ModelCheckpoint(Callback, _Monitor):
    """Save a full checkpoint (model, optimizer, scheduler, RNG, position, history) to ``path``.

    Every epoch by default; with ``save_best_only`` only when ``monitor`` improved. On Ctrl-C
    it saves the last completed step, so that a resumed run continues mid-epoch.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
    ) -> None:
        _Monitor.__init__(self, monitor, mode)
        self.path = path
        self.save_best_only = save_best_only

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        if self.save_best_only:
            value = self.value(logs)
            if not self.improved(value):
                return
            self.best = value
        self._save(state, epoch_end=True)

    def on_interrupt(self, state: FitState) -> None:
        if not self.save_best_only:
            self._save(state, epoch_end=False)

    def _save(self, state: FitState, epoch_end: bool) -> None:
        position = state.position(epoch_end)
        extra = {**state.extra, "history": state.history.rows, "position": position}
        checkpoint.save(
            self.path,
            state.model,
            state.optimizer,
            state.scheduler,
            epoch=position["epoch"],
            extra=extra,
        )


class CSVLogger(Callback):
    """Rewrite ``path`` (metrics.csv) with the whole history after every epoch."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = path

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        state.history.to_csv(self.path)
