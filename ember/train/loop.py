"""``fit`` and ``evaluate``: the plain training loop, written to be read and copied."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from ember.autograd import no_grad
from ember.jit import JitFunction
from ember.train.callbacks import Callback, FitState, History
from ember.train.metrics import MetricTracker
from ember.train.progress import format_logs, progress_bar

__all__ = ["fit", "evaluate", "train_step"]


def _to(batch: Any, device: Any) -> tuple[Any, Any]:
    inputs, targets = batch[0], batch[1]
    if device is not None:
        inputs, targets = inputs.to(device), targets.to(device)
    return inputs, targets


def evaluate(
    model: Any,
    loss_fn: Any,
    loader: Iterable[Any],
    metrics: Sequence[str] = ("accuracy",),
    device: Any = None,
    prefix: str = "",
) -> dict[str, float]:
    """Mean loss and metrics of ``model`` over ``loader`` (eval mode, no gradients)."""
    tracker = MetricTracker(metrics)
    was_training = model.training
    model.eval()
    with no_grad():
        for batch in loader:
            inputs, targets = _to(batch, device)
            outputs = model(inputs)
            tracker.update(loss_fn(outputs, targets).item(), outputs, targets)
    model.train(was_training)
    return tracker.result(prefix)


def train_step(model: Any, loss_fn: Any, optimizer: Any) -> Any:
    """One optimisation step on a batch: ``step(inputs, targets) -> (loss, outputs)``, both
    detached (the loop reads them for its metrics)."""

    def step(inputs: Any, targets: Any) -> tuple[Any, Any]:
        outputs = model(inputs)
        loss = loss_fn(outputs, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.detach(), outputs.detach()

    return step


def _is_plateau(scheduler: Any) -> bool:
    """ReduceLROnPlateau-like schedulers step on a metric, not on a count."""
    return hasattr(scheduler, "num_bad_epochs")


def fit(
    model: Any,
    loss_fn: Any,
    optimizer: Any,
    train_loader: Iterable[Any],
    val_loader: Iterable[Any] | None = None,
    epochs: int = 1,
    scheduler: Any = None,
    callbacks: Sequence[Callback] = (),
    metrics: Sequence[str] = ("accuracy",),
    device: Any = None,
    progress: bool = True,
    initial_epoch: int = 0,
    history: History | None = None,
    extra: dict[str, Any] | None = None,
    jit: bool = False,
) -> History:
    """Train ``model`` for epochs ``initial_epoch`` … ``epochs - 1`` and return the History.

    Each epoch: train mode, one optimizer step per batch, then (with ``val_loader``) an
    evaluation in eval mode without gradients, one History row, the scheduler step and the
    callbacks. ``initial_epoch``/``history`` continue a resumed run; ``extra`` is stored in
    checkpoints written by ``ModelCheckpoint`` (e.g. the run's config). ``jit`` compiles the
    step (forward, loss, backward, update) with ``ember.jit``: traced on its second batch (the
    first creates the optimizer state), once more for a smaller last batch.
    """
    if device is not None:
        model.to(device)
    state = FitState(model, optimizer, scheduler, history or History(), extra=dict(extra or {}))
    tracker = MetricTracker(metrics)
    step = train_step(model, loss_fn, optimizer)
    if jit:
        step = JitFunction(step)
    for cb in callbacks:
        cb.on_train_begin(state)
    for epoch in range(initial_epoch, epochs):
        state.epoch = epoch
        start = time.perf_counter()
        model.train()
        tracker.reset()
        total = len(train_loader) if hasattr(train_loader, "__len__") else None
        bar = progress_bar(train_loader, progress, f"epoch {epoch + 1}/{epochs}", total)
        for batch in bar:
            inputs, targets = _to(batch, device)
            loss, outputs = step(inputs, targets)
            value = loss.item()
            tracker.update(value, outputs, targets)
            bar.set_postfix(loss=f"{value:.4f}")
            for cb in callbacks:
                cb.on_batch_end(state, {"loss": value})
        bar.close()
        logs: dict[str, float] = {"epoch": epoch + 1, **tracker.result()}
        if val_loader is not None:
            logs.update(evaluate(model, loss_fn, val_loader, metrics, device, prefix="val_"))
        logs["lr"] = optimizer.param_groups[0]["lr"]
        logs["time"] = time.perf_counter() - start
        state.history.append(logs)
        if scheduler is not None and _is_plateau(scheduler):
            scheduler.step(logs.get("val_loss", logs["loss"]))
        elif scheduler is not None:
            scheduler.step()
        if progress:
            print(format_logs(epoch + 1, epochs, logs), flush=True)
        for cb in callbacks:
            cb.on_epoch_end(state, logs)
        if state.stop:
            break
    for cb in callbacks:
        cb.on_train_end(state)
    return state.history
