"""Convolution and pooling: conv1d/2d, transposed convs, max/avg/adaptive pools, unfold/fold.

An ungrouped convolution is ``Conv``; its input gradient ``ConvTranspose`` (also the
transposed convolution) and its weight gradient ``ConvWeight`` complete a family that is closed
under vjp, so gradients of any order come free. Each works through the batch in chunks: the
chunk's kernel windows are copied into a small reused (C * kernel, images * out) matrix and
multiplied in cache (BLAS), instead of one batch-wide window matrix (9x the activation for a
3x3 kernel) that is written, read back and kept for backward from main memory. Large float
host arrays take the jit's native kernels instead (``ember.jit.conv_kernels``: a direct
convolution at stride 1, im2col and the GEMM in C elsewhere), as compiled steps do.

``Im2Col`` copies every kernel window of a padded input into a (C, *kernel, N, *out) array and
``Col2Im`` scatter-adds such windows back (each is the other's vjp): grouped convolutions,
unfold and fold use them. Average pooling adds one strided view per kernel offset instead
(``WindowSum``, whose vjp ``WindowSpread`` adds into each offset's slice: no window copies);
adaptive average pooling is two small matmuls; max pooling is ``ember.ops.max_pool``.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ember.ops import core
from ember.ops.autocast import autocast_op
from ember.ops.core import Aval, Primitive, apply

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "unfold",
    "fold",
]


# -- window geometry ------------------------------------------------------------------------
def _out_sizes(size: tuple, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple) -> tuple:
    """Number of windows per spatial dim; ``padding`` is ((before, after), ...)."""
    return tuple(
        (n + a + b - d * (k - 1) - 1) // s + 1
        for n, k, s, (a, b), d in zip(size, kernel, stride, padding, dilation)
    )


def _padded(xp: Any, x: Any, padding: tuple, value: float) -> Any:
    """``x`` padded on its trailing spatial dims; a negative ``after`` crops instead."""
    nd = len(padding)
    if any(b < 0 for _, b in padding):
        x = x[
            (Ellipsis,)
            + tuple(slice(0, n + min(b, 0)) for n, (_, b) in zip(x.shape[-nd:], padding))
        ]
    widths = ((0, 0),) * (x.ndim - nd) + tuple((a, max(b, 0)) for a, b in padding)
    if not any(a or b for a, b in widths):
        return x
    return xp.pad(x, widths, mode="constant", constant_values=value)


def _windows(
    xp: Any,
    x: Any,
    kernel: tuple,
    stride: tuple,
    padding: tuple,
    dilation: tuple,
    value: float = 0.0,
) -> Any:
    """A strided view (N, C, *kernel, *out) of the padded input: no copy."""
    xpad = _padded(xp, x, padding, value)
    nd = len(kernel)
    lead, spatial_strides = xpad.strides[:-nd], xpad.strides[-nd:]
    out = _out_sizes(x.shape[-nd:], kernel, stride, padding, dilation)
    shape = xpad.shape[:-nd] + tuple(kernel) + out
    strides = (
        lead
        + tuple(st * d for st, d in zip(spatial_strides, dilation))
        + tuple(st * s for st, s in zip(spatial_strides, stride))
    )
    return xp.lib.stride_tricks.as_strided(xpad, shape, strides)


def _kernel_slices(kernel: tuple, stride: tuple, dilation: tuple, out: tuple):
    """(kernel position, slices into the padded input that it touches) for every position."""
    for pos in itertools.product(*(range(k) for k in kernel)):
        yield (
            pos,
            tuple(
                slice(p * d, p * d + s * (n - 1) + 1, s)
                for p, d, s, n in zip(pos, dilation, stride, out)
            ),
        )


def _padded_buffer(xp: Any, lead: tuple, size: tuple, padding: tuple, dtype: Any) -> Any:
    return xp.zeros(lead + tuple(n + a + max(b, 0) for n, (a, b) in zip(size, padding)), dtype)


def _crop(buf: Any, size: tuple, padding: tuple) -> Any:
    nd = len(size)
    return buf[(Ellipsis,) + tuple(slice(a, a + n) for n, (a, _) in zip(size[-nd:], padding))]


# -- primitives -----------------------------------------------------------------------------
class Im2Col(Primitive):
    """All kernel windows of the zero-padded input: (N, C, *S) -> (C, *kernel, N, *out).

    Channels and kernel positions lead so that a convolution is ONE large matrix product
    (C * K, N * L) per group: many small batched products are much slower in BLAS.
    """

    @staticmethod
    def infer(x: Aval, *, kernel, stride, padding, dilation) -> Aval:  # type: ignore[override]
        nd = len(kernel)
        out = _out_sizes(x.shape[-nd:], kernel, stride, padding, dilation)
        if min(out) <= 0:
            raise ValueError(f"im2col: kernel {kernel} does not fit the padded input {x.shape}")
        return Aval((x.shape[1],) + tuple(kernel) + (x.shape[0],) + out, x.dtype)

    @staticmethod
    def forward(xp, x, *, kernel, stride, padding, dilation):
        win = _windows(xp, x, kernel, stride, padding, dilation)  # (N, C, *K, *L)
        return xp.ascontiguousarray(xp.moveaxis(win, 0, 1 + len(kernel)))

    @staticmethod
    def vjp(g, x, *, out, kernel, stride, padding, dilation):
        size = tuple(x.shape[-len(kernel) :])
        return (
            apply(
                Col2Im,
                g,
                size=size,
                kernel=kernel,
                stride=stride,
                padding=padding,
                dilation=dilation,
            ),
        )

    saved_inputs = staticmethod(lambda req: (False,))


class Col2Im(Primitive):
    """Scatter-add windows (C, *kernel, N, *out) back into an image (N, C, *size)."""

    @staticmethod
    def infer(cols: Aval, *, size, kernel, stride, padding, dilation) -> Aval:  # type: ignore
        nd = len(kernel)
        want = _out_sizes(size, kernel, stride, padding, dilation)
        got = tuple(cols.shape[1 : 1 + nd]) + tuple(cols.shape[2 + nd :])
        if got != tuple(kernel) + want:
            raise ValueError(
                f"col2im: windows of shape {cols.shape} do not match output size {size}: "
                f"{got} vs {tuple(kernel) + want}"
            )
        return Aval((cols.shape[1 + nd], cols.shape[0]) + tuple(size), cols.dtype)

    @staticmethod
    def forward(xp, cols, *, size, kernel, stride, padding, dilation):
        nd = len(kernel)
        lead, out = (cols.shape[0], cols.shape[1 + nd]), cols.shape[-nd:]
        # accumulate in the windows' own (C, N, ...) order: every add streams contiguous rows;
        # one transposing copy at the end is cheaper than nd * K strided adds
        buf = _padded_buffer(xp, lead, size, padding, cols.dtype)
        for pos, index in _kernel_slices(kernel, stride, dilation, out):
            buf[(Ellipsis,) + index] += cols[(slice(None),) + pos]
        return xp.ascontiguousarray(xp.swapaxes(_crop(buf, size, padding), 0, 1))

    @staticmethod
    def vjp(g, cols, *, out, size, kernel, stride, padding, dilation):
        return (apply(Im2Col, g, kernel=kernel, stride=stride, padding=padding, dilation=dilation),)

    saved_inputs = staticmethod(lambda req: (False,))


class WindowSum(Primitive):
    """The sum of each window of the zero-padded input: (N, C, *S) -> (N, C, *out).

    One strided view of the input per kernel offset is added into the result: no window is
    copied (average pooling; ``Im2Col`` would copy every window first).
    """

    @staticmethod
    def infer(x: Aval, *, kernel, stride, padding) -> Aval:  # type: ignore[override]
        nd = len(kernel)
        out = _out_sizes(x.shape[-nd:], kernel, stride, padding, (1,) * nd)
        return Aval(tuple(x.shape[:-nd]) + out, x.dtype)

    @staticmethod
    def forward(xp, x, *, kernel, stride, padding):
        nd = len(kernel)
        xpad = _padded(xp, x, padding, 0.0)
        out = _out_sizes(x.shape[-nd:], kernel, stride, padding, (1,) * nd)
        views = (
            xpad[(Ellipsis,) + index] for _, index in _kernel_slices(kernel, stride, (1,) * nd, out)
        )
        total = xp.array(next(views))  # a C-ordered copy
        for v in views:
            total += v
        return total

    @staticmethod
    def vjp(g, x, *, out, kernel, stride, padding):
        size = tuple(x.shape[-len(kernel) :])
        return (apply(WindowSpread, g, size=size, kernel=kernel, stride=stride, padding=padding),)

    saved_inputs = staticmethod(lambda req: (False,))


class WindowSpread(Primitive):
    """The transpose of ``WindowSum``: each ``g[..., l]`` added to every element of window
    ``l`` of a zero image of ``size`` (the padding cropped off)."""

    @staticmethod
    def infer(g: Aval, *, size, kernel, stride, padding) -> Aval:  # type: ignore[override]
        return Aval(tuple(g.shape[: -len(kernel)]) + tuple(size), g.dtype)

    @staticmethod
    def forward(xp, g, *, size, kernel, stride, padding):
        nd = len(kernel)
        buf = _padded_buffer(xp, tuple(g.shape[:-nd]), size, padding, g.dtype)
        for _, index in _kernel_slices(kernel, stride, (1,) * nd, g.shape[-nd:]):
            buf[(Ellipsis,) + index] += g
        return xp.ascontiguousarray(_crop(buf, size, padding))

    @staticmethod
    def vjp(h, g, *, out, size, kernel, stride, padding):
        return (apply(WindowSum, h, kernel=kernel, stride=stride, padding=padding),)

    saved_inputs = staticmethod(lambda req: (False,))


# -- direct convolution in batch chunks -----------------------------------------------------
_CHUNK_BYTES = 1 << 19  # window matrix per chunk: small enough to stay in the L2 cache


@functools.cache
def _blas_threads_getter() -> Callable[[], int]:
    """A cheap function giving NumPy's current BLAS thread count (found once, via threadpoolctl
    when installed; else the count OpenBLAS read from the environment at start)."""
    try:
        import threadpoolctl
    except ImportError:
        env = os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")
        count = int(env) if env and env.isdigit() else os.cpu_count() or 1
        return lambda: count
    blas = [c for c in threadpoolctl.ThreadpoolController().lib_controllers if c.user_api == "blas"]
    return blas[0].get_num_threads if blas else (lambda: 1)


def _chunk_size(xp: Any, n: int, per_image: int, itemsize: int) -> int:
    """Images per chunk: as many as fit ``_CHUNK_BYTES`` with a single-threaded BLAS, else the
    whole batch (a GPU, or a multi-threaded BLAS: every small product would synchronise its
    threads, which made resnet's step 4x slower with 2 threads on a loaded machine)."""
    if xp is not np or _blas_threads_getter()() > 1:
        return n
    return max(1, min(n, _CHUNK_BYTES // max(1, per_image * itemsize)))


def _chunks(n: int, step: int):
    """(start, stop) of consecutive chunks of ``step`` images."""
    for start in range(0, n, step):
        yield start, min(n, start + step)


def _host_kernel(xp: Any, prim: type, arrays: tuple, params: dict) -> Callable | None:
    """``ember.jit.conv_kernels``' native kernel for ``prim`` on these host arrays (large
    float ones), or None: NumPy's kernels run."""
    if xp is not np:
        return None
    from ember.jit import conv_kernels  # the jit package imports ember.ops: load it here

    return conv_kernels.eager(prim, [a.shape for a in arrays], arrays[0].dtype, params)


class _ChunkBuffers:
    """Reused per-chunk scratch: a zero-bordered padded image stack and a window matrix."""

    def __init__(self, xp: Any, c: int, size: tuple, kernel: tuple, out: tuple, padding, dtype):
        self.xp, self.c, self.size, self.kernel, self.out = xp, c, size, kernel, out
        self.padding, self.dtype = padding, dtype
        self.has_pad = any(a > 0 or b > 0 for a, b in padding)
        self._made: dict[int, tuple] = {}

    def get(self, m: int) -> tuple:
        """(padded (C, m, *Sp) buffer, windows (C, *K, m, *L)) for a chunk of ``m`` images."""
        if m not in self._made:
            xp, lead = self.xp, (self.c, m)
            pad = _padded_buffer(xp, lead, self.size, self.padding, self.dtype)
            cols = xp.empty((self.c,) + self.kernel + (m,) + self.out, self.dtype)
            self._made[m] = (pad, cols)
        return self._made[m]


def _window_view(xp: Any, src: Any, kernel: tuple, stride: tuple, dilation: tuple, out: tuple):
    """Strided view (C, *K, m, *L) of the windows of a padded (C, m, *Sp) stack: no copy."""
    sp = src.strides[2:]
    strides = (
        (src.strides[0],)
        + tuple(s * d for s, d in zip(sp, dilation))
        + (src.strides[1],)
        + tuple(s * t for s, t in zip(sp, stride))
    )
    return xp.lib.stride_tricks.as_strided(
        src, src.shape[:1] + kernel + src.shape[1:2] + out, strides
    )


def _im2col_chunks(xp: Any, x: Any, kernel: tuple, stride: tuple, padding: tuple, dilation: tuple):
    """(start, stop, windows as a (C * K, m * L) matrix) per chunk of the batch of ``x``.

    The matrix lives in a reused buffer (valid until the next chunk): filling it and
    multiplying it in cache is about twice as fast as one batch-wide window matrix.
    """
    n, c, size = x.shape[0], x.shape[1], tuple(x.shape[2:])
    out = _out_sizes(size, kernel, stride, padding, dilation)
    ck = c * math.prod(kernel)
    bufs = _ChunkBuffers(xp, c, size, kernel, out, padding, x.dtype)
    xc = xp.moveaxis(x, 0, 1)  # (C, N, *S): a plain view for activations of a previous conv
    inner = tuple(slice(a, a + s) for s, (a, _) in zip(size, padding))
    for start, stop in _chunks(n, _chunk_size(xp, n, ck * math.prod(out), x.itemsize)):
        pad, cols = bufs.get(stop - start)
        src = xc[:, start:stop]
        if bufs.has_pad:
            pad[(slice(None), slice(None)) + inner] = src
            src = pad
        cols[...] = _window_view(xp, src, kernel, stride, dilation, out)
        yield start, stop, cols.reshape(ck, -1)


class Conv(Primitive):
    """Convolution of (N, C, *S) by (O, C, *K) -> (N, O, *L), one group, in batch chunks.

    ``padding`` is ((before, after), ...). The result is a view of an (O, N, *L) array (the
    layout the next convolution reads fastest). Its gradients are ``ConvTranspose`` (input)
    and ``ConvWeight`` (weight); the three are each other's vjps, so every order is free, and
    no batch-wide window matrix is ever kept for backward.
    """

    @staticmethod
    def infer(x: Aval, w: Aval, *, stride, padding, dilation) -> Aval:  # type: ignore[override]
        _check_conv_avals("conv", x, w)
        out = _out_sizes(x.shape[2:], w.shape[2:], stride, padding, dilation)
        if min(out) <= 0:
            raise ValueError(f"conv: kernel {w.shape[2:]} does not fit the padded input {x.shape}")
        return Aval((x.shape[0], w.shape[0]) + out, x.dtype)

    @staticmethod
    def forward(xp, x, w, *, stride, padding, dilation):
        geom = {"stride": stride, "padding": padding, "dilation": dilation}
        native = _host_kernel(xp, Conv, (x, w), geom)
        if native is not None:
            return native(xp, x, w, **geom)
        n, o, kernel = x.shape[0], w.shape[0], tuple(w.shape[2:])
        out = _out_sizes(x.shape[2:], kernel, stride, padding, dilation)
        per = math.prod(out)
        res = xp.empty((o, n * per), x.dtype)
        wm = w.reshape(o, -1)
        for start, stop, cols in _im2col_chunks(xp, x, kernel, stride, padding, dilation):
            xp.matmul(wm, cols, out=res[:, start * per : stop * per])
        return xp.moveaxis(res.reshape((o, n) + out), 0, 1)

    @staticmethod
    def vjp(g, x, w, *, out, stride, padding, dilation):
        geom = {"stride": stride, "padding": padding, "dilation": dilation}
        size = tuple(x.shape[2:])
        return (
            lambda: apply(ConvTranspose, g, w, size=size, **geom),
            lambda: apply(ConvWeight, x, g, kernel=tuple(w.shape[2:]), **geom),
        )

    saved_inputs = staticmethod(lambda req: (req[1], req[0]))


class ConvTranspose(Primitive):
    """The transpose of ``Conv`` in its input: (N, O, *L), (O, C, *K) -> (N, C, *size).

    Large float host arrays run ``ember.jit.conv_kernels``' native kernel, as the jit does.
    Else, at stride 1: a ``Conv`` with
    the flipped kernel (chunked); otherwise one GEMM to windows and a scatter-add of the kernel
    positions over the whole batch (chunks measured up to 1.8x slower here). A transposed
    convolution is this with weight (C_in, C_out, *K).
    """

    @staticmethod
    def infer(g: Aval, w: Aval, *, size, stride, padding, dilation) -> Aval:  # type: ignore[override]
        nd = len(size)
        if len(g.shape) != nd + 2 or len(w.shape) != nd + 2 or g.shape[1] != w.shape[0]:
            raise ValueError(
                f"conv_transpose: input {g.shape} and weight {w.shape} do not match: "
                "(N, C_in, *L) vs (C_in, C_out, *K)"
            )
        _check_windows(
            f"conv_transpose: input of shape {g.shape} does not match output size {size}",
            tuple(g.shape[2:]),
            _out_sizes(size, w.shape[2:], stride, padding, dilation),
        )
        return Aval((g.shape[0], w.shape[1]) + tuple(size), g.dtype)

    @staticmethod
    def forward(xp, g, w, *, size, stride, padding, dilation):
        geom = {"size": size, "stride": stride, "padding": padding, "dilation": dilation}
        native = _host_kernel(xp, ConvTranspose, (g, w), geom)
        if native is not None:
            return native(xp, g, w, **geom)
        kernel = tuple(w.shape[2:])
        full = tuple(d * (k - 1) for k, d in zip(kernel, dilation))
        if all(s == 1 for s in stride) and all(
            a <= f and b <= f for f, (a, b) in zip(full, padding)
        ):  # a full correlation with the flipped kernel: no scatter-add (about 1.5x faster)
            flipped = xp.flip(w, tuple(range(2, w.ndim))).swapaxes(0, 1)
            back = tuple((f - a, f - b) for f, (a, b) in zip(full, padding))
            return Conv.forward(xp, g, flipped, stride=stride, padding=back, dilation=dilation)
        n, o, c = g.shape[0], w.shape[0], w.shape[1]
        lout = tuple(g.shape[2:])
        per, ck = math.prod(lout), c * math.prod(kernel)
        gm = xp.moveaxis(g, 0, 1).reshape(o, n * per)  # free for a Conv's own layout
        wt = w.reshape(o, ck).T
        res = xp.empty((c, n) + tuple(size), g.dtype)
        bufs = _ChunkBuffers(xp, c, size, kernel, lout, padding, g.dtype)
        for start, stop in _chunks(n, n):  # whole batch: chunked scatters measured slower
            pad, cols = bufs.get(stop - start)
            xp.matmul(wt, gm[:, start * per : stop * per], out=cols.reshape(ck, -1))
            pad[...] = 0
            for pos, index in _kernel_slices(kernel, stride, dilation, lout):
                pad[(slice(None), slice(None)) + index] += cols[(slice(None),) + pos]
            res[:, start:stop] = _crop(pad, size, padding)
        return xp.moveaxis(res, 0, 1)

    @staticmethod
    def vjp(h, g, w, *, out, size, stride, padding, dilation):
        geom = {"stride": stride, "padding": padding, "dilation": dilation}
        return (
            lambda: apply(Conv, h, w, **geom),
            lambda: apply(ConvWeight, h, g, kernel=tuple(w.shape[2:]), **geom),
        )

    saved_inputs = staticmethod(lambda req: (req[1], req[0]))


class ConvWeight(Primitive):
    """The transpose of ``Conv`` in its weight: (N, C, *S), (N, O, *L) -> (O, C, *kernel)."""

    @staticmethod
    def infer(x: Aval, g: Aval, *, kernel, stride, padding, dilation) -> Aval:  # type: ignore[override]
        _check_windows(
            f"conv_weight: gradient of shape {g.shape} does not match input {x.shape}",
            (g.shape[0],) + tuple(g.shape[2:]),
            (x.shape[0],) + _out_sizes(x.shape[2:], kernel, stride, padding, dilation),
        )
        return Aval((g.shape[1], x.shape[1]) + tuple(kernel), x.dtype)

    @staticmethod
    def forward(xp, x, g, *, kernel, stride, padding, dilation):
        geom = {"kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation}
        native = _host_kernel(xp, ConvWeight, (x, g), geom)
        if native is not None:
            return native(xp, x, g, **geom)
        n, o = g.shape[0], g.shape[1]
        per = math.prod(g.shape[2:])
        gm = xp.moveaxis(g, 0, 1).reshape(o, n * per)
        res = xp.zeros((x.shape[1] * math.prod(kernel), o), x.dtype)
        for start, stop, cols in _im2col_chunks(xp, x, kernel, stride, padding, dilation):
            res += cols @ gm[:, start * per : stop * per].T  # faster than the transposed form
        return res.T.reshape((o, x.shape[1]) + tuple(kernel))

    @staticmethod
    def vjp(h, x, g, *, out, kernel, stride, padding, dilation):
        geom = {"stride": stride, "padding": padding, "dilation": dilation}
        size = tuple(x.shape[2:])
        return (
            lambda: apply(ConvTranspose, g, h, size=size, **geom),
            lambda: apply(Conv, x, h, **geom),
        )

    saved_inputs = staticmethod(lambda req: (req[1], req[0]))


def _check_windows(what: str, got: tuple, want: tuple) -> None:
    """ValueError ``what: got vs want`` unless the window counts agree."""
    if got != want:
        raise ValueError(f"{what}: {got} vs {want}")


def _check_conv_avals(op: str, x: Aval, w: Aval) -> None:
    if len(x.shape) != len(w.shape) or len(x.shape) < 3 or x.shape[1] != w.shape[1]:
        raise ValueError(
            f"{op}: input {x.shape} and weight {w.shape} do not match: (N, C, *S) vs (O, C, *K)"
        )
    if x.dtype is not w.dtype:
        raise TypeError(f"{op}: input and weight dtypes differ: {x.dtype.name} vs {w.dtype.name}")


# -- argument handling ----------------------------------------------------------------------
def _ntuple(value: Any, n: int, name: str, op: str) -> tuple[int, ...]:
    """An int or a sequence of ``n`` ints as a tuple of ``n`` ints."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    values = tuple(int(v) for v in value)
    if len(values) == 1:
        values *= n
    if len(values) != n:
        raise ValueError(
            f"{op}: expected {name} to be a single integer or a list of {n} values, got {value}"
        )
    return values


def _batched(op: str, x: Any, nd: int, what: str = "input") -> tuple[Any, bool]:
    """``x`` with a batch dim (added when unbatched) and whether one was added."""
    if not isinstance(x, core._Tensor):
        raise TypeError(f"{op}: expected {what} to be a Tensor, got {type(x).__name__}")
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(
            f"{op}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) {what}, got "
            f"{x.ndim}-D {what} of shape {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(f"{op}: expected a floating point {what}, got {x.dtype.name}")
    return (x.unsqueeze(0), True) if x.ndim == nd + 1 else (x, False)


def _check_fits(op: str, size: tuple, kernel: tuple, padding: tuple, dilation: tuple) -> None:
    padded = tuple(n + a + b for n, (a, b) in zip(size, padding))
    effective = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
    if any(e > p for e, p in zip(effective, padded)):
        raise ValueError(
            f"{op}: kernel size (with dilation) is larger than the padded input size: "
            f"{effective} vs {padded}"
        )


def _conv_padding(op: str, padding: Any, nd: int, kernel: tuple, stride: tuple, dilation: tuple):
    """Padding as ((before, after), ...); 'same' puts the odd extra element after (PyTorch)."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding != "same":
            raise ValueError(
                f"{op}: invalid padding string {padding!r}: expected 'valid' or 'same'"
            )
        if any(s != 1 for s in stride):
            raise ValueError(f"{op}: padding='same' is not supported for strided convolutions")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    return tuple((p, p) for p in _ntuple(padding, nd, "padding", op))


def _check_params(op: str, x: Any, weight: Any, bias: Any, groups: int, out_channels: int) -> None:
    if not isinstance(weight, core._Tensor):
        raise TypeError(f"{op}: expected weight to be a Tensor, got {type(weight).__name__}")
    if weight.dtype is not x.dtype:
        raise TypeError(
            f"{op}: input and weight must have the same dtype: {x.dtype.name} vs "
            f"{weight.dtype.name}"
        )
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups}")
    if bias is not None and (tuple(bias.shape) != (out_channels,) or bias.dtype is not x.dtype):
        raise ValueError(
            f"{op}: expected bias of shape ({out_channels},) and dtype {x.dtype.name}: "
            f"{tuple(bias.shape)} {bias.dtype.name} vs ({out_channels},) {x.dtype.name}"
        )


def _group(groups: int) -> tuple[int, ...]:
    """Leading group dim of the matmul operands: none for groups=1 (plain 2-D GEMMs are faster
    in NumPy than a batch of one, notably for the weight gradient)."""
    return () if groups == 1 else (groups,)


def _add_bias(out: Any, bias: Any, nd: int) -> Any:
    return out if bias is None else out + bias.reshape(bias.shape[0], *(1,) * nd)


# -- convolution ----------------------------------------------------------------------------
def _conv(
    op: str,
    nd: int,
    input: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    groups: int,
) -> Any:
    """N-d convolution (cross-correlation): ``Conv``, or im2col + a batched matmul per group."""
    x, unbatched = _batched(op, input, nd)
    if not isinstance(weight, core._Tensor) or weight.ndim != nd + 2:
        shape = tuple(weight.shape) if isinstance(weight, core._Tensor) else type(weight).__name__
        raise ValueError(
            f"{op}: expected weight to be {nd + 2}-D (out_channels, in_channels / groups, "
            f"*kernel_size), got {shape}"
        )
    n, c = x.shape[0], x.shape[1]
    o, kernel = weight.shape[0], tuple(weight.shape[2:])
    _check_params(op, x, weight, bias, groups, o)
    if o % groups:
        raise ValueError(
            f"{op}: out_channels must be divisible by groups: {o} vs groups={groups} "
            f"(weight of shape {tuple(weight.shape)})"
        )
    if c != weight.shape[1] * groups:
        raise ValueError(
            f"{op}: input of shape {tuple(input.shape)} has {c} channels but weight of shape "
            f"{tuple(weight.shape)} with groups={groups} expects in_channels = "
            f"{weight.shape[1] * groups}: {c} vs {weight.shape[1] * groups}"
        )
    stride = _ntuple(stride, nd, "stride", op)
    dilation = _ntuple(dilation, nd, "dilation", op)
    pads = _conv_padding(op, padding, nd, kernel, stride, dilation)
    _check_fits(op, tuple(x.shape[2:]), kernel, pads, dilation)
    if groups == 1:
        out = apply(Conv, x, weight, stride=stride, padding=pads, dilation=dilation)
        out = _add_bias(out, bias, nd)
        return out.squeeze(0) if unbatched else out
    cols = apply(Im2Col, x, kernel=kernel, stride=stride, padding=pads, dilation=dilation)
    out_size = tuple(cols.shape[2 + nd :])
    cols = cols.reshape(*_group(groups), -1, n * math.prod(out_size))
    out = weight.reshape(*_group(groups), o // groups, -1) @ cols  # (G, O/G, N * L)
    out = _add_bias(out.reshape(o, n, *out_size).transpose(0, 1), bias, nd)
    return out.squeeze(0) if unbatched else out


@autocast_op
def conv1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Any:
    """1-D convolution over (N, C, L) or (C, L) input (``torch.nn.functional.conv1d``)."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


@autocast_op
def conv2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Any:
    """2-D convolution over (N, C, H, W) or (C, H, W) input (``torch.nn.functional.conv2d``).

    >>> import ember
    >>> tuple(conv2d(ember.ones(1, 1, 3, 3), ember.ones(1, 1, 2, 2)).shape)
    (1, 1, 2, 2)
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


@autocast_op
def conv3d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Any:
    """3-D convolution over (N, C, D, H, W) or (C, D, H, W) input (``F.conv3d``)."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transpose(
    op: str,
    nd: int,
    input: Any,
    weight: Any,
    bias: Any,
    stride: Any,
    padding: Any,
    output_padding: Any,
    groups: int,
    dilation: Any,
) -> Any:
    """Transposed convolution (the gradient of a convolution): ``ConvTranspose``, or matmul +
    col2im per group."""
    x, unbatched = _batched(op, input, nd)
    if not isinstance(weight, core._Tensor) or weight.ndim != nd + 2:
        shape = tuple(weight.shape) if isinstance(weight, core._Tensor) else type(weight).__name__
        raise ValueError(
            f"{op}: expected weight to be {nd + 2}-D (in_channels, out_channels / groups, "
            f"*kernel_size), got {shape}"
        )
    n, c = x.shape[0], x.shape[1]
    kernel = tuple(weight.shape[2:])
    o = weight.shape[1] * groups
    _check_params(op, x, weight, bias, groups, o)
    if c != weight.shape[0]:
        raise ValueError(
            f"{op}: input of shape {tuple(input.shape)} has {c} channels but weight of shape "
            f"{tuple(weight.shape)} expects in_channels = {weight.shape[0]}: {c} vs "
            f"{weight.shape[0]}"
        )
    if c % groups:
        raise ValueError(f"{op}: in_channels must be divisible by groups: {c} vs groups={groups}")
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a tuple of ints, got {padding!r}")
    stride = _ntuple(stride, nd, "stride", op)
    dilation = _ntuple(dilation, nd, "dilation", op)
    pad = _ntuple(padding, nd, "padding", op)
    extra = _ntuple(output_padding, nd, "output_padding", op)
    if any(e >= s and e >= d for e, s, d in zip(extra, stride, dilation)):
        raise ValueError(
            f"{op}: output padding must be smaller than either stride or dilation: "
            f"output_padding={extra} vs stride={stride}, dilation={dilation}"
        )
    in_size = tuple(x.shape[2:])
    size = tuple(
        (m - 1) * s - 2 * p + d * (k - 1) + e + 1
        for m, s, p, d, k, e in zip(in_size, stride, pad, dilation, kernel, extra)
    )
    if min(size) <= 0:
        raise ValueError(f"{op}: output size {size} is too small (input {in_size}, padding {pad})")
    pads = tuple((p, p - e) for p, e in zip(pad, extra))  # output padding: fewer rows cropped
    if groups == 1:
        out = apply(
            ConvTranspose, x, weight, size=size, stride=stride, padding=pads, dilation=dilation
        )
        out = _add_bias(out, bias, nd)
        return out.squeeze(0) if unbatched else out
    wm = weight.reshape(*_group(groups), c // groups, -1).mT  # (G, O/G * K, C/G)
    cols = wm @ x.transpose(0, 1).reshape(*_group(groups), c // groups, n * math.prod(in_size))
    cols = cols.reshape(o, *kernel, n, *in_size)
    out = apply(
        Col2Im, cols, size=size, kernel=kernel, stride=stride, padding=pads, dilation=dilation
    )
    out = _add_bias(out, bias, nd)
    return out.squeeze(0) if unbatched else out


@autocast_op
def conv_transpose1d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Any:
    """1-D transposed convolution (``torch.nn.functional.conv_transpose1d``)."""
    return _conv_transpose(
        "conv_transpose1d",
        1,
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )


@autocast_op
def conv_transpose2d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Any:
    """2-D transposed convolution (``torch.nn.functional.conv_transpose2d``)."""
    return _conv_transpose(
        "conv_transpose2d",
        2,
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )


@autocast_op
def conv_transpose3d(
    input: Any,
    weight: Any,
    bias: Any = None,
    stride: Any = 1,
    padding: Any = 0,
    output_padding: Any = 0,
    groups: int = 1,
    dilation: Any = 1,
) -> Any:
    """3-D transposed convolution (``torch.nn.functional.conv_transpose3d``)."""
    return _conv_transpose(
        "conv_transpose3d",
        3,
        input,
        weight,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )


# -- pooling --------------------------------------------------------------------------------
def _pool_geometry(
    op: str,
    nd: int,
    x: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    dilation: Any,
    ceil_mode: bool,
) -> tuple:
    """(kernel, stride, ((before, after), ...), dilation) with PyTorch's output size rule."""
    kernel = _ntuple(kernel_size, nd, "kernel_size", op)
    no_stride = stride is None or (not isinstance(stride, (int, np.integer)) and not len(stride))
    stride = kernel if no_stride else _ntuple(stride, nd, "stride", op)
    pad = _ntuple(padding, nd, "padding", op)
    dilation = _ntuple(dilation, nd, "dilation", op)
    if min(kernel) < 1 or min(stride) < 1 or min(dilation) < 1 or min(pad) < 0:
        raise ValueError(
            f"{op}: kernel_size, stride and dilation must be positive and padding non-negative,"
            f" got kernel_size={kernel}, stride={stride}, padding={pad}, dilation={dilation}"
        )
    if any(p * 2 > k for p, k in zip(pad, kernel)):
        raise ValueError(
            f"{op}: pad should be at most half of kernel size: padding={pad} vs "
            f"kernel_size={kernel}"
        )
    pairs = []
    for n, k, s, p, d in zip(x.shape[2:], kernel, stride, pad, dilation):
        span = d * (k - 1) + 1
        out = (n + 2 * p - span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (out - 1) * s >= n + p:  # the last window must start inside
            out -= 1
        if out <= 0:
            raise ValueError(
                f"{op}: kernel size (with dilation) is larger than the padded input size: "
                f"{span} vs {n + 2 * p} (input {tuple(x.shape)}, padding {pad})"
            )
        pairs.append((p, (out - 1) * s + span - n - p))
    return kernel, stride, tuple(pairs), dilation


def _avg_divisor(
    size: tuple, kernel: tuple, stride: tuple, pads: tuple, count_include_pad: bool
) -> np.ndarray:
    """How many elements each window averages over, PyTorch's rule (an (*out) array)."""
    counts = []
    for n, k, s, (p, after) in zip(size, kernel, stride, pads):
        start = np.arange((n + p + after - k) // s + 1) * s - p
        end = np.minimum(start + k, n + p)
        counts.append(
            end - start if count_include_pad else np.minimum(end, n) - np.maximum(start, 0)
        )
    return math.prod(np.ix_(*counts)) if len(counts) > 1 else counts[0]


def _avg_pool(
    op: str,
    nd: int,
    input: Any,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Any,
) -> Any:
    from ember.ops.elementwise import as_tensor_like

    x, unbatched = _batched(op, input, nd)
    kernel, stride, pads, _ = _pool_geometry(op, nd, x, kernel_size, stride, padding, 1, ceil_mode)
    total = apply(WindowSum, x, kernel=kernel, stride=stride, padding=pads)
    if divisor_override:
        out = total / float(divisor_override)
    else:
        divisor = _avg_divisor(tuple(x.shape[2:]), kernel, stride, pads, count_include_pad)
        out = total / as_tensor_like(divisor, x.dtype, x)
    return out.squeeze(0) if unbatched else out


def avg_pool1d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Any:
    """1-D average pooling (``torch.nn.functional.avg_pool1d``)."""
    return _avg_pool(
        "avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None
    )


def avg_pool2d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Any:
    """2-D average pooling (``torch.nn.functional.avg_pool2d``)."""
    return _avg_pool(
        "avg_pool2d",
        2,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


@autocast_op
def avg_pool3d(
    input: Any,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Any:
    """3-D average pooling (``torch.nn.functional.avg_pool3d``)."""
    return _avg_pool(
        "avg_pool3d",
        3,
        input,
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
    )


def _adaptive_matrix(n: int, m: int) -> np.ndarray:
    """(m, n) averaging matrix over PyTorch's windows [floor(i*n/m), ceil((i+1)*n/m))."""
    i = np.arange(m)
    start, end = (i * n) // m, -((-(i + 1) * n) // m)
    cols = np.arange(n)
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return inside / (end - start)[:, None]


def _adaptive_avg(op: str, nd: int, input: Any, output_size: Any) -> Any:
    """Adaptive average pooling: separable, so one small matmul per spatial dim."""
    from ember.ops.elementwise import as_tensor_like

    x, unbatched = _batched(op, input, nd)
    sizes = (output_size,) * nd if isinstance(output_size, (int, np.integer)) else output_size
    if len(sizes) != nd:
        raise ValueError(f"{op}: output_size must have {nd} elements, got {output_size}")
    out = x
    for i, (n, m) in enumerate(zip(x.shape[2:], sizes)):
        m = n if m is None else int(m)
        if m <= 0:
            raise ValueError(f"{op}: output_size must be positive, got {output_size}")
        if m == n:
            continue
        mat = as_tensor_like(_adaptive_matrix(n, m), x.dtype, x)
        out = (out.transpose(2 + i, -1) @ mat.mT).transpose(2 + i, -1)
    return out.squeeze(0) if unbatched else out


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Any:
    """1-D adaptive average pooling to ``output_size`` (non-divisible sizes like PyTorch)."""
    return _adaptive_avg("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Any, output_size: Any) -> Any:
    """2-D adaptive average pooling to ``output_size`` (an int, or a pair with None = keep)."""
    return _adaptive_avg("adaptive_avg_pool2d", 2, input, output_size)


@autocast_op
def adaptive_avg_pool3d(input: Any, output_size: Any) -> Any:
    """3-D adaptive average pooling to ``output_size`` (an int, or a triple with None = keep)."""
    return _adaptive_avg("adaptive_avg_pool3d", 3, input, output_size)


# -- unfold / fold --------------------------------------------------------------------------
def unfold(
    input: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1
) -> Any:
    """Sliding local blocks (N, C, H, W) -> (N, C * kH * kW, L) (``F.unfold``)."""
    x, unbatched = _batched("unfold", input, 2)
    kernel = _ntuple(kernel_size, 2, "kernel_size", "unfold")
    dilation = _ntuple(dilation, 2, "dilation", "unfold")
    stride = _ntuple(stride, 2, "stride", "unfold")
    pads = tuple((p, p) for p in _ntuple(padding, 2, "padding", "unfold"))
    _check_fits("unfold", tuple(x.shape[2:]), kernel, pads, dilation)
    cols = apply(Im2Col, x, kernel=kernel, stride=stride, padding=pads, dilation=dilation)
    cols = cols.movedim(1 + len(kernel), 0)  # (N, C, *K, *L)
    out = cols.reshape(x.shape[0], x.shape[1] * math.prod(kernel), -1)
    return out.squeeze(0) if unbatched else out


def fold(
    input: Any,
    output_size: Any,
    kernel_size: Any,
    dilation: Any = 1,
    padding: Any = 0,
    stride: Any = 1,
) -> Any:
    """Sum sliding local blocks (N, C * kH * kW, L) back into (N, C, H, W) (``F.fold``)."""
    x, unbatched = _batched("fold", input, 1)
    size = _ntuple(output_size, 2, "output_size", "fold")
    kernel = _ntuple(kernel_size, 2, "kernel_size", "fold")
    dilation = _ntuple(dilation, 2, "dilation", "fold")
    stride = _ntuple(stride, 2, "stride", "fold")
    pads = tuple((p, p) for p in _ntuple(padding, 2, "padding", "fold"))
    _check_fits("fold", size, kernel, pads, dilation)
    blocks = _out_sizes(size, kernel, stride, pads, dilation)
    k = math.prod(kernel)
    if x.shape[1] % k or x.shape[2] != math.prod(blocks):
        raise ValueError(
            f"fold: input of shape {tuple(input.shape)} does not match kernel_size {kernel} and "
            f"output_size {size}: (C * {k}, {math.prod(blocks)} blocks) expected"
        )
    cols = x.reshape(x.shape[0], x.shape[1] // k, *kernel, *blocks).movedim(0, 1 + len(kernel))
    out = apply(
        Col2Im, cols, size=size, kernel=kernel, stride=stride, padding=pads, dilation=dilation
    )
    return out.squeeze(0) if unbatched else out
