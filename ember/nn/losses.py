"""Functional losses (PyTorch signatures), written as compositions of ember ops.

Every loss is a plain composite, so autograd, double backward and tracing come free. The
classification losses work on log-probabilities from a max-subtracted log-softmax, which keeps
them finite for extreme logits (±1e4).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ember import dtypes
from ember.autograd.grad_mode import STATE
from ember.creation import from_host, full_like
from ember.nn import functional as F  # functional re-exports these losses: use it at call time
from ember.ops.autocast import autocast_op
from ember.ops.elementwise import exp, log, maximum, minimum, where
from ember.ops.fused import binary_cross_entropy_elementwise, cross_entropy_rows
from ember.tensor import Tensor

__all__ = [
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "cross_entropy",
    "nll_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "margin_ranking_loss",
    "hinge_embedding_loss",
    "soft_margin_loss",
    "multilabel_soft_margin_loss",
    "cosine_embedding_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "poisson_nll_loss",
    "gaussian_nll_loss",
]

_REDUCTIONS = ("none", "mean", "sum")


# -- helpers --------------------------------------------------------------------------------
def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    """Apply ``reduction`` ('none' | 'mean' | 'sum') to an elementwise loss."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: invalid reduction: {reduction!r} vs expected one of {_REDUCTIONS}")


def _check_reduction(reduction: str, op: str, allowed: tuple[str, ...] = _REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{op}: invalid reduction: {reduction!r} vs expected one of {allowed}")


def _check_tensor(x: Any, name: str, op: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(x).__name__}")


def _check_same_shape(input: Tensor, target: Tensor, op: str) -> None:
    """Input and target must agree exactly: silent broadcasting is almost always a bug."""
    _check_tensor(input, "input", op)
    _check_tensor(target, "target", op)
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            f"{op}: target shape {tuple(target.shape)} doesn't match input shape "
            f"{tuple(input.shape)}: {tuple(target.shape)} vs {tuple(input.shape)}\n"
            "hint: a [N, 1] prediction against a [N] target broadcasts to [N, N]; "
            "squeeze or reshape one of them"
        )


def _float_target(input: Tensor, target: Tensor, op: str) -> Tensor:
    if not target.is_floating_point():
        raise TypeError(
            f"{op}: expected a floating point target: {target.dtype.name} vs {input.dtype.name}"
        )
    return target if target.dtype is input.dtype else target.to(input.dtype)


def _softplus_neg(x: Tensor) -> Tensor:
    """log(1 + exp(-x)) = -log(sigmoid(x)), finite for any x, with the exact gradient at 0."""
    m = maximum(-x, 0.0).detach()
    return m + log(exp(-m) + exp(-x - m))


# -- regression losses ----------------------------------------------------------------------
def _elementwise_weighted(
    loss: Tensor, weight: Tensor | None, reduction: str, op: str, *, by_weight: bool
) -> Tensor:
    """Reduce ``loss * weight`` (``weight`` of the input's shape); with ``by_weight`` 'mean'
    divides by the total weight (l1/mse), otherwise by the element count (huber), as torch."""
    if weight is None:
        return _reduce(loss, reduction, op)
    _check_tensor(weight, "weight", op)
    if tuple(weight.shape) != tuple(loss.shape):
        raise ValueError(
            f"{op}: weight must have the input's shape: {tuple(weight.shape)} vs "
            f"{tuple(loss.shape)}"
        )
    loss = loss * weight
    if reduction == "mean" and by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction, op)


@autocast_op
def mse_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", weight: Tensor | None = None
) -> Tensor:
    """Mean squared error: (input - target)², optionally weighted per element."""
    _check_same_shape(input, target, "mse_loss")
    _check_reduction(reduction, "mse_loss")
    loss = (input - target).square()
    return _elementwise_weighted(loss, weight, reduction, "mse_loss", by_weight=True)


@autocast_op
def l1_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", weight: Tensor | None = None
) -> Tensor:
    """Mean absolute error: |input - target|, optionally weighted per element."""
    _check_same_shape(input, target, "l1_loss")
    _check_reduction(reduction, "l1_loss")
    loss = (input - target).abs()
    return _elementwise_weighted(loss, weight, reduction, "l1_loss", by_weight=True)


@autocast_op
def smooth_l1_loss(
    input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0
) -> Tensor:
    """Quadratic (0.5 d²/beta) below ``beta``, linear (d - 0.5 beta) above; L1 when beta=0."""
    _check_same_shape(input, target, "smooth_l1_loss")
    _check_reduction(reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    d = (input - target).abs()
    if beta == 0:
        return _reduce(d, reduction, "smooth_l1_loss")
    loss = where(d < beta, d.square() * (0.5 / beta), d - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


@autocast_op
def huber_loss(
    input: Tensor,
    target: Tensor,
    reduction: str = "mean",
    delta: float = 1.0,
    weight: Tensor | None = None,
) -> Tensor:
    """Quadratic (0.5 d²) below ``delta``, linear (delta (d - 0.5 delta)) above."""
    _check_same_shape(input, target, "huber_loss")
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    d = (input - target).abs()
    loss = where(d < delta, d.square() * 0.5, (d - 0.5 * delta) * delta)
    return _elementwise_weighted(loss, weight, reduction, "huber_loss", by_weight=False)


# -- classification losses ------------------------------------------------------------------
def _class_dim(input: Tensor, op: str) -> int:
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have at least 1 dimension (classes), got a 0-d tensor")
    return 0 if input.ndim == 1 else 1


def _check_class_target(input: Tensor, target: Tensor, ignore_index: int, op: str) -> None:
    """Dtype, shape and range checks for a target of class indices."""
    _check_tensor(target, "target", op)
    if target.dtype.is_floating_point or target.dtype is dtypes.bool_:
        raise TypeError(
            f"{op}: expected a target of integer class indices: {target.dtype.name} vs int64\n"
            "hint: class indices need an integer tensor (target.long()); for class "
            "probabilities pass a float target of the input's shape to cross_entropy"
        )
    cdim = _class_dim(input, op)
    expected = tuple(input.shape[:cdim]) + tuple(input.shape[cdim + 1 :])
    if tuple(target.shape) != expected:
        raise ValueError(
            f"{op}: target shape {tuple(target.shape)} doesn't match input shape "
            f"{tuple(input.shape)}: {tuple(target.shape)} vs expected {expected}"
        )
    if STATE.tracer is not None or target.numel() == 0:
        return  # the values are unknown while tracing
    n = input.shape[cdim]
    t = target._data  # a host-side check on the raw array: no ops recorded, one sync on GPU
    bad = ((t < 0) | (t >= n)) & (t != ignore_index)
    if bad.any():
        first = int(t[bad].reshape(-1)[0])
        raise IndexError(f"{op}: target {first} is out of bounds: class index vs n_classes {n}")


def _check_weight(input: Tensor, weight: Tensor | None, op: str) -> Tensor | None:
    if weight is None:
        return None
    _check_tensor(weight, "weight", op)
    n = input.shape[_class_dim(input, op)]
    if tuple(weight.shape) != (n,):
        raise ValueError(
            f"{op}: weight must have one entry per class: shape {tuple(weight.shape)} vs ({n},)"
        )
    return weight if weight.dtype is input.dtype else weight.to(input.dtype)


def _picked_and_weights(
    logp: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int
) -> tuple[Tensor, Tensor]:
    """(log-probability of each target class, its weight — zero where ignored)."""
    cdim = 0 if logp.ndim == 1 else 1
    keep = target != ignore_index
    safe = where(keep, target, 0)
    picked = logp.gather(cdim, safe.unsqueeze(cdim)).squeeze(cdim)
    w = keep.to(logp.dtype)
    if weight is not None:
        w = weight.take(safe) * w
    return picked, w


def _weighted_reduce(loss: Tensor, w: Tensor, reduction: str, op: str) -> Tensor:
    """'mean' divides by the total weight of the non-ignored targets (PyTorch's rule)."""
    if reduction == "mean":
        return loss.sum() / w.sum()
    return _reduce(loss, reduction, op)


@autocast_op
def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of class indices, given log-probabilities [N, C, d1, ...]."""
    _check_tensor(input, "input", "nll_loss")
    _check_reduction(reduction, "nll_loss")
    _check_class_target(input, target, ignore_index, "nll_loss")
    weight = _check_weight(input, weight, "nll_loss")
    picked, w = _picked_and_weights(input, target, weight, ignore_index)
    return _weighted_reduce(-picked * w, w, reduction, "nll_loss")


@autocast_op
def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross entropy of raw logits [N, C, d1, ...] against class indices or class probabilities."""
    op = "cross_entropy"
    _check_tensor(input, "input", op)
    _check_tensor(target, "target", op)
    _check_reduction(reduction, op)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    cdim = _class_dim(input, op)
    weight = _check_weight(input, weight, op)
    n_classes = input.shape[cdim]
    if target.is_floating_point() and tuple(target.shape) == tuple(input.shape):
        return _cross_entropy_probs(input, target, weight, ignore_index, reduction, label_smoothing)
    _check_class_target(input, target, ignore_index, op)
    if _fused_rows(input, target, weight, label_smoothing):
        loss = cross_entropy_rows(input, target, ignore_index)
        return _weighted_reduce(loss, (target != ignore_index).to(input.dtype), reduction, op)
    logp = F.log_softmax(input, cdim)
    picked, w = _picked_and_weights(logp, target, weight, ignore_index)
    loss = -picked * w
    if label_smoothing > 0:
        wlogp = logp if weight is None else logp * _class_shaped(weight, logp, cdim)
        smooth = -wlogp.sum(cdim) * (target != ignore_index).to(logp.dtype)
        loss = loss * (1 - label_smoothing) + smooth * (label_smoothing / n_classes)
    return _weighted_reduce(loss, w, reduction, op)


def _fused_rows(input: Tensor, target: Tensor, weight: Any, label_smoothing: float) -> bool:
    """Whether the fused (N, C) kernel applies (the composite above is its reference)."""
    return (
        weight is None
        and label_smoothing == 0
        and input.ndim == 2
        and input.shape[0] > 0
        and input.shape[1] > 0
        and target.dtype in (dtypes.int64, dtypes.int32)
    )


def _class_shaped(weight: Tensor, like: Tensor, cdim: int) -> Tensor:
    """``weight`` [C] reshaped to broadcast along the class dimension of ``like``."""
    shape = [1] * like.ndim
    shape[cdim] = weight.shape[0]
    return weight.reshape(*shape)


def _cross_entropy_probs(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None,
    ignore_index: int,
    reduction: str,
    label_smoothing: float,
) -> Tensor:
    """Cross entropy against class probabilities (soft targets) of the input's shape."""
    if ignore_index != -100:
        raise ValueError(
            f"cross_entropy: ignore_index is not supported for class-probability targets: "
            f"{ignore_index} vs -100"
        )
    cdim = 0 if input.ndim == 1 else 1
    n_classes = input.shape[cdim]
    target = _float_target(input, target, "cross_entropy")
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    prod = F.log_softmax(input, cdim) * target
    if weight is not None:
        prod = prod * _class_shaped(weight, prod, cdim)
    if reduction == "mean":
        return -prod.sum() / (input.numel() // n_classes)
    return _reduce(-prod.sum(cdim), reduction, "cross_entropy")


@autocast_op
def binary_cross_entropy(
    input: Tensor, target: Tensor, weight: Tensor | None = None, reduction: str = "mean"
) -> Tensor:
    """Binary cross entropy of probabilities in [0, 1]; each log is clamped to >= -100."""
    op = "binary_cross_entropy"
    _check_same_shape(input, target, op)
    _check_reduction(reduction, op)
    target = _float_target(input, target, op)
    if STATE.tracer is None and input.numel() and ((input < 0) | (input > 1)).any().item():
        raise ValueError(
            f"{op}: all elements of input should be between 0 and 1\n"
            "hint: pass logits to binary_cross_entropy_with_logits instead (it is also stabler)"
        )
    loss = binary_cross_entropy_elementwise(input, target)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, op)


@autocast_op
def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Binary cross entropy on logits: sigmoid and log fused stably (finite for any logit)."""
    op = "binary_cross_entropy_with_logits"
    _check_same_shape(input, target, op)
    _check_reduction(reduction, op)
    target = _float_target(input, target, op)
    neg_log_sig = _softplus_neg(input)
    if pos_weight is not None:
        neg_log_sig = neg_log_sig * ((pos_weight - 1) * target + 1)
    loss = (1 - target) * input + neg_log_sig
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, op)


@autocast_op
def kl_div(
    input: Tensor, target: Tensor, reduction: str = "mean", log_target: bool = False
) -> Tensor:
    """KL(target ‖ input) pointwise, with ``input`` given as log-probabilities.

    'batchmean' (sum / batch size) is the true KL divergence; 'mean' averages over every
    element, as PyTorch does.
    """
    op = "kl_div"
    _check_same_shape(input, target, op)
    _check_reduction(reduction, op, _REDUCTIONS + ("batchmean",))
    target = _float_target(input, target, op)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        positive = target > 0
        loss = where(positive, target * where(positive, target, 1.0).log(), 0.0) - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction, op)


# -- margin and embedding losses ------------------------------------------------------------
@autocast_op
def margin_ranking_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """max(0, -target (input1 - input2) + margin): target 1 ranks input1 higher, -1 lower."""
    op = "margin_ranking_loss"
    _check_reduction(reduction, op)
    _check_same_shape(input1, input2, op)
    _check_same_shape(input1, target, op)
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0.0), reduction, op)


@autocast_op
def hinge_embedding_loss(
    input: Tensor, target: Tensor, margin: float = 1.0, reduction: str = "mean"
) -> Tensor:
    """x where target is 1, max(0, margin - x) where it is -1 (both terms for other values)."""
    op = "hinge_embedding_loss"
    _check_reduction(reduction, op)
    _check_same_shape(input, target, op)
    below_margin = where(target != 1, (margin - input).clamp(min=0.0), 0.0)
    itself = where(target != -1, input, 0.0)
    return _reduce(below_margin + itself, reduction, op)


@autocast_op
def soft_margin_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """log(1 + exp(-target x)): a smooth hinge for targets ±1."""
    op = "soft_margin_loss"
    _check_reduction(reduction, op)
    _check_same_shape(input, target, op)
    return _reduce(_softplus_neg(target * input), reduction, op)


def multilabel_soft_margin_loss(
    input: Tensor, target: Tensor, weight: Tensor | None = None, reduction: str = "mean"
) -> Tensor:
    """Per-class binary cross entropy of logits against 0/1 targets, averaged over the classes
    (the last dim); ``weight`` scales each class."""
    op = "multilabel_soft_margin_loss"
    _check_reduction(reduction, op)
    _check_same_shape(input, target, op)
    loss = target * _softplus_neg(input) + (1 - target) * _softplus_neg(-input)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss.mean(-1), reduction, op)


@autocast_op
def cosine_embedding_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """1 - cos(x1, x2) where target is 1, max(0, cos(x1, x2) - margin) where it is -1; the
    cosine is taken along the last dim of (N, D) or (D) inputs."""
    op = "cosine_embedding_loss"
    _check_reduction(reduction, op)
    _check_same_shape(input1, input2, op)
    _check_tensor(target, "target", op)
    if input1.ndim not in (1, 2) or tuple(target.shape) != tuple(input1.shape[:-1]):
        raise ValueError(
            f"{op}: expected (N, D) or (D) inputs and a target of shape (N) or (): inputs "
            f"{tuple(input1.shape)} vs target {tuple(target.shape)}"
        )
    eps = 1e-12  # keeps zero vectors finite
    dot = (input1 * input2).sum(-1)
    norms = ((input1 * input1).sum(-1) + eps) * ((input2 * input2).sum(-1) + eps)
    cos = dot / norms.sqrt()
    loss = where(target == 1, 1 - cos, 0.0) + where(
        target == -1, (cos - margin).clamp(min=0.0), 0.0
    )
    return _reduce(loss, reduction, op)


def triplet_margin_with_distance_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    *,
    distance_function: Any = None,
    margin: float = 1.0,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """max(0, d(anchor, positive) - d(anchor, negative) + margin) for a distance ``d``
    (pairwise_distance by default); ``swap`` uses d(positive, negative) when it is smaller."""
    op = "triplet_margin_with_distance_loss"
    _check_reduction(reduction, op)
    if margin <= 0:
        raise ValueError(f"{op}: margin must be greater than 0, got {margin}")
    for name, x in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        _check_tensor(x, name, op)
    dist = F.pairwise_distance if distance_function is None else distance_function
    d_pos, d_neg = dist(anchor, positive), dist(anchor, negative)
    if swap:
        d_neg = minimum(d_neg, dist(positive, negative))
    return _reduce((d_pos - d_neg + margin).clamp(min=0.0), reduction, op)


@autocast_op
def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: str = "mean",
) -> Tensor:
    """The triplet loss with the p-norm ``pairwise_distance`` (inputs (N, D) or (D))."""
    op = "triplet_margin_loss"
    ndims = {anchor.ndim, positive.ndim, negative.ndim}
    if len(ndims) != 1 or ndims.pop() not in (1, 2):
        raise ValueError(
            f"{op}: expected anchor, positive and negative all (N, D) or all (D), got "
            f"{tuple(anchor.shape)}, {tuple(positive.shape)}, {tuple(negative.shape)}"
        )
    return triplet_margin_with_distance_loss(
        anchor,
        positive,
        negative,
        distance_function=lambda a, b: F.pairwise_distance(a, b, p, eps),
        margin=margin,
        swap=swap,
        reduction=reduction,
    )


@autocast_op
def multi_margin_loss(
    input: Tensor,
    target: Tensor,
    p: int = 1,
    margin: float = 1.0,
    weight: Tensor | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Multi-class hinge: sum over classes i != y of max(0, margin - x[y] + x[i]) ** p / C,
    scaled by ``weight[y]``; input (N, C) or (C), target class indices (N) or ()."""
    op = "multi_margin_loss"
    _check_reduction(reduction, op)
    if p not in (1, 2):
        raise ValueError(f"{op}: only p == 1 and p == 2 are supported, got {p}")
    _check_tensor(input, "input", op)
    if input.ndim not in (1, 2):
        raise ValueError(f"{op}: expected a (N, C) or (C) input, got {tuple(input.shape)}")
    _check_class_target(input, target, -100, op)
    weight = _check_weight(input, weight, op)
    cdim = input.ndim - 1
    picked = input.gather(cdim, target.unsqueeze(cdim))
    hinge = (input - picked + margin).clamp(min=0.0)
    if p == 2:
        hinge = hinge * hinge
    if weight is not None:
        hinge = hinge * weight.take(target).unsqueeze(cdim)
    others = F.one_hot(target, input.shape[cdim]) == 0
    loss = where(others, hinge, 0.0).sum(cdim) / input.shape[cdim]
    return _reduce(loss, reduction, op)


@autocast_op
def multilabel_margin_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Multi-label hinge: for each target class j (``target`` lists them, ended by -1) and each
    non-target class i, max(0, 1 - (x[j] - x[i])), summed and divided by C."""
    op = "multilabel_margin_loss"
    _check_reduction(reduction, op)
    _check_tensor(input, "input", op)
    _check_tensor(target, "target", op)
    if input.ndim not in (1, 2) or tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"{op}: expected a (N, C) or (C) input and an integer target of its shape: "
            f"{tuple(input.shape)} vs {tuple(target.shape)}"
        )
    if target.dtype.is_floating_point or target.dtype is dtypes.bool_:
        raise TypeError(f"{op}: expected an integer target, got {target.dtype.name}")
    labels = target.numpy().reshape(-1, input.shape[-1])
    c = labels.shape[1]
    if labels.size and (labels.max() >= c or labels.min() < -1):
        raise IndexError(
            f"{op}: target values must lie in [-1, {c}), got {labels.min()}..{labels.max()}"
        )
    counts = np.zeros(labels.shape, dtype=input.dtype.np)  # how often each class is a target
    for row, lab in zip(counts, labels):
        ends = np.flatnonzero(lab == -1)
        np.add.at(row, lab[: ends[0] if ends.size else c], 1)
    counts_t = from_host(counts.reshape(input.shape), device=input.device)
    x = input.unsqueeze(-1)  # pairs (j, i): x[j] - x[i]
    hinge = (1 - (x - input.unsqueeze(-2))).clamp(min=0.0)
    pairs = counts_t.unsqueeze(-1) * (counts_t == 0).to(input.dtype).unsqueeze(-2)
    return _reduce((hinge * pairs).sum((-2, -1)) / c, reduction, op)


# -- likelihood losses ----------------------------------------------------------------------
@autocast_op
def poisson_nll_loss(
    input: Tensor,
    target: Tensor,
    log_input: bool = True,
    full: bool = False,
    eps: float = 1e-8,
    reduction: str = "mean",
) -> Tensor:
    """Poisson negative log-likelihood of ``target`` counts given the rate ``input`` (its log
    when ``log_input``); ``full`` adds the Stirling term for targets above 1."""
    op = "poisson_nll_loss"
    _check_reduction(reduction, op)
    _check_tensor(input, "input", op)
    _check_tensor(target, "target", op)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        safe = where(target > 1, target, 2.0)
        stirling = safe * safe.log() - safe + 0.5 * (2 * math.pi * safe).log()
        loss = loss + where(target > 1, stirling, 0.0)
    return _reduce(loss, reduction, op)


def gaussian_nll_loss(
    input: Tensor,
    target: Tensor,
    var: Tensor | float,
    full: bool = False,
    eps: float = 1e-6,
    reduction: str = "mean",
) -> Tensor:
    """Gaussian negative log-likelihood 0.5 (log var + (input - target)² / var), var held at
    least ``eps`` (without blocking its gradient); ``var`` may be a float, the input's shape,
    or it with the last dim 1 or dropped (one variance per sample)."""
    op = "gaussian_nll_loss"
    _check_reduction(reduction, op)
    _check_tensor(input, "input", op)
    _check_tensor(target, "target", op)
    if not isinstance(var, Tensor):
        var = full_like(input, float(var))
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (
            tuple(input.shape[:-1]) == tuple(var.shape[:-1]) and var.ndim and var.shape[-1] == 1
        ):
            raise ValueError(
                f"{op}: var of shape {tuple(var.shape)} does not fit input {tuple(input.shape)}"
            )
    if STATE.tracer is None and var.numel() and (var < 0).any().item():
        raise ValueError(f"{op}: var has negative entry/entries")
    lift = var.detach().clamp(min=eps) - var.detach()  # a constant: the gradient stays var's
    var = var + lift
    loss = 0.5 * (var.log() + (input - target).square() / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, op)
