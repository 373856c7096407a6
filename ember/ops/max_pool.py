"""Max pooling without window copies: max_pool1d/2d/3d.

``MaxPoolIndices`` finds, in one pass over the kernel offsets, each window's maximum and
returns where it is: a flat index into the input plane (PyTorch's ``return_indices`` format).
Each kernel offset is a strided view of the input, compared with the running maximum as a
whole: the loop runs over the kernel's few offsets, never over output positions, and no window
is copied. ``MaxPoolGather`` reads values at such indices and ``MaxPoolScatter`` adds a
gradient back at them; each is the other's vjp, so gradients of every order are free. The jit
runs all three as native C kernels (``ember.jit.pool_kernels``).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from ember import dtypes
from ember.ops.conv import _batched, _kernel_slices, _out_sizes, _padded, _pool_geometry
from ember.ops.core import Aval, Primitive, apply

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d"]


def _plane_strides(size: tuple) -> tuple[int, ...]:
    """Element strides of a C-ordered plane of ``size``."""
    return tuple(math.prod(size[d + 1 :]) for d in range(len(size)))


def _first_positions(kernel, stride, padding, dilation, out) -> np.ndarray:
    """(*out) kernel position of each window's first element inside the unpadded input:
    PyTorch starts each window's search there, so a window of -inf points at real data."""
    pos = np.zeros((1,) * len(out), np.int64)
    for d, (k, s, (before, _), dil, o) in enumerate(zip(kernel, stride, padding, dilation, out)):
        first = np.maximum(0, -((np.arange(o) * s - before) // dil))  # ceil(-start / dil)
        pos = pos * k + first.reshape((-1,) + (1,) * (len(out) - 1 - d))
    return pos


def _window_starts(size, stride, padding, out) -> np.ndarray:
    """(*out) flat index in the plane of each window's first (possibly padded) element."""
    start = np.zeros((1,) * len(out), np.int64)
    for d, (s, (before, _), o, st) in enumerate(zip(stride, padding, out, _plane_strides(size))):
        along = (np.arange(o) * s - before) * st
        start = start + along.reshape((-1,) + (1,) * (len(out) - 1 - d))
    return start


def _kernel_offsets(size, kernel, dilation) -> np.ndarray:
    """(prod(kernel),) flat offset in the plane of each kernel position from its window start."""
    steps = [d * st for d, st in zip(dilation, _plane_strides(size))]
    return np.array(
        [
            sum(p * st for p, st in zip(pos, steps))
            for pos in itertools.product(*map(range, kernel))
        ],
        np.int64,
    )


def _disjoint(kernel: tuple, stride: tuple, dilation: tuple) -> bool:
    """Whether no two windows share an element (each input element has at most one maximum)."""
    return all(s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))


class MaxPoolIndices(Primitive):
    """(N, C, *size) -> (N, C, *out) int64: the flat index in its plane of each window's
    maximum; the first one on ties, the last NaN where there are NaNs (as PyTorch)."""

    differentiable = False

    @staticmethod
    def infer(x: Aval, *, kernel, stride, padding, dilation) -> Aval:  # type: ignore[override]
        nd = len(kernel)
        out = _out_sizes(x.shape[-nd:], kernel, stride, padding, dilation)
        return Aval(tuple(x.shape[:-nd]) + out, dtypes.int64)

    @staticmethod
    def forward(xp, x, *, kernel, stride, padding, dilation):
        nd = len(kernel)
        size = tuple(x.shape[-nd:])
        out = _out_sizes(size, kernel, stride, padding, dilation)
        xpad = _padded(xp, x, padding, -math.inf)
        small = np.int8 if math.prod(kernel) <= 127 else np.int32
        slices = _kernel_slices(kernel, stride, dilation, out)
        views = [xpad[(Ellipsis,) + index] for _, index in slices]
        best = views[0].copy()
        # the kernel position of the running maximum; position i beats every earlier one, so
        # where(v > best, i, arg) is max(arg, (v > best) * i): no masked copy, one strided read
        first = _first_positions(kernel, stride, padding, dilation, out).astype(small)
        arg = xp.empty(best.shape, small)
        arg[...] = xp.asarray(first)
        step = xp.empty(best.shape, small)
        for i, v in enumerate(views[1:], 1):
            xp.greater(v, best, out=step)
            step *= small(i)
            xp.maximum(arg, step, out=arg)
            xp.maximum(best, v, out=best)  # NaN propagates
        if xp.isnan(best).any():  # a window with NaNs points at its last NaN, as PyTorch's
            for i, v in enumerate(views):
                xp.copyto(arg, small(i), where=xp.isnan(v))
        offsets = xp.asarray(_kernel_offsets(size, kernel, dilation))
        return xp.take(offsets, arg) + xp.asarray(_window_starts(size, stride, padding, out))

    @staticmethod
    def vjp(g, x, *, out, kernel, stride, padding, dilation):
        return (None,)


def _planes(a: Any, nd: int) -> Any:
    """``a`` (N, C, *spatial) as (N, C, prod(spatial)): a view when each plane is contiguous."""
    return a.reshape(tuple(a.shape[:-nd]) + (-1,))


class MaxPoolGather(Primitive):
    """``out[n, c, l] = x[n, c].flat[idx[n, c, l]]``: read the pooled values by their indices.
    ``disjoint`` says no two indices of a plane are equal (windows that do not overlap)."""

    @staticmethod
    def infer(x: Aval, idx: Aval, *, nd, disjoint) -> Aval:  # type: ignore[override]
        return Aval(idx.shape, x.dtype)

    @staticmethod
    def forward(xp, x, idx, *, nd, disjoint):
        return xp.take_along_axis(_planes(x, nd), _planes(idx, nd), -1).reshape(idx.shape)

    @staticmethod
    def vjp(g, x, idx, *, out, nd, disjoint):
        size = tuple(x.shape[-nd:])
        return (apply(MaxPoolScatter, g, idx, size=size, disjoint=disjoint), None)

    saved_inputs = staticmethod(lambda req: (False, True))


class MaxPoolScatter(Primitive):
    """Zeros of (N, C, *size) with ``g[n, c, l]`` added at ``.flat[idx[n, c, l]]`` of each plane."""

    @staticmethod
    def infer(g: Aval, idx: Aval, *, size, disjoint) -> Aval:  # type: ignore[override]
        return Aval(tuple(g.shape[: -len(size)]) + tuple(size), g.dtype)

    @staticmethod
    def forward(xp, g, idx, *, size, disjoint):
        lead, plane = tuple(g.shape[: -len(size)]), math.prod(size)
        count = math.prod(lead)
        starts = xp.arange(0, count * plane, plane).reshape(lead + (1,))
        flat = (_planes(idx, len(size)) + starts).ravel()
        if disjoint:  # distinct indices: a plain assignment
            buf = xp.zeros(count * plane, g.dtype)
            buf[flat] = g.ravel()
        else:  # a bincount adds repeated indices (in float64)
            buf = xp.bincount(flat, weights=g.ravel(), minlength=count * plane).astype(g.dtype)
        return buf.reshape(lead + tuple(size))

    @staticmethod
    def vjp(h, g, idx, *, out, size, disjoint):
        return (apply(MaxPoolGather, h, idx, nd=len(size), disjoint=disjoint), None)

    saved_inputs = staticmethod(lambda req: (False, True))


def _max_pool(
    op: str,
    nd: int,
    input: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
    return_indices: bool,
) -> Any:
    x, unbatched = _batched(op, input, nd)
    kernel, stride, pads, dilation = _pool_geometry(
        op, nd, x, kernel_size, stride, padding, dilation, ceil_mode
    )
    idx = apply(MaxPoolIndices, x, kernel=kernel, stride=stride, padding=pads, dilation=dilation)
    out = apply(MaxPoolGather, x, idx, nd=nd, disjoint=_disjoint(kernel, stride, dilation))
    if unbatched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return (out, idx) if return_indices else out


def max_pool1d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """1-D max pooling (padding counts as -inf); ties go to the first maximum."""
    return _max_pool(
        "max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """2-D max pooling (padding counts as -inf); ties go to the first maximum."""
    return _max_pool(
        "max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )


def max_pool3d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Any:
    """3-D max pooling (padding counts as -inf); ties go to the first maximum."""
    return _max_pool(
        "max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices
    )
