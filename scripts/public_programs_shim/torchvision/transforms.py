"""The few transforms the public programs use, on PIL images and tensors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from PIL import Image

_RNG = np.random.default_rng(1234)  # shared by both runs: same crops and flips


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x


class ToTensor:
    """PIL image or HWC uint8 array -> float CHW tensor in [0, 1]."""

    def __call__(self, pic: Any) -> Any:
        import torch

        arr = np.asarray(pic)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        arr = np.ascontiguousarray(arr.transpose(2, 0, 1)).astype(np.float32) / 255.0
        return torch.tensor(arr)


class Normalize:
    """Per-channel (x - mean) / std on a CHW tensor."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean, self.std = list(mean), list(std)

    def __call__(self, t: Any) -> Any:
        import torch

        mean = torch.tensor(np.array(self.mean, dtype=np.float32).reshape(-1, 1, 1))
        std = torch.tensor(np.array(self.std, dtype=np.float32).reshape(-1, 1, 1))
        return (t - mean) / std


class Lambda:
    """Apply a function."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn

    def __call__(self, x: Any) -> Any:
        return self.fn(x)


def _size(size: int | Sequence[int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


class Resize:
    """Resize a PIL image; an int resizes the shorter side."""

    def __init__(self, size: int | Sequence[int], interpolation: Any = None) -> None:
        self.size = size

    def __call__(self, img: Image.Image) -> Image.Image:
        w, h = img.size
        if isinstance(self.size, int):
            s = self.size
            new = (s, max(1, round(h * s / w))) if w <= h else (max(1, round(w * s / h)), s)
        else:
            new = (int(self.size[1]), int(self.size[0]))
        return img.resize(new, Image.BICUBIC)


class CenterCrop:
    """Crop the centre of a PIL image."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = _size(size)

    def __call__(self, img: Image.Image) -> Image.Image:
        w, h = img.size
        th, tw = self.size
        left, top = (w - tw) // 2, (h - th) // 2
        return img.crop((left, top, left + tw, top + th))


class RandomCrop:
    """Pad then crop at a NumPy-drawn offset (the same in both runs)."""

    def __init__(self, size: int | Sequence[int], padding: int = 0) -> None:
        self.size, self.padding = _size(size), padding

    def __call__(self, img: Image.Image) -> Image.Image:
        arr = np.asarray(img)
        p = self.padding
        if p:
            pad = ((p, p), (p, p)) + (((0, 0),) if arr.ndim == 3 else ())
            arr = np.pad(arr, pad)
        th, tw = self.size
        top = int(_RNG.integers(0, arr.shape[0] - th + 1))
        left = int(_RNG.integers(0, arr.shape[1] - tw + 1))
        return Image.fromarray(arr[top : top + th, left : left + tw])


class RandomHorizontalFlip:
    """Flip left-right with probability p (NumPy draw)."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img: Image.Image) -> Image.Image:
        return img.transpose(Image.FLIP_LEFT_RIGHT) if _RNG.random() < self.p else img
