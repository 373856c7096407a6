"""``torch.nn.modules.rnn``: RNN, LSTM, GRU and their cells (the same classes as ``ember.nn``)."""

from __future__ import annotations

from ember.nn.layers.recurrent import *  # noqa: F403
from ember.nn.layers.recurrent import __all__  # noqa: F401
