"""``ember train --tensorboard``: the ``TensorBoard`` callback, which logs a run as TensorBoard
event files in its run directory (``tensorboard --logdir runs`` then shows every run).

Tags: ``batch/*`` every step (the step's loss, accuracy …, and ``lr``), ``epoch/*`` at each
epoch's end (the History row: train and validation metrics, learning rate, time), with the
``--diagnose`` monitor's per-parameter ``grad_norm/*``, ``weight_norm/*`` and
``update_ratio/*``, and the generative models' ``samples`` grid. Steps count optimizer steps.
A resumed run purges what the interrupted one logged after its checkpoint.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from ember.diagnostics.monitor import GradientMonitor
from ember.train.callbacks import Callback, FitState
from ember.train.generative import SampleGrid
from ember.utils.tensorboard import SummaryWriter

__all__ = ["TensorBoard"]

_POSITION = ("epoch", "iter")  # a History row's position column: the step says it already


class TensorBoard(Callback):
    """Log the run to ``log_dir``; ``sources`` are the run's other callbacks, whose gradient
    statistics (``GradientMonitor``) and sample grids (``SampleGrid``) are logged too."""

    def __init__(self, log_dir: str | os.PathLike, sources: Sequence[Callback] = ()) -> None:
        self.log_dir = log_dir
        self.monitors = [s for s in sources if isinstance(s, GradientMonitor)]
        self.grids = [s for s in sources if isinstance(s, SampleGrid)]
        self.writer: SummaryWriter | None = None
        self._offset = 0  # steps done before this invocation (a monitor counts from 0)
        self._logged = 0  # monitor rows already logged

    def on_train_begin(self, state: FitState) -> None:
        # a resumed run restarts after the checkpoint's step: drop what followed it
        purge = state.step + 1 if state.step else None
        self.writer = SummaryWriter(self.log_dir, purge_step=purge, flush_secs=10)
        self._offset, self._logged = state.step, 0

    def on_batch_end(self, state: FitState, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            self.writer.add_scalar(f"batch/{key}", value, state.step)
        if state.optimizer is not None:
            self.writer.add_scalar("batch/lr", state.optimizer.param_groups[0]["lr"], state.step)

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            if key not in _POSITION:
                self.writer.add_scalar(f"epoch/{key}", value, state.step)
        for monitor in self.monitors:
            self._log_gradients(monitor)
        for grid in self.grids:
            if grid.latest is not None:
                layout = "HW" if grid.latest.ndim == 2 else "HWC"
                self.writer.add_image("samples", grid.latest, state.step, dataformats=layout)
        self.writer.flush()

    def _log_gradients(self, monitor: GradientMonitor) -> None:
        """The monitor's rows recorded since the last call, at the steps they were taken."""
        stats = monitor.stats()
        columns = {
            "grad_norm": stats.grad_norm,
            "weight_norm": stats.weight_norm,
            "update_ratio": stats.update_ratio,
        }
        for row in range(self._logged, len(stats.steps)):
            step = self._offset + int(stats.steps[row]) + 1  # steps done after that one
            for kind, table in columns.items():
                for name, value in zip(stats.param_names, table[row]):
                    if math.isfinite(value):
                        self.writer.add_scalar(f"{kind}/{name}", value, step)
        self._logged = len(stats.steps)

    def on_interrupt(self, state: FitState) -> None:
        self.on_train_end(state)

    def on_train_end(self, state: FitState) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
