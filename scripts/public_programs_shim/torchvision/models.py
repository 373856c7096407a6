"""``resnet18`` and ``vgg16`` in torchvision's layout (attribute names and child order), with
weights filled from a fixed NumPy seed instead of downloaded: both runs get the same weights."""

from __future__ import annotations

import enum
from typing import Any

import numpy as np


class VGG16_Weights(enum.Enum):  # noqa: N801 - torchvision's spelling
    """Accepted and ignored: no pretrained weights are downloaded."""

    IMAGENET1K_V1 = "IMAGENET1K_V1"
    DEFAULT = "IMAGENET1K_V1"


def _fill_from_numpy(model: Any, seed: int) -> Any:
    """Overwrite every parameter with a small NumPy draw (same values in both runs)."""
    import torch

    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for p in model.parameters():
            fan_in = int(np.prod(p.shape[1:])) if len(p.shape) > 1 else 1
            bound = 1.0 / np.sqrt(max(fan_in, 1))
            values = rng.uniform(-bound, bound, size=tuple(p.shape)).astype(np.float32)
            p.copy_(torch.tensor(values))
    return model


def vgg16(weights: Any = None, **_: Any) -> Any:
    """VGG-16 (configuration D): ``features``, ``avgpool``, ``classifier``."""
    import torch.nn as nn

    layers: list[Any] = []
    c = 3
    for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M"] + [512, 512, 512, "M"] * 2:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(c, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            c = int(v)

    class VGG(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(nn.Linear(512 * 7 * 7, 10))

        def forward(self, x: Any) -> Any:
            return self.classifier(self.avgpool(self.features(x)).flatten(1))

    return _fill_from_numpy(VGG(), 16)


def resnet18(weights: Any = None, num_classes: int = 1000, **_: Any) -> Any:
    """ResNet-18: conv1, bn1, relu, maxpool, layer1-4, avgpool, fc (torchvision's child order)."""
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x: Any) -> Any:
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            skip = x if self.downsample is None else self.downsample(x)
            return self.relu(out + skip)

    class ResNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            widths, cin = [64, 128, 256, 512], 64
            for i, w in enumerate(widths):
                stride = 1 if i == 0 else 2
                setattr(self, f"layer{i + 1}", nn.Sequential(Block(cin, w, stride), Block(w, w, 1)))
                cin = w
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512, num_classes)

        def forward(self, x: Any) -> Any:
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.avgpool(x).flatten(1))

    return _fill_from_numpy(ResNet(), 18)
