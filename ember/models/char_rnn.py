"""A character-level LSTM language model (Karpathy's char-rnn, as in the ``lstm`` workload).

The default config is exactly the ``lstm`` reference workload: Embedding(65, 128) → 2-layer
LSTM(128 → 256, batch_first) → Linear(256, 65). Unlike GPT there is no context window: the
LSTM state summarises everything seen so far, so generation feeds the prompt once and then
one token per step, carrying (h, c) along. Written once for any framework
(``char_rnn_family(torch)``, see ``ember.models.neutral``); ``CharRNN`` is ember's.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

import ember
from ember.models.neutral import family, publish
from ember.models.sampling import check_temperature, sampling

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
    sample_next = sampling(torch).sample_next

    class CharRNN(nn.Module):
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

        @torch.no_grad()
        def generate(
            self,
            idx: Any,
            max_new_tokens: int,
            temperature: float = 1.0,
            top_k: int | None = None,
            top_p: float | None = None,
            generator: Any = None,
        ) -> Any:
            """Extend ``idx`` (B, T) by ``max_new_tokens`` sampled tokens → (B, T + new).

            Sampling as in ``GPT.generate``; each new token costs one LSTM step.
            """
            check_temperature("CharRNN.generate", temperature)
            tokens, feed, state = [idx], idx, None  # the prompt is fed once, as a whole
            for _ in range(max_new_tokens):
                logits, state = self.step(feed, state)
                feed = sample_next(logits[:, -1, :], temperature, top_k, top_p, generator)
                tokens.append(feed)  # (B, 1)
            return torch.cat(tokens, dim=1)

    return SimpleNamespace(CharRNN=CharRNN)


(CharRNN,) = publish(__name__, char_rnn_family(ember).CharRNN)


def char_rnn(**overrides: Any) -> CharRNN:
    """A CharRNN with the default config changed by ``overrides``."""
    return CharRNN(CharRNNConfig(**overrides))
