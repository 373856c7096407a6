"""Optimizers and learning-rate schedules.

Flow: ``Optimizer(model.parameters(), lr=…)`` groups the parameters → ``loss.backward()``
fills ``.grad`` → ``optimizer.step()`` applies the subclass's per-parameter rule in place →
``scheduler.step()`` changes ``param_groups[i]["lr"]``. ``LBFGS.step(closure)`` instead calls
the closure for the loss and gradients as often as its iterations need.
"""

from __future__ import annotations

from ember.optim import lr_scheduler
from ember.optim.adadelta import Adadelta
from ember.optim.adafactor import Adafactor
from ember.optim.adagrad import Adagrad
from ember.optim.adam import Adam, AdamW
from ember.optim.adamax import Adamax
from ember.optim.asgd import ASGD
from ember.optim.lbfgs import LBFGS
from ember.optim.muon import Muon
from ember.optim.nadam import NAdam
from ember.optim.optimizer import Optimizer
from ember.optim.radam import RAdam
from ember.optim.rmsprop import RMSprop
from ember.optim.rprop import Rprop
from ember.optim.sgd import SGD

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Adamax",
    "NAdam",
    "RAdam",
    "ASGD",
    "Rprop",
    "LBFGS",
    "Adafactor",
    "Muon",
    "lr_scheduler",
]
