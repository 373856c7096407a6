"""``fit`` and ``evaluate``: a classifier trained by the ``Trainer``, Keras-style."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ember.autograd import no_grad
from ember.train.batches import LoaderBatches
from ember.train.callbacks import Callback, FitState, History
from ember.train.metrics import MetricTracker
from ember.train.trainer import Meter, Trainer

__all__ = ["fit", "evaluate", "train_step", "ClassifierMeter"]


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


def train_step(model: Any, loss_fn: Any, optimizer: Any, device: Any = None) -> Any:
    """One optimisation step on a batch ``(inputs, targets)``: ``step(batch) -> {"loss",
    "outputs"}``, both detached (the meter reads them). The model and optimizer are closed
    over directly, so that ``ember.jit`` finds them as the step's state."""

    def step(batch: Any) -> dict[str, Any]:
        inputs, targets = _to(batch, device)
        outputs = model(inputs)
        loss = loss_fn(outputs, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"loss": loss.detach(), "outputs": outputs.detach()}

    return step


class ClassifierMeter(Meter):
    """Sample-weighted loss and the named metrics (``accuracy``, ``topK_accuracy``) of an epoch;
    a step returns ``{"loss": …, "outputs": …}`` and the batch is ``(inputs, targets)``."""

    def __init__(self, metrics: Sequence[str]) -> None:
        self.tracker = MetricTracker(metrics)

    def update(self, batch: Any, out: dict[str, Any]) -> dict[str, float]:
        value = out["loss"].item()
        self.tracker.update(value, out["outputs"], batch[1])
        return {"loss": value}

    def result(self) -> dict[str, float]:
        return self.tracker.result()

    def reset(self) -> None:
        self.tracker.reset()

    def state_dict(self) -> dict[str, Any]:
        t = self.tracker
        return {"count": t.count, "loss_sum": t.loss_sum, "correct": dict(t.correct)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        t = self.tracker
        t.count, t.loss_sum, t.correct = state["count"], state["loss_sum"], dict(state["correct"])


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
    first creates the optimizer state), once more for a smaller last batch. The loop is the
    ``Trainer``'s (ember.train.trainer), as for every ``ember train`` family.
    """
    if device is not None:
        model.to(device)
    state = FitState(model, optimizer, scheduler, history or History(), extra=dict(extra or {}))
    state.epoch = initial_epoch

    def validate() -> dict[str, float]:
        return evaluate(model, loss_fn, val_loader, metrics, device, prefix="val_")

    model.train()
    trainer = Trainer(
        train_step(model, loss_fn, optimizer, device),
        LoaderBatches(train_loader),
        state,
        epochs,
        callbacks=callbacks,
        meter=ClassifierMeter(metrics),
        evaluate=validate if val_loader is not None else None,
        jit=jit,
        progress=progress,
    )
    return trainer.run()
