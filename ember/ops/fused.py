"""Fused primitives: kernels that measurably beat their composite (which stays as the reference).

``CrossEntropyRows`` is log-softmax + NLL over (N, C) logits in one kernel; its vjp
(softmax - onehot) * g is a handful of ops instead of the composite's chain.

``LSTMSequence`` runs one LSTM layer direction over all time steps in one kernel: the composite
records ~13 ops per step and its per-step slice of the input projection costs a full-size
gradient buffer per step in backward (quadratic in the sequence length).

``BatchNormStats`` + ``BatchNormTrain`` are training-mode batch normalisation: a two-pass
normalise and an analytic backward instead of the composite's chain of broadcast ops.

``BinaryCrossEntropy`` is elementwise BCE with each log clamped at -100, like PyTorch: the
composite's backward is 0 * inf = NaN where p is 0 or 1, PyTorch's is (p - t) / max(p(1-p), ε).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ember.autograd.grad_mode import STATE
from ember.ops.core import OPAQUE, Aval, Primitive, apply
from ember.ops.elementwise import log, where
from ember.ops.index import scatter_add
from ember.ops.lstm_native import native_cell
from ember.ops.movement import cat
from ember.ops.reduce import amax

__all__ = [
    "batch_norm_stats",
    "binary_cross_entropy_elementwise",
    "batch_norm_train",
    "cross_entropy_rows",
    "lstm_sequence",
]


def _sigmoid_(xp: Any, x: Any) -> None:
    """In place: sigmoid(x) = (tanh(x / 2) + 1) / 2 (no overflow for large |x|)."""
    x *= 0.5
    xp.tanh(x, out=x)
    x *= 0.5
    x += 0.5


def _cell_state(c0: Any, out: Any, prev: int | None) -> Any:
    """c_{t-1}: the c part of row ``prev`` of a sequence's ``out``, or ``c0`` if None."""
    n = c0.shape[1]
    return c0 if prev is None else out[prev, :, n : 2 * n]


class _ArrayCell:
    """The LSTM recurrence as a loop of GEMMs and array operations on any backend (NumPy,
    CuPy); the ``lstm_native.NativeCell`` of the same interface runs it in one C call."""

    def __init__(self, xp: Any) -> None:
        self.xp = xp

    def forward_sequence(
        self, xproj: Any, w_hh: Any, h0: Any, c0: Any, out: Any, reverse: bool
    ) -> None:
        """``out`` (T, B, 6H) = rows [h_t, c_t, i, f, g, o] of every step."""
        xp, (steps, batch, gates) = self.xp, xproj.shape
        n = gates // 4
        xproj, c0 = xp.ascontiguousarray(xproj), xp.ascontiguousarray(c0)
        w_t = xp.ascontiguousarray(w_hh.T)  # BLAS runs (B, H) @ (H, 4H) faster on it than on a view
        pre = xp.empty((batch, gates), dtype=xproj.dtype)
        step = self.forward_steps(pre, xproj, c0, out)
        h = h0
        for t, prev in _steps(steps, reverse):
            xp.matmul(h, w_t, out=pre)
            step(t, prev)
            h = out[t, :, :n]

    def backward_sequence(
        self, g: Any, w_hh: Any, c0: Any, out: Any, res: Any, reverse: bool
    ) -> None:
        """``res`` (T, B, 5H) = rows [d pre-activation gates, d c_{t-1}] of every step."""
        xp, (steps, batch, width) = self.xp, out.shape
        n = width // 6
        g, c0, out = xp.ascontiguousarray(g), xp.ascontiguousarray(c0), xp.ascontiguousarray(out)
        dh_next = xp.zeros((batch, n), dtype=out.dtype)  # then each step's GEMM writes it
        step = self.backward_steps(g, out, c0, dh_next, res)
        # visited in reverse of the forward order: each step's c_{t-1} comes from the step the
        # forward visited before it, and its gradient flows back to it
        order = _steps(steps, reverse)[::-1]
        for k, (t, prev) in enumerate(order):
            step(t, prev, order[k - 1][0] if k else None)
            if prev is not None:
                xp.matmul(res[t, :, : 4 * n], w_hh, out=dh_next)

    def forward_steps(self, pre: Any, xproj: Any, c0: Any, out: Any) -> Callable:
        """``step(t, prev)``: ``out[t]`` = [h_t, c_t, i, f, g, o] from the GEMM result
        ``pre`` (B, 4H, overwritten), ``xproj[t]`` and c_{t-1}: row ``prev``'s, or ``c0``."""
        xp, n = self.xp, c0.shape[1]

        def step(t: int, prev: int | None) -> None:
            row = out[t]
            xp.add(pre, xproj[t], out=pre)
            g = pre[:, 2 * n : 3 * n].copy()
            _sigmoid_(xp, pre)
            xp.tanh(g, out=pre[:, 2 * n : 3 * n])
            row[:, 2 * n :] = pre
            c = xp.multiply(pre[:, n : 2 * n], _cell_state(c0, out, prev), out=row[:, n : 2 * n])
            c += pre[:, :n] * pre[:, 2 * n : 3 * n]
            xp.tanh(c, out=row[:, :n])
            row[:, :n] *= pre[:, 3 * n :]

        return step

    def backward_steps(self, g: Any, out: Any, c0: Any, dh_next: Any, res: Any) -> Callable:
        """``step(t, prev, later)``: ``res[t]`` = [d pre-activation gates, d c_{t-1}] from
        ``g[t]``, ``out[t]``, c_{t-1} (as in ``forward_steps``), ``dh_next`` and the d c_t
        that row ``later`` of ``res`` carries back (zero if None)."""
        xp, n = self.xp, c0.shape[1]

        def step(t: int, prev: int | None, later: int | None) -> None:
            grad, row = g[t], out[t]
            acts = row[:, 2 * n :]
            dh = grad[:, :n] + dh_next
            tc = xp.tanh(row[:, n : 2 * n])
            dc = grad[:, n : 2 * n].copy()
            if later is not None:
                dc += res[later, :, 4 * n :]
            dc += dh * acts[:, 3 * n :] * (1 - tc * tc)
            da = grad[:, 2 * n :].copy()  # direct gradients on the activated gates
            da[:, :n] += dc * acts[:, 2 * n : 3 * n]
            da[:, n : 2 * n] += dc * _cell_state(c0, out, prev)
            da[:, 2 * n : 3 * n] += dc * acts[:, :n]
            da[:, 3 * n :] += dh * tc
            deriv = acts * (1 - acts)
            deriv[:, 2 * n : 3 * n] = 1 - acts[:, 2 * n : 3 * n] ** 2
            xp.multiply(da, deriv, out=res[t, :, : 4 * n])
            xp.multiply(dc, acts[:, n : 2 * n], out=res[t, :, 4 * n :])

        return step


def _cell(xp: Any, dtype: Any) -> Any:
    """The recurrence for arrays of ``dtype``: native C where available, else arrays."""
    return native_cell(xp, dtype) or _ArrayCell(xp)


def _steps(steps: int, reverse: bool) -> list[tuple[int, int | None]]:
    """(step, the step visited just before it or None) in the order the recurrence visits
    them: forward in time, or backward when ``reverse``."""
    order = range(steps - 1, -1, -1) if reverse else range(steps)
    return list(zip(order, [None, *order[:-1]]))


class LSTMSequence(Primitive):
    """LSTM recurrence over time: row t of the output is [h_t, c_t, i, f, g, o] (B, 6H).

    ``xproj`` (T, B, 4H) is x_t W_ihᵀ + b_ih + b_hh for every step; ``w_hh`` is (4H, H);
    ``h0``/``c0`` are (B, H). The activated gates are kept for the backward pass. Each step is
    one BLAS GEMM plus the gate math; natively the whole sequence is one C call (``_cell``).
    """

    kind = OPAQUE
    uses_out = True
    check_eagerly = True

    @staticmethod
    def infer(xproj: Aval, w_hh: Aval, h0: Aval, c0: Aval, *, reverse: bool) -> Aval:  # type: ignore[override]
        if len(xproj.shape) != 3 or xproj.shape[2] % 4:
            raise ValueError(f"lstm_sequence: xproj must be (T, B, 4H), got shape {xproj.shape}")
        steps, batch, gates = xproj.shape
        hidden = gates // 4
        for what, aval, want in (("w_hh", w_hh, (gates, hidden)), ("h0", h0, (batch, hidden)),
                                 ("c0", c0, (batch, hidden))):  # fmt: skip
            if aval.shape != want:
                raise ValueError(
                    f"lstm_sequence: {what} has the wrong shape: {aval.shape} vs {want}"
                )
            if aval.dtype is not xproj.dtype:
                raise TypeError(
                    f"lstm_sequence: {what} dtype differs from xproj's: {aval.dtype.name} vs "
                    f"{xproj.dtype.name}"
                )
        return Aval((steps, batch, 6 * hidden), xproj.dtype)

    @staticmethod
    def forward(xp, xproj, w_hh, h0, c0, *, reverse):
        steps, batch, gates = xproj.shape
        out = xp.empty((steps, batch, 6 * (gates // 4)), dtype=xproj.dtype)
        _cell(xp, xproj.dtype).forward_sequence(xproj, w_hh, h0, c0, out, reverse)
        return out

    @staticmethod
    def vjp(g, xproj, w_hh, h0, c0, *, out, reverse):
        steps, batch, gates = xproj.shape
        n = gates // 4
        d = apply(LSTMSequenceGrad, g, w_hh, c0, out, reverse=reverse)
        d_pre = d[..., :gates]
        first = steps - 1 if reverse else 0

        def grad_w_hh() -> Any:
            hs = out[..., :n]
            h0_row = h0.unsqueeze(0)
            h_prev = cat([hs[1:], h0_row]) if reverse else cat([h0_row, hs[:-1]])
            return d_pre.reshape(steps * batch, gates).mT @ h_prev.reshape(steps * batch, n)

        return d_pre, grad_w_hh, lambda: d_pre[first] @ w_hh, lambda: d[first, :, gates:]


class LSTMSequenceGrad(Primitive):
    """Backward of ``LSTMSequence``: row t is [d pre-activation gates (4H), d c_{t-1} (H)]."""

    kind = OPAQUE

    @staticmethod
    def infer(g: Aval, w_hh: Aval, c0: Aval, out: Aval, *, reverse: bool) -> Aval:  # type: ignore[override]
        steps, batch, width = out.shape
        return Aval((steps, batch, 5 * (width // 6)), out.dtype)

    @staticmethod
    def forward(xp, g, w_hh, c0, out, *, reverse):
        steps, batch, width = out.shape
        res = xp.empty((steps, batch, 5 * (width // 6)), dtype=out.dtype)
        _cell(xp, out.dtype).backward_sequence(g, w_hh, c0, out, res, reverse)
        return res

    @staticmethod
    def vjp(g, *inputs, out, reverse):
        raise RuntimeError(
            "lstm_sequence: double backward through the fused LSTM kernel is not supported\n"
            "hint: set the LSTM module's _fused = False to use the composite form"
        )


def lstm_sequence(xproj: Any, w_hh: Any, h0: Any, c0: Any, reverse: bool = False) -> Any:
    """All LSTM steps of one layer direction: (T, B, 6H) rows [h_t, c_t, i, f, g, o]."""
    return apply(LSTMSequence, xproj, w_hh, h0, c0, reverse=bool(reverse))


class CrossEntropyRows(Primitive):
    """Per-row cross entropy of logits (N, C) against class indices (N,), 0 where ignored."""

    kind = OPAQUE

    @staticmethod
    def infer(x: Aval, target: Aval, *, ignore_index: int) -> Aval:  # type: ignore[override]
        if len(x.shape) != 2 or tuple(target.shape) != x.shape[:1]:
            raise ValueError(
                f"cross_entropy_rows: logits must be (N, C) and target (N,): {x.shape} and "
                f"{target.shape}"
            )
        return Aval(x.shape[:1], x.dtype)

    @staticmethod
    def forward(xp, x, target, *, ignore_index):
        keep = target != ignore_index
        z = x - x.max(axis=1, keepdims=True)
        lse = xp.log(xp.exp(z).sum(axis=1))
        picked = xp.take_along_axis(z, xp.where(keep, target, 0)[:, None], 1)[:, 0]
        return xp.where(keep, lse - picked, x.dtype.type(0))

    @staticmethod
    def vjp(g, x, target, *, out, ignore_index):
        def grad_x() -> Any:
            keep = target != ignore_index
            gk = g * keep.to(g.dtype)
            e = (x - amax(x, 1, keepdim=True).detach()).exp()
            rows = e / e.sum(1, keepdim=True) * gk.unsqueeze(1)  # softmax * g
            safe = where(keep, target, 0).unsqueeze(1)
            return scatter_add(rows, 1, safe, -gk.unsqueeze(1))  # minus g at the target

        return grad_x, None


def cross_entropy_rows(x: Any, target: Any, ignore_index: int = -100) -> Any:
    """-log_softmax(x)[n, target[n]] per row of (N, C) logits; 0 where target is ignore_index."""
    return apply(CrossEntropyRows, x, target, ignore_index=int(ignore_index))


class BatchNormStats(Primitive):
    """Per-channel (dim 1) batch mean and biased variance of (N, C, *S) as a (2, C) array.

    Two passes (mean, then the centred squares) like the composite, for accuracy. Not
    differentiable: ``BatchNormTrain``'s vjp accounts for the statistics' dependence on x.
    """

    differentiable = False

    @staticmethod
    def infer(x: Aval) -> Aval:  # type: ignore[override]
        if len(x.shape) < 2:
            raise ValueError(f"batch_norm_stats: expected (N, C, ...) input, got shape {x.shape}")
        return Aval((2, x.shape[1]), x.dtype)

    @staticmethod
    def forward(xp, x):
        dims = (0,) + tuple(range(2, x.ndim))
        mean = x.mean(axis=dims, keepdims=True)
        centered = x - mean
        centered *= centered
        return xp.stack([mean.reshape(-1), centered.mean(axis=dims)])

    @staticmethod
    def vjp(g, x, *, out):
        return (None,)


class BatchNormTrain(Primitive):
    """(x - mean) / sqrt(var + eps) * weight + bias per channel, ``stats`` = (mean, var) (2, C).

    Forward is two passes (x * scale + shift). The vjp is the analytic gradient,
    scale * (g - mean(g) - x̂ * mean(g * x̂)), in about 8 passes over x instead of the
    composite's ~13; under ``create_graph`` it recomputes the statistics from x with
    differentiable ops, so higher-order gradients stay exact.
    """

    @staticmethod
    def infer(x: Aval, stats: Aval, w: Aval, b: Aval, *, eps: float) -> Aval:  # type: ignore[override]
        c = x.shape[1] if len(x.shape) >= 2 else None
        if stats.shape != (2, c) or w.shape != (c,) or b.shape != (c,):
            raise ValueError(
                f"batch_norm_train: stats {stats.shape}, weight {w.shape} and bias {b.shape} do "
                f"not match input {x.shape}: (2, C), (C,), (C,) expected"
            )
        return Aval(x.shape, x.dtype)

    @staticmethod
    def forward(xp, x, stats, w, b, *, eps):
        shape = (1, -1) + (1,) * (x.ndim - 2)
        scale = w / xp.sqrt(stats[1] + eps)
        out = x * scale.reshape(shape)
        out += (b - stats[0] * scale).reshape(shape)
        return out

    @staticmethod
    def vjp(g, x, stats, w, b, *, out, eps):
        dims = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)
        count = x.numel() // x.shape[1]
        if STATE.grad_enabled:  # create_graph: the statistics as differentiable functions of x
            mean = x.mean(dims)
            centered = x - mean.reshape(shape)
            var = (centered * centered).mean(dims)
        else:
            mean, var = stats[0], stats[1]
            centered = x - mean.reshape(shape)
        invstd = (var + eps).rsqrt()
        sum_g = g.sum(dims)
        sum_g_xhat = (g * centered).sum(dims) * invstd

        def grad_x() -> Any:
            scale = w * invstd
            coef = scale * invstd * sum_g_xhat / -count  # times (x - mean)
            return g * scale.reshape(shape) + (
                centered * coef.reshape(shape) - (scale * sum_g / count).reshape(shape)
            )

        return grad_x, None, lambda: sum_g_xhat, lambda: sum_g

    saved_inputs = staticmethod(lambda req: (True, True, req[0], False))


def batch_norm_stats(x: Any) -> Any:
    """(2, C) per-channel batch mean and biased variance of (N, C, *S) input."""
    return apply(BatchNormStats, x)


def batch_norm_train(x: Any, stats: Any, weight: Any, bias: Any, eps: float = 1e-5) -> Any:
    """Batch normalisation with the batch's ``stats`` (from ``batch_norm_stats``)."""
    return apply(BatchNormTrain, x, stats, weight, bias, eps=float(eps))


# PyTorch divides BCE's gradient by max(p (1 - p), ε) with ε = 1e-12 as a float32 constant
_BCE_EPS = float(np.float32(1e-12))


class BinaryCrossEntropy(Primitive):
    """-(t log p + (1 - t) log(1 - p)) elementwise, each log clamped to >= -100."""

    kind = OPAQUE
    quiet = True  # log(0) = -inf before the clamp

    @staticmethod
    def infer(p: Aval, t: Aval) -> Aval:  # type: ignore[override]
        if p.shape != t.shape or p.dtype is not t.dtype:
            raise ValueError(
                f"binary_cross_entropy: input {p} and target {t} must have one shape and dtype"
            )
        return p

    @staticmethod
    def forward(xp, p, t):
        log_p = xp.maximum(xp.log(p), -100.0)
        log_q = xp.maximum(xp.log(1 - p), -100.0)
        return -(t * log_p + (1 - t) * log_q).astype(p.dtype, copy=False)

    @staticmethod
    def vjp(g, p, t, *, out):
        return (
            lambda: g * (p - t) / (p * (1 - p)).clamp(min=_BCE_EPS),
            lambda: g * (log(1 - p) - log(p)),
        )


def binary_cross_entropy_elementwise(p: Any, t: Any) -> Any:
    """Per-element binary cross entropy of probabilities ``p`` against targets ``t``."""
    return apply(BinaryCrossEntropy, p, t)
