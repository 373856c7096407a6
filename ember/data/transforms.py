"""Image transforms that work on whole batches (``[B, H, W]`` uint8 or ``[B, C, H, W]``).

The image datasets call a transform once per batch, so random augmentations draw one
decision per sample with vectorised NumPy, not a Python loop. Every transform accepts a
NumPy array or an ember Tensor and returns the same kind (``ToTensor`` always a Tensor).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ember.creation import from_host
from ember.random import Generator, default_generator
from ember.tensor import Tensor

__all__ = ["Compose", "ToTensor", "Normalize", "RandomHorizontalFlip", "RandomCrop", "Lambda"]


def _host(x: Any) -> tuple[np.ndarray, bool]:
    if isinstance(x, Tensor):
        return x.detach().numpy(), True
    return np.asarray(x), False


def _back(arr: np.ndarray, was_tensor: bool) -> Any:
    return from_host(np.ascontiguousarray(arr)) if was_tensor else arr


class Compose:
    """Apply transforms one after another."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({inner}\n)"


class Lambda:
    """Wrap a function as a transform."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, x: Any) -> Any:
        return self.fn(x)


class ToTensor:
    """uint8 images in [0, 255] → float32 Tensor in [0, 1]; ``[B, H, W]`` gains a channel dim."""

    def __call__(self, x: Any) -> Tensor:
        arr, _ = _host(x)
        if arr.ndim == 3:
            arr = arr[:, None]
        if arr.ndim != 4:
            raise ValueError(
                f"ToTensor: expected a batch [B, H, W] or [B, C, H, W], got shape {arr.shape}"
            )
        scale = np.float32(1 / 255) if arr.dtype == np.uint8 else np.float32(1)
        return from_host(arr.astype(np.float32) * scale)

    def __repr__(self) -> str:
        return "ToTensor()"


class Normalize:
    """``(x - mean) / std`` per channel of a ``[B, C, H, W]`` batch."""

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1)
        if (self.std == 0).any():
            raise ValueError(
                f"Normalize: std evaluated to zero, leading to division by zero: {std}"
            )

    def __call__(self, x: Any) -> Any:
        arr, was_tensor = _host(x)
        if arr.ndim != 4 or self.mean.size not in (1, arr.shape[1]):
            raise ValueError(
                f"Normalize: expected [B, C, H, W] with C = {self.mean.size}, got shape {arr.shape}"
            )
        shape = (1, -1, 1, 1)
        out = (arr.astype(np.float32) - self.mean.reshape(shape)) / self.std.reshape(shape)
        return _back(out, was_tensor)

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class RandomHorizontalFlip:
    """Mirror each image left-right with probability ``p``."""

    def __init__(self, p: float = 0.5, generator: Generator | None = None) -> None:
        self.p = p
        self.generator = generator

    def __call__(self, x: Any) -> Any:
        arr, was_tensor = _host(x)
        flip = (self.generator or default_generator).numpy.random(arr.shape[0]) < self.p
        out = arr.copy()
        out[flip] = arr[flip][..., ::-1]
        return _back(out, was_tensor)

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class RandomCrop:
    """A random ``size`` crop of each image after zero-padding by ``padding`` on every side."""

    def __init__(
        self, size: int | tuple[int, int], padding: int = 0, generator: Generator | None = None
    ) -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding = padding
        self.generator = generator

    def __call__(self, x: Any) -> Any:
        arr, was_tensor = _host(x)
        p, (h, w) = self.padding, self.size
        pad = [(0, 0)] * (arr.ndim - 2) + [(p, p), (p, p)]
        padded = np.pad(arr, pad)
        max_y, max_x = padded.shape[-2] - h, padded.shape[-1] - w
        if max_y < 0 or max_x < 0:
            raise ValueError(
                f"RandomCrop: crop size {self.size} is larger than the padded image "
                f"{padded.shape[-2:]}"
            )
        rng = (self.generator or default_generator).numpy
        b = arr.shape[0]
        oy = rng.integers(0, max_y + 1, size=b)
        ox = rng.integers(0, max_x + 1, size=b)
        windows = sliding_window_view(padded, (h, w), axis=(-2, -1))  # [B, (C,) Y, X, h, w]
        if arr.ndim == 4:  # bring the window offsets next to B: [B, Y, X, C, h, w]
            windows = windows.transpose(0, 2, 3, 1, 4, 5)
        picked = windows[np.arange(b), oy, ox]
        return _back(np.ascontiguousarray(picked), was_tensor)

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"
