"""Images for TensorBoard: any layout named by ``dataformats`` to uint8 [N, H, W, C], batches
tiled into one grid, matplotlib figures rendered to pixels."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["to_nhwc", "tile", "render_figure"]


def to_nhwc(arr: np.ndarray, dataformats: str) -> np.ndarray:
    """``arr`` laid out as ``dataformats`` (letters of NCHW, e.g. "CHW", "HW", "NHWC") as uint8
    [N, H, W, C] with C = 1, 3 or 4; floats are taken as [0, 1] and scaled to 0-255."""
    fmt = dataformats.upper()
    if sorted(set(fmt)) != sorted(fmt) or not set(fmt) <= set("NCHW") or not {"H", "W"} <= set(fmt):
        raise ValueError(f"dataformats {dataformats!r}: expected letters of NCHW with H and W")
    if arr.ndim != len(fmt):
        raise ValueError(
            f"dataformats {dataformats!r} names {len(fmt)} dims, the image has {arr.ndim} "
            f"(shape {arr.shape})"
        )
    order = [fmt.index(d) for d in "NHWC" if d in fmt]
    arr = arr.transpose(order)
    if "N" not in fmt:
        arr = arr[None]
    if "C" not in fmt:
        arr = arr[..., None]
    if arr.shape[-1] not in (1, 3, 4):
        raise ValueError(f"an image needs 1, 3 or 4 channels, got {arr.shape[-1]}")
    if arr.dtype == np.uint8:
        return arr
    scale = 255.0 if arr.dtype.kind == "f" else 1.0
    return np.clip(np.round(arr.astype(np.float64) * scale), 0, 255).astype(np.uint8)


def tile(images: np.ndarray) -> np.ndarray:
    """uint8 images [N, H, W, C] as one [H', W', C] grid, ceil(sqrt(N)) images per row."""
    n, h, w, c = images.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    grid = np.zeros((rows * h, cols * w, c), np.uint8)
    for i, image in enumerate(images):
        r, q = divmod(i, cols)
        grid[r * h : (r + 1) * h, q * w : (q + 1) * w] = image
    return grid


def render_figure(figure: Any) -> np.ndarray:
    """A matplotlib figure drawn by the Agg backend as uint8 RGBA [H, W, 4]."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
    except ImportError as exc:
        raise ImportError("add_figure needs matplotlib: pip install 'ember[plot]'") from exc
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.array(canvas.buffer_rgba(), dtype=np.uint8)
