"""Optimizers and learning-rate schedules.

Flow: ``Optimizer(model.parameters(), lr=…)`` groups the parameters → ``loss.backward()``
fills ``.grad`` → ``optimizer.step()`` applies the subclass's per-parameter rule in place →
``scheduler.step()`` changes ``param_groups[i]["lr"]``.
"""

from __future__ import annotations

from ember.optim import lr_scheduler
from ember.optim.adagrad import Adagrad
from ember.optim.adam import Adam, AdamW
from ember.optim.optimizer import Optimizer
from ember.optim.rmsprop import RMSprop
from ember.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
