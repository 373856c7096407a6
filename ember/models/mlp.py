"""A multi-layer perceptron for 28x28 images: 784 → 512 → ReLU → 512 → ReLU → 10.

The default config is exactly the ``mlp`` reference workload (no dropout); the training
recipe adds dropout, which has no parameters and so keeps the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ember import nn
from ember.tensor import Tensor

__all__ = ["mlp", "MLPConfig", "MLP"]


@dataclass
class MLPConfig:
    in_features: int = 784
    hidden: int = 512
    depth: int = 2  # hidden layers
    num_classes: int = 10
    dropout: float = 0.0


class MLP(nn.Module):
    """Flatten, then ``depth`` Linear-ReLU(-Dropout) layers and a linear classifier."""

    def __init__(self, config: MLPConfig | None = None) -> None:
        super().__init__()
        self.config = c = config or MLPConfig()
        layers: list[nn.Module] = [nn.Flatten()]
        width = c.in_features
        for _ in range(c.depth):
            layers += [nn.Linear(width, c.hidden), nn.ReLU()]
            if c.dropout > 0:
                layers.append(nn.Dropout(c.dropout))
            width = c.hidden
        layers.append(nn.Linear(width, c.num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)  # [B, 1, 28, 28] or [B, 784] → [B, num_classes]


def mlp(**overrides: Any) -> MLP:
    """A MLP with the default config changed by ``overrides``."""
    return MLP(MLPConfig(**overrides))
