"""The classic two-conv MNIST network (the ``cnn`` reference workload, exactly).

Conv(1→32, 3) → ReLU → Conv(32→64, 3) → ReLU → MaxPool(2) → Dropout(0.25) → Flatten →
Linear(9216→128) → ReLU → Dropout(0.5) → Linear(128→10), PyTorch's default initialisation.
Written once for any framework (``cnn_family(torch)``, see ``ember.models.neutral``); ``CNN``
is ember's.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

import ember
from ember.models.neutral import family, publish

__all__ = ["cnn", "CNNConfig", "CNN", "cnn_family"]


@dataclass
class CNNConfig:
    in_channels: int = 1
    image_size: int = 28
    num_classes: int = 10
    width: int = 32  # channels of the first conv; the second has twice as many
    hidden: int = 128
    dropout1: float = 0.25
    dropout2: float = 0.5


@family
def cnn_family(torch: ModuleType) -> SimpleNamespace:
    """The ``CNN`` class for the framework ``torch`` (ember or torch)."""
    nn = torch.nn

    class CNN(nn.Module):
        """Two 3x3 convolutions, a max-pool and a two-layer classifier."""

        def __init__(self, config: CNNConfig | None = None) -> None:
            super().__init__()
            self.config = c = config or CNNConfig()
            self.conv1 = nn.Conv2d(c.in_channels, c.width, 3)
            self.conv2 = nn.Conv2d(c.width, 2 * c.width, 3)
            self.pool = nn.MaxPool2d(2)
            self.dropout1 = nn.Dropout(c.dropout1)
            pooled = (c.image_size - 4) // 2
            self.fc1 = nn.Linear(2 * c.width * pooled * pooled, c.hidden)
            self.dropout2 = nn.Dropout(c.dropout2)
            self.fc2 = nn.Linear(c.hidden, c.num_classes)

        def forward(self, x: Any) -> Any:
            x = self.conv1(x).relu()  # [B, 32, 26, 26]
            x = self.conv2(x).relu()  # [B, 64, 24, 24]
            x = self.dropout1(self.pool(x))  # [B, 64, 12, 12]
            x = x.flatten(1)  # [B, 9216]
            x = self.dropout2(self.fc1(x).relu())  # [B, 128]
            return self.fc2(x)  # [B, 10]

    return SimpleNamespace(CNN=CNN)


(CNN,) = publish(__name__, cnn_family(ember).CNN)


def cnn(**overrides: Any) -> CNN:
    """A CNN with the default config changed by ``overrides``."""
    return CNN(CNNConfig(**overrides))
