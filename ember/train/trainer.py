"""The one training loop: a step function over a batch plan, with callbacks.

Every family (classifiers, language models, GANs, autoencoders/VAE, diffusion) trains
through ``Trainer``. What differs per family is the step (one optimisation step on a batch,
returning detached tensors to log), the ``BatchPlan`` (ember.train.batches), the ``Meter`` that
averages an epoch's step logs, an optional ``evaluate`` at the end of each epoch, and the
callbacks (checkpoint, metrics file, sample grid, early stopping, diagnostics…).

``run()`` trains to the end. The loop can also be driven from outside one step at a time
(``start``, ``step``, ``finished``, ``finish``, ``reset``), which is how an interactive page
pauses and resumes it. Ctrl-C during ``run()`` finishes the current step, lets the callbacks
save (``on_interrupt``) and raises ``TrainingInterrupted``; a second Ctrl-C stops at once.
"""

from __future__ import annotations

import copy
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from ember.jit import JitFunction
from ember.random import get_rng_state, set_rng_state
from ember.train.batches import BatchPlan
from ember.train.callbacks import Callback, FitState, History
from ember.train.progress import format_logs, progress_bar

__all__ = ["Trainer", "Meter", "MeanMeter", "TrainingInterrupted"]


class TrainingInterrupted(Exception):
    """Ctrl-C stopped ``Trainer.run`` after a completed step; callbacks have saved."""

    def __init__(self, state: FitState) -> None:
        super().__init__(f"interrupted in epoch {state.epoch + 1} after {state.step} steps")
        self.state = state


class Meter:
    """Accumulates one epoch's step results into the epoch's logged means."""

    def update(self, batch: Any, out: dict[str, Any]) -> dict[str, float]:
        """Add one step; return its values for the progress display."""
        raise NotImplementedError

    def result(self) -> dict[str, float]:
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError


class MeanMeter(Meter):
    """The mean over the epoch's steps of every 0-d tensor a step returns."""

    def __init__(self) -> None:
        self.reset()

    def update(self, batch: Any, out: dict[str, Any]) -> dict[str, float]:
        values = {k: v.item() for k, v in out.items()}
        for k, v in values.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.count += 1
        return values

    def result(self) -> dict[str, float]:
        return {k: v / max(self.count, 1) for k, v in self.sums.items()}

    def reset(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def state_dict(self) -> dict[str, Any]:
        return {"sums": dict(self.sums), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sums, self.count = dict(state["sums"]), int(state["count"])


def _is_plateau(scheduler: Any) -> bool:
    """ReduceLROnPlateau-like schedulers step on a metric, not on a count."""
    return hasattr(scheduler, "num_bad_epochs")


class _DeferredInterrupt:
    """While active (main thread only), the first Ctrl-C sets ``hit`` instead of raising, so
    that the step in progress completes; a second one raises KeyboardInterrupt at once."""

    def __init__(self) -> None:
        self.hit = False
        self._previous: Any = None

    def __enter__(self) -> _DeferredInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.hit:
            raise KeyboardInterrupt
        self.hit = True

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class Trainer:
    """Trains ``state.model`` with ``step`` over ``plan`` for ``epochs`` epochs.

    ``step(batch) -> dict[str, Tensor]`` makes one optimisation step and returns detached
    tensors (compiled with ``ember.jit`` when ``jit``). ``scheduler_interval`` is ``"epoch"``
    or ``"step"``: when ``state.scheduler`` steps. ``unit`` names the History's position
    column: ``"epoch"`` (epochs done) or ``"iter"`` (steps done; ``epochs`` is then the run's
    step count, an upper bound on its epochs, and the plan ends the run).
    """

    def __init__(
        self,
        step: Callable[[Any], dict[str, Any]],
        plan: BatchPlan,
        state: FitState,
        epochs: int,
        *,
        callbacks: Sequence[Callback] = (),
        meter: Meter | None = None,
        evaluate: Callable[[], dict[str, float]] | None = None,
        scheduler_interval: str = "epoch",
        unit: str = "epoch",
        jit: bool = False,
        progress: bool = True,
    ) -> None:
        if scheduler_interval not in ("epoch", "step"):
            raise ValueError(f"Trainer: scheduler_interval {scheduler_interval!r}: epoch or step")
        if unit not in ("epoch", "iter"):
            raise ValueError(f"Trainer: unit {unit!r}: expected epoch or iter")
        self.step_fn = JitFunction(step) if jit else step
        self.plan, self.state, self.epochs = plan, state, epochs
        self.callbacks = list(callbacks)
        self.meter = meter or MeanMeter()
        self.evaluate = evaluate
        self.scheduler_interval, self.unit, self.progress = scheduler_interval, unit, progress
        self.state.plan, self.state.meter = plan, self.meter
        self._bar: Any = None
        self._epoch_len = 0
        self._epoch_start = 0.0
        self._started = False
        self._initial = self._snapshot()

    # -- driving the loop ---------------------------------------------------------------------
    @property
    def finished(self) -> bool:
        """No step is left: all epochs done, or a callback set ``state.stop``."""
        return self.state.stop or (self.state.batch == 0 and self._length(self.state.epoch) == 0)

    def _length(self, epoch: int) -> int:
        if epoch >= self.epochs:
            return 0
        return self.plan.epoch_length(epoch, self.state.step)

    def start(self) -> None:
        """Call the callbacks' ``on_train_begin`` (once; ``step`` calls it when needed)."""
        if not self._started:
            self._started = True
            for cb in self.callbacks:
                cb.on_train_begin(self.state)

    def step(self) -> dict[str, float]:
        """One optimisation step (beginning and ending epochs around it); its logged values."""
        self.start()
        if self.finished:
            raise RuntimeError("Trainer.step: training is finished")
        state = self.state
        if self._bar is None:
            self._begin_epoch()
        batch = self.plan.get(state.batch)
        values = self.meter.update(batch, self.step_fn(batch))
        state.batch += 1
        state.step += 1
        if state.scheduler is not None and self.scheduler_interval == "step":
            state.scheduler.step()
        self._bar.update(values)
        for cb in self.callbacks:
            cb.on_batch_end(state, values)
        if state.batch == self._epoch_len:
            self._end_epoch()
        return values

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def finish(self) -> History:
        """Call the callbacks' ``on_train_end``; return the History."""
        self._close_bar()
        for cb in self.callbacks:
            cb.on_train_end(self.state)
        return self.state.history

    def run(self) -> History:
        """Train to the end (see the module docstring for Ctrl-C)."""
        with _DeferredInterrupt() as interrupt:
            while not self.finished:
                self.step()
                if interrupt.hit:
                    self._interrupted()
        return self.finish()

    def reset(self) -> None:
        """Back to the state the Trainer was created with (weights, optimizer, RNG, history)."""
        model, optimizer, scheduler, rng, rows, position = copy.deepcopy(self._initial)
        state = self.state
        for obj, saved in ((state.model, model), (state.optimizer, optimizer)):
            if saved is not None:
                obj.load_state_dict(saved)
        if scheduler is not None:
            state.scheduler.load_state_dict(scheduler)
        set_rng_state(rng)
        state.history = History(rows)
        state.stop = False
        self._close_bar()
        self.plan.end()
        self.state.restore_position(position)

    def _snapshot(self) -> tuple:
        s = self.state
        parts = (s.model, s.optimizer, s.scheduler)
        saved = [p.state_dict() if p is not None else None for p in parts]
        return copy.deepcopy((*saved, get_rng_state(), s.history.rows, self.state.position()))

    # -- epochs ----------------------------------------------------------------------------------
    def _begin_epoch(self) -> None:
        state = self.state
        self._epoch_len = self._length(state.epoch)
        self._epoch_start = time.perf_counter()
        self.plan.begin(state.epoch)
        if state.batch == 0:
            self.meter.reset()
        label = self._label(state.epoch + 1)
        self._bar = progress_bar(self.progress, label, self._epoch_len, state.batch)

    def _end_epoch(self) -> None:
        state = self.state
        self._close_bar()
        self.plan.end()
        position = state.epoch + 1 if self.unit == "epoch" else state.step
        logs: dict[str, float] = {self.unit: position, **self.meter.result()}
        if self.evaluate is not None:
            logs.update(self.evaluate())
        if state.optimizer is not None:
            logs["lr"] = float(state.optimizer.param_groups[0]["lr"])
        logs["time"] = time.perf_counter() - self._epoch_start
        state.history.append(logs)
        scheduler = state.scheduler
        if scheduler is not None and self.scheduler_interval == "epoch":
            if _is_plateau(scheduler):
                scheduler.step(logs.get("val_loss", logs["loss"]))
            else:
                scheduler.step()
        if self.progress:
            print(format_logs(self._label(state.epoch + 1), logs), flush=True)
        for cb in self.callbacks:
            cb.on_epoch_end(state, logs)
        state.epoch += 1
        state.batch = 0

    def _label(self, epoch: int) -> str:
        """``epoch 3/10``, or ``iter 200`` (steps done) for an iteration-counted run."""
        if self.unit == "iter":  # ``epochs`` then counts steps
            return f"iter {self.state.step}/{self.epochs}"
        return f"epoch {epoch}/{self.epochs}"

    def _interrupted(self) -> None:
        self._close_bar()
        for cb in self.callbacks:
            cb.on_interrupt(self.state)
        raise TrainingInterrupted(self.state)
