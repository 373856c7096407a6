"""A word-level language model (Embedding → 2-layer LSTM or GRU → Linear) trained with
truncated backpropagation through time: the hidden state is carried across batches and
detached, gradients are clipped by norm, and the learning rate is set by hand per epoch.

Shared randomness: the token stream comes from NumPy; batches are taken in order; the
recurrent and embedding dropouts are off (p = 0).
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from tests.compat.harness import SharedInit, assert_same_losses

VOCAB, BATCH, BPTT = 20, 4, 6


def program(torch: ModuleType, init: SharedInit, cell: str) -> list[float]:
    nn = torch.nn

    class LanguageModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(VOCAB, 12)
            self.rnn = getattr(nn, cell)(12, 16, num_layers=2, dropout=0.0)
            self.decoder = nn.Linear(16, VOCAB)

        def forward(self, tokens, hidden):
            output, hidden = self.rnn(self.embed(tokens), hidden)
            return self.decoder(output), hidden

    def detach(hidden):
        if isinstance(hidden, tuple):
            return tuple(h.detach() for h in hidden)
        return hidden.detach()

    stream = np.random.default_rng(4).integers(0, VOCAB, size=BATCH * (3 * BPTT + 1))
    data = torch.from_numpy(stream.reshape(BATCH, -1).T.copy())  # (time, batch)
    model = init(cell, LanguageModel())
    criterion = nn.CrossEntropyLoss()
    lr = 2.0
    losses = []
    for _ in range(2):
        zeros = torch.zeros(2, BATCH, 16)
        hidden = (zeros, zeros.clone()) if cell == "LSTM" else zeros
        for start in range(0, data.size(0) - 1, BPTT):
            inputs, targets = data[start : start + BPTT], data[start + 1 : start + 1 + BPTT]
            hidden = detach(hidden)
            model.zero_grad()
            logits, hidden = model(inputs, hidden)
            loss = criterion(logits.view(-1, VOCAB), targets.reshape(-1))
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            for p in model.parameters():
                p.data.add_(p.grad, alpha=-lr)
            losses.append(loss.item())
        lr /= 4
    return losses


@pytest.mark.parametrize("cell", ["LSTM", "GRU"])
def test_language_model_matches_torch(cell: str) -> None:
    assert_same_losses(program, cell=cell)
