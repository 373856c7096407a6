"""A multi-layer perceptron for 28x28 images: 784 → 512 → ReLU → 512 → ReLU → 10.

The default config is exactly the ``mlp`` reference workload (no dropout); the training
recipe adds dropout, which has no parameters and so keeps the count. Written once for any
framework (``mlp_family(torch)``, see ``ember.models.neutral``); ``MLP`` is ember's.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

import ember
from ember.models.neutral import family, publish

__all__ = ["mlp", "MLPConfig", "MLP", "mlp_family"]


@dataclass
class MLPConfig:
    in_features: int = 784
    hidden: int = 512
    depth: int = 2  # hidden layers
    num_classes: int = 10
    dropout: float = 0.0


@family
def mlp_family(torch: ModuleType) -> SimpleNamespace:
    """The ``MLP`` class for the framework ``torch`` (ember or torch)."""
    nn = torch.nn

    class MLP(nn.Module):
        """Flatten, then ``depth`` Linear-ReLU(-Dropout) layers and a linear classifier."""

        def __init__(self, config: MLPConfig | None = None) -> None:
            super().__init__()
            self.config = c = config or MLPConfig()
            layers: list[Any] = [nn.Flatten()]
            width = c.in_features
            for _ in range(c.depth):
                layers += [nn.Linear(width, c.hidden), nn.ReLU()]
                if c.dropout > 0:
                    layers.append(nn.Dropout(c.dropout))
                width = c.hidden
            layers.append(nn.Linear(width, c.num_classes))
            self.net = nn.Sequential(*layers)

        def forward(self, x: Any) -> Any:
            return self.net(x)  # [B, 1, 28, 28] or [B, 784] → [B, num_classes]

    return SimpleNamespace(MLP=MLP)


(MLP,) = publish(__name__, mlp_family(ember).MLP)


def mlp(**overrides: Any) -> MLP:
    """A MLP with the default config changed by ``overrides``."""
    return MLP(MLPConfig(**overrides))
