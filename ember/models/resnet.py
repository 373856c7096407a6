"""A small ResNet for 28x28 images (He et al. 2016, "Deep Residual Learning"); the ``resnet``
reference workload with the default widths (the training recipe doubles them).

Stem conv3x3(1→16)-BN-ReLU, three stages of one BasicBlock (16, 32 stride 2, 64 stride 2),
global average pooling and a linear classifier. Convs have no bias (BN follows). Written once
for any framework (``resnet_family(torch)``, see ``ember.models.neutral``); ``ResNet`` and
``BasicBlock`` are ember's.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

import ember
from ember.models.neutral import family, publish

__all__ = ["resnet", "ResNetConfig", "BasicBlock", "ResNet", "resnet_family"]


@dataclass
class ResNetConfig:
    in_channels: int = 1
    widths: tuple[int, ...] = (16, 32, 64)
    blocks_per_stage: int = 1
    num_classes: int = 10


@family
def resnet_family(torch: ModuleType) -> SimpleNamespace:
    """The ``BasicBlock`` and ``ResNet`` classes for the framework ``torch`` (ember or torch)."""
    nn = torch.nn

    class BasicBlock(nn.Module):
        """conv3x3-BN-ReLU-conv3x3-BN plus a shortcut (1x1 conv + BN when the shape changes)."""

        def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(out_channels)
            self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(out_channels)
            self.shortcut = nn.Identity()
            if stride != 1 or in_channels != out_channels:
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                    nn.BatchNorm2d(out_channels),
                )

        def forward(self, x: Any) -> Any:
            out = self.bn1(self.conv1(x)).relu()  # [B, C_out, H / stride, W / stride]
            out = self.bn2(self.conv2(out))
            return (out + self.shortcut(x)).relu()

    class ResNet(nn.Module):
        """Stem, stages of BasicBlocks (the first of each stage after the first has stride 2)."""

        def __init__(self, config: ResNetConfig | None = None) -> None:
            super().__init__()
            self.config = c = config or ResNetConfig()
            w0 = c.widths[0]
            self.stem = nn.Sequential(
                nn.Conv2d(c.in_channels, w0, 3, padding=1, bias=False),
                nn.BatchNorm2d(w0),
                nn.ReLU(),
            )
            blocks: list[Any] = []
            width = w0
            for i, out in enumerate(c.widths):
                for j in range(c.blocks_per_stage):
                    blocks.append(BasicBlock(width, out, stride=2 if i > 0 and j == 0 else 1))
                    width = out
            self.stages = nn.Sequential(*blocks)
            self.fc = nn.Linear(width, c.num_classes)

        def forward(self, x: Any) -> Any:
            x = self.stem(x)  # [B, 16, 28, 28]
            x = self.stages(x)  # [B, 64, 7, 7]
            x = x.mean((2, 3))  # global average pool: [B, 64]
            return self.fc(x)  # [B, 10]

    return SimpleNamespace(BasicBlock=BasicBlock, ResNet=ResNet)


_resnet = resnet_family(ember)
BasicBlock, ResNet = publish(__name__, _resnet.BasicBlock, _resnet.ResNet)


def resnet(**overrides: Any) -> ResNet:
    """A ResNet with the default config changed by ``overrides``."""
    return ResNet(ResNetConfig(**overrides))
