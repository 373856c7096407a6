"""Training: ``fit`` (the loop), callbacks, metrics and atomic safetensors checkpoints.

Flow: ``fit(model, loss_fn, optimizer, train_loader, val_loader, epochs, callbacks=[...])``
runs epochs → each appends a row to the ``History`` → callbacks (``ModelCheckpoint``,
``CSVLogger``, ``EarlyStopping``) save, log or stop. ``checkpoint.load`` + ``initial_epoch``
resume a run exactly.
"""

from __future__ import annotations

from ember.train import checkpoint
from ember.train.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    FitState,
    History,
    ModelCheckpoint,
)
from ember.train.loop import evaluate, fit
from ember.train.metrics import accuracy, topk_accuracy

__all__ = [
    "fit",
    "evaluate",
    "History",
    "FitState",
    "Callback",
    "EarlyStopping",
    "ModelCheckpoint",
    "CSVLogger",
    "checkpoint",
    "accuracy",
    "topk_accuracy",
]
