"""Spatial transformer sampling: ``affine_grid`` and ``grid_sample`` (bilinear/trilinear or
nearest, zeros/border/reflection padding), differentiable in both the input and the grid."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence

import numpy as np

from ember import dtypes
from ember.creation import from_host
from ember.ops.autocast import autocast_op
from ember.ops.elementwise import where
from ember.tensor import Tensor

__all__ = ["affine_grid", "grid_sample"]

_PADDING_MODES = ("zeros", "border", "reflection")


def _default_align(op: str, align_corners: bool | None) -> bool:
    """None means False, with PyTorch's warning that the default changed in its 1.3."""
    if align_corners is None:
        warnings.warn(
            f"{op}: align_corners defaults to False (PyTorch's default since 1.3); pass it "
            "explicitly to silence this warning",
            UserWarning,
            stacklevel=3,
        )
        return False
    return align_corners


def _axis(n: int, align_corners: bool) -> np.ndarray:
    """Normalised [-1, 1] coordinates of ``n`` pixels: their corners or their centres."""
    if n == 1:
        return np.zeros(1)
    if align_corners:
        return np.linspace(-1.0, 1.0, n)
    return (np.arange(n) * 2 + 1) / n - 1


def affine_grid(theta: Tensor, size: Sequence[int], align_corners: bool | None = None) -> Tensor:
    """Sampling grid (N, *spatial, k) of the affine maps ``theta`` (N, k, k + 1), k = 2 or 3,
    over an output of ``size`` (N, C, *spatial); feed it to ``grid_sample``."""
    align_corners = _default_align("affine_grid", align_corners)
    size = tuple(int(s) for s in size)
    nd = len(size) - 2
    if nd not in (2, 3) or not isinstance(theta, Tensor) or not theta.dtype.is_floating_point:
        raise ValueError(
            f"affine_grid: expected a floating theta and a 4-D or 5-D size, got size {size}"
        )
    if tuple(theta.shape) != (size[0], nd, nd + 1):
        raise ValueError(
            f"affine_grid: theta must have shape {(size[0], nd, nd + 1)} for size {size}, got "
            f"{tuple(theta.shape)}"
        )
    if min(size[2:]) <= 0:
        raise ValueError(f"affine_grid: spatial sizes must be positive, got {size}")
    spatial = size[2:]
    # homogeneous (x, y[, z], 1) per output pixel; x runs along the last spatial dim
    axes = [_axis(n, align_corners) for n in reversed(spatial)]
    mesh = np.meshgrid(*axes, indexing="ij")  # indexed (x, y, z)
    base = np.stack([m.transpose(*reversed(range(nd))) for m in mesh] + [np.ones(spatial)], -1)
    base_t = from_host(base.reshape(1, -1, nd + 1).astype(theta.dtype.np), device=theta.device)
    return (base_t @ theta.mT).reshape(size[0], *spatial, nd)


def _reflect(x: Tensor, low: float, high: float) -> Tensor:
    """Fold coordinates back into [low, high] by mirroring at its ends (any number of times)."""
    span = high - low
    if span <= 0:
        return x * 0.0 + low
    dist = (x - low).abs()
    flips = (dist / span).floor()
    extra = dist - flips * span
    return where(flips.remainder(2) == 0, extra + low, high - extra)


def _pixel_coords(g: Tensor, n: int, align_corners: bool, padding_mode: str) -> Tensor:
    """Pixel coordinates of normalised grid values along a dim of ``n`` pixels, after padding."""
    x = (g + 1) * ((n - 1) / 2) if align_corners else ((g + 1) * n - 1) / 2
    if padding_mode == "reflection":
        x = _reflect(x, 0.0, n - 1.0) if align_corners else _reflect(x, -0.5, n - 0.5)
    if padding_mode != "zeros":
        x = x.clamp(0, n - 1)
    return x


@autocast_op
def grid_sample(
    input: Tensor,
    grid: Tensor,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    align_corners: bool | None = None,
) -> Tensor:
    """Sample (N, C, *spatial) ``input`` at the normalised positions of ``grid``
    (N, *out, k), (x, y[, z]) in [-1, 1]: (N, C, *out). 'bilinear' interpolates the 2**k
    neighbours (trilinear for 5-D input), 'nearest' takes the closest pixel (no gradient
    to the grid); ``padding_mode`` says what lies outside."""
    align_corners = _default_align("grid_sample", align_corners)
    if mode not in ("bilinear", "nearest"):
        raise ValueError(
            f"grid_sample: mode must be 'bilinear' or 'nearest' in ember, got {mode!r}"
        )
    if padding_mode not in _PADDING_MODES:
        raise ValueError(
            f"grid_sample: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}"
        )
    nd = input.ndim - 2
    if nd not in (2, 3) or grid.ndim != input.ndim or grid.shape[-1] != nd:
        raise ValueError(
            f"grid_sample: expected 4-D or 5-D input and a grid (N, *out, {max(nd, 2)}) of the "
            f"same rank, got input {tuple(input.shape)} and grid {tuple(grid.shape)}"
        )
    if grid.shape[0] != input.shape[0]:
        raise ValueError(
            f"grid_sample: input and grid batch sizes differ: {input.shape[0]} vs {grid.shape[0]}"
        )
    n, c, spatial = input.shape[0], input.shape[1], tuple(input.shape[2:])
    out = tuple(grid.shape[1:-1])
    m = math.prod(out)
    # spatial dim i is read from grid component nd - 1 - i (the grid lists x first)
    coords = [
        _pixel_coords(grid[..., nd - 1 - i].reshape(n, m), s, align_corners, padding_mode)
        for i, s in enumerate(spatial)
    ]
    if mode == "nearest":
        choices = [[(x.detach().round(), None)] for x in coords]
    else:
        choices = []
        for x in coords:
            low = x.detach().floor()
            frac = x - low
            choices.append([(low, 1 - frac), (low + 1, frac)])
    flat = input.reshape(n, c, -1)
    result = None
    for corner in itertools.product(*choices):
        index, weight, inside = 0, None, None
        for (pos, w), size in zip(corner, spatial):
            ok = (pos >= 0) & (pos <= size - 1)
            inside = ok if inside is None else inside & ok
            index = index * size + pos.clamp(0, size - 1).to(dtypes.int64)
            weight = w if weight is None else weight * w
        mask = inside.to(input.dtype)
        weight = mask if weight is None else weight * mask
        values = flat.gather(2, index.unsqueeze(1).expand(n, c, m))
        term = values * weight.unsqueeze(1)
        result = term if result is None else result + term
    return result.reshape(n, c, *out)
