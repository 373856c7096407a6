"""Synthetic stand-ins for the datasets the programs download (nothing is downloaded).

Sizes come from ``SHIM_TRAIN_SIZE`` / ``SHIM_TEST_SIZE`` (default 20 / 20); labels cycle through
the classes so every class occurs. Pixels come from a NumPy generator seeded by the split, so a
PyTorch run and an ember run see identical data.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image


def _n(train: bool) -> int:
    return int(os.environ.get("SHIM_TRAIN_SIZE" if train else "SHIM_TEST_SIZE", "20"))


class _Images:
    """N synthetic uint8 images with cycling labels."""

    shape: tuple[int, ...] = (28, 28)
    mode = "L"
    classes_n = 10

    def __init__(
        self,
        root: str = "",
        train: bool = True,
        download: bool = False,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
    ) -> None:
        import torch

        n = _n(train)
        rng = np.random.default_rng(0 if train else 1)
        self._images = rng.integers(0, 256, size=(n, *self.shape), dtype=np.uint8)
        self._labels = np.arange(n, dtype=np.int64) % self.classes_n
        self.data = torch.tensor(self._images)
        self.targets = torch.tensor(self._labels)
        self.transform, self.target_transform = transform, target_transform
        self.classes = [str(i) for i in range(self.classes_n)]

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        img: Any = Image.fromarray(self._images[i], mode=self.mode)
        target: Any = int(self._labels[i])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target


class MNIST(_Images):
    """28x28 grey images, 10 classes."""


class FashionMNIST(_Images):
    """28x28 grey images, 10 classes."""


class CIFAR10(_Images):
    """32x32 RGB images, 10 classes."""

    shape = (32, 32, 3)
    mode = "RGB"


class FakeData(_Images):
    """RGB images of ``image_size`` (C, H, W), like torchvision's FakeData."""

    mode = "RGB"

    def __init__(
        self,
        size: int | None = None,
        image_size: tuple[int, int, int] = (3, 224, 224),
        num_classes: int = 10,
        transform: Callable[[Any], Any] | None = None,
        **_: Any,
    ) -> None:
        self.shape = (image_size[1], image_size[2], image_size[0])
        self.classes_n = num_classes
        super().__init__(train=True, transform=transform)


class ImageFolder:
    """Images under ``root/<class>/<file>``, read with PIL as RGB."""

    def __init__(self, root: str, transform: Callable[[Any], Any] | None = None, **_: Any) -> None:
        self.classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        self.samples = [
            (os.path.join(root, c, f), k)
            for k, c in enumerate(self.classes)
            for f in sorted(os.listdir(os.path.join(root, c)))
        ]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        path, target = self.samples[i]
        img: Any = Image.open(path).convert("RGB")
        if self.transform is not None:
            img = self.transform(img)
        return img, target
