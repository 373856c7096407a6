"""A character-level LSTM language model (Karpathy's char-rnn, as in the ``lstm`` workload).

The default config is exactly the ``lstm`` reference workload: Embedding(65, 128) → 2-layer
LSTM(128 → 256, batch_first) → Linear(256, 65). Unlike GPT there is no context window: the
LSTM state summarises everything seen so far, so generation feeds the prompt once and then
one token per step, carrying (h, c) along. Written once for any framework
(``char_rnn_family(torch)``, see ``ember.models.neutral``); ``CharRNN`` is ember's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

import ember
from ember.models.neutral import family, publish
from ember.models.sampling import sampling

__all__ = ["char_rnn", "CharRNNConfig", "CharRNN", "char_rnn_family"]


@dataclass
class CharRNNConfig:
    vocab_size: int = 65
    n_embd: int = 128  # embedding width (the LSTM's input size)
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.0  # between LSTM layers
    block_size: int = 64  # training sequence length (generation is not limited by it)


@family
def char_rnn_family(torch: ModuleType) -> SimpleNamespace:
    """The ``CharRNN`` class for the framework ``torch`` (ember or torch)."""
    nn, F = torch.nn, torch.nn.functional

    class CharRNN(sampling(torch).Generation, nn.Module):
        """Token embedding → multi-layer LSTM → linear head over the vocabulary."""

        def __init__(self, config: CharRNNConfig | None = None) -> None:
            super().__init__()
            self.config = c = config or CharRNNConfig()
            self.embedding = nn.Embedding(c.vocab_size, c.n_embd)
            self.lstm = nn.LSTM(
                c.n_embd,
                c.hidden_size,
                num_layers=c.num_layers,
                dropout=c.dropout,
                batch_first=True,
            )
            self.head = nn.Linear(c.hidden_size, c.vocab_size)

        def step(self, idx: Any, state: tuple[Any, Any] | None = None) -> tuple[Any, Any]:
            """Logits (B, T, vocab) for ``idx`` (B, T) continuing from ``state`` (h, c), each
            (num_layers, B, hidden_size), and the new state."""
            x = self.embedding(idx)  # (B, T, n_embd)
            out, state = self.lstm(x, state)  # (B, T, hidden), ((L, B, hidden), (L, B, hidden))
            return self.head(out), state

        def forward(self, idx: Any, targets: Any = None) -> tuple[Any, Any]:
            """Logits (B, T, vocab) and the mean cross-entropy against ``targets`` (B, T) if
            given."""
            logits, _ = self.step(idx)
            if targets is None:
                return logits, None
            B, T = idx.shape
            return logits, F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T))

        def next_logits_fn(self, batch: int) -> Callable[[Any], Any]:
            """What ``generate`` calls with the sequence so far for the next token's logits:
            one LSTM step over the tokens not seen yet (the prompt once, then each new token),
            carrying (h, c) along."""
            seen, state = 0, None

            def next_logits(idx: Any) -> Any:
                nonlocal seen, state
                logits, state = self.step(idx[:, seen:], state)
                seen = idx.shape[1]
                return logits[:, -1, :]

            return next_logits

    return SimpleNamespace(CharRNN=CharRNN)


(CharRNN,) = publish(__name__, char_rnn_family(ember).CharRNN)


def char_rnn(**overrides: Any) -> CharRNN:
    """A CharRNN with the default config changed by ``overrides``."""
    return CharRNN(CharRNNConfig(**overrides))
