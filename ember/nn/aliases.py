"""The functionals torch also exposes at top level (``torch.conv2d``, ``torch.dropout`` …),
with the top-level spellings: positional flags such as ``train`` and ``cudnn_enabled``,
losses whose ``reduction`` is torch's enum (0 none, 1 mean, 2 sum; the names work too), and
pooling ops that return indices as a pair.

Functionals whose top-level signature is the same are the very same functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ember import dtypes
from ember.creation import from_host
from ember.nn import functional as F
from ember.nn.functional import (
    adaptive_avg_pool1d,
    avg_pool1d,
    bilinear,
    celu,
    channel_shuffle,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    cosine_similarity,
    hardshrink,
    pairwise_distance,
    pdist,
    pixel_shuffle,
    pixel_unshuffle,
    prelu,
    rms_norm,
    selu,
    threshold,
)
from ember.tensor import Tensor

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_max_pool1d",
    "alpha_dropout",
    "avg_pool1d",
    "batch_norm",
    "bilinear",
    "binary_cross_entropy_with_logits",
    "celu",
    "channel_shuffle",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "cosine_embedding_loss",
    "cosine_similarity",
    "dropout",
    "embedding",
    "embedding_bag",
    "feature_alpha_dropout",
    "feature_dropout",
    "group_norm",
    "hardshrink",
    "hinge_embedding_loss",
    "instance_norm",
    "kl_div",
    "layer_norm",
    "margin_ranking_loss",
    "max_pool1d",
    "max_pool1d_with_indices",
    "max_pool2d",
    "max_pool3d",
    "pairwise_distance",
    "pdist",
    "pixel_shuffle",
    "pixel_unshuffle",
    "poisson_nll_loss",
    "prelu",
    "rms_norm",
    "rrelu",
    "selu",
    "threshold",
    "triplet_margin_loss",
]

_REDUCTIONS = ("none", "mean", "sum")


# torch's top-level bindings default to 0 (none), not the 1 (mean) of their schemas
_DEFAULT = 0


def _reduction(op: str, reduction: int | str) -> str:
    """torch's top-level reduction enum (0, 1, 2) as the functional's name."""
    if isinstance(reduction, str) and reduction in _REDUCTIONS:
        return reduction
    if isinstance(reduction, int) and not isinstance(reduction, bool) and 0 <= reduction <= 2:
        return _REDUCTIONS[reduction]
    raise ValueError(
        f"{op}: reduction must be 0 (none), 1 (mean) or 2 (sum) (or that name), got {reduction!r}"
    )


# -- pooling -----------------------------------------------------------------------------------
def _max_pool(pool: Callable[..., Any], with_indices: bool, what: str) -> Callable[..., Any]:
    """``pool`` with torch's top-level parameters (no ``return_indices``: the variant decides)."""

    def max_pool(
        input: Tensor,
        kernel_size: Any,
        stride: Any = None,
        padding: Any = 0,
        dilation: Any = 1,
        ceil_mode: bool = False,
    ) -> Any:
        return pool(input, kernel_size, stride, padding, dilation, ceil_mode, with_indices)

    max_pool.__name__ = max_pool.__qualname__ = pool.__name__ + ("_with_indices" * with_indices)
    max_pool.__doc__ = what
    return max_pool


max_pool1d = _max_pool(F.max_pool1d, False, "1-D max pooling of (N, C, L) or (C, L) input.")
max_pool2d = _max_pool(F.max_pool2d, False, "2-D max pooling of (N, C, H, W) or (C, H, W) input.")
max_pool3d = _max_pool(F.max_pool3d, False, "3-D max pooling of (N, C, D, H, W) or (C, D, H, W).")
max_pool1d_with_indices = _max_pool(
    F.max_pool1d, True, "1-D max pooling: (values, indices of the maxima along the length)."
)


def adaptive_max_pool1d(input: Tensor, output_size: Any) -> tuple[Tensor, Tensor]:
    """Adaptive 1-D max pooling: (values, indices of the maxima)."""
    return F.adaptive_max_pool1d(input, output_size, return_indices=True)


# -- normalisation and embedding ---------------------------------------------------------------
def batch_norm(
    input: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    training: bool,
    momentum: float,
    eps: float,
    cudnn_enabled: bool,
) -> Tensor:
    """Batch normalisation over dim 1. ``cudnn_enabled`` only picks torch's GPU kernel: the
    result is the same, so ember (which has no cuDNN path) computes it the one way."""
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(
    input: Tensor,
    weight: Tensor | None,
    bias: Tensor | None,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    use_input_stats: bool,
    momentum: float,
    eps: float,
    cudnn_enabled: bool,
) -> Tensor:
    """Instance normalisation of (N, C, *) input (``cudnn_enabled`` as in ``batch_norm``)."""
    return F.instance_norm(
        input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps
    )


def layer_norm(
    input: Tensor,
    normalized_shape: Sequence[int] | int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
    cudnn_enable: bool = True,
) -> Tensor:
    """Layer normalisation over the trailing ``normalized_shape`` dims (``cudnn_enable`` as in
    ``batch_norm``)."""
    return F.layer_norm(input, normalized_shape, weight, bias, eps)


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
    cudnn_enabled: bool = True,
) -> Tensor:
    """Group normalisation of (N, C, *) input (``cudnn_enabled`` as in ``batch_norm``)."""
    return F.group_norm(input, num_groups, weight, bias, eps)


def embedding(
    weight: Tensor,
    indices: Tensor,
    padding_idx: int = -1,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of ``weight`` at ``indices`` (note the order: weight first, as torch's top level);
    a negative ``padding_idx`` means none."""
    padding = None if padding_idx < 0 else padding_idx
    return F.embedding(
        indices, weight, padding, scale_grad_by_freq=scale_grad_by_freq, sparse=sparse
    )


_BAG_MODES = ("sum", "mean", "max")
_FAST_SUM_DTYPES = (dtypes.float32, dtypes.float16, dtypes.bfloat16)


def embedding_bag(
    weight: Tensor,
    indices: Tensor,
    offsets: Tensor,
    scale_grad_by_freq: bool = False,
    mode: int = 0,
    sparse: bool = False,
    per_sample_weights: Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Bags of ``weight`` rows reduced by ``mode`` (0 sum, 1 mean, 2 max), 1-D ``indices`` cut
    at ``offsets``, with torch's three bookkeeping outputs: ``(output, offset2bag, bag_size,
    max_indices)``, filled as torch's CPU kernels fill them. Sum gives zeros for the last
    two (one per offset) and each index's bag as ``offset2bag`` (empty from its fast kernel,
    used for contiguous float32/16 weights without padding). Mean and max give each index's
    bag and each bag's count without padding; mean's ``max_indices`` repeats ``bag_size``,
    max's holds the weight row of each maximum."""
    if mode not in (0, 1, 2):
        raise ValueError(f"embedding_bag: mode must be 0 (sum), 1 (mean) or 2 (max), got {mode}")
    if indices.ndim != 1 or offsets.ndim != 1:
        raise ValueError(
            "embedding_bag: expected 1-D indices and offsets, got shapes "
            f"{tuple(indices.shape)} and {tuple(offsets.shape)}"
        )
    output = F.embedding_bag(
        indices,
        weight,
        offsets,
        scale_grad_by_freq=scale_grad_by_freq,
        mode=_BAG_MODES[mode],
        sparse=sparse,
        per_sample_weights=per_sample_weights,
        include_last_offset=include_last_offset,
        padding_idx=padding_idx,
    )
    starts = offsets.detach().cpu().numpy().astype(np.int64)
    rows = indices.detach().cpu().numpy().astype(np.int64)
    device = weight.device
    if include_last_offset:
        bag_of = np.searchsorted(starts[:-1], np.arange(len(rows)), side="right") - 1
    else:
        bag_of = np.searchsorted(starts, np.arange(len(rows)), side="right") - 1
    if mode == 0:
        zeros = np.zeros(len(starts), dtype=np.int64)
        fast = weight.dtype in _FAST_SUM_DTYPES and weight.is_contiguous()
        if fast and padding_idx is None:
            bag_of = bag_of[:0]  # torch's fast summing kernel records no bags
        return output, *(from_host(a, device=device) for a in (bag_of, zeros, zeros))
    bags = len(starts) - 1 if include_last_offset else len(starts)
    counted = np.ones(len(rows), dtype=np.int64)
    if padding_idx is not None:
        counted[rows == padding_idx % weight.shape[0]] = 0
    bag_size = np.bincount(bag_of, weights=counted, minlength=bags).astype(np.int64)
    if mode == 1:
        max_indices = bag_size
    else:
        max_indices = _max_rows(weight.detach().cpu().numpy(), rows, bag_of, counted, bags)
    return output, *(from_host(a, device=device) for a in (bag_of, bag_size, max_indices))


def _max_rows(
    table: np.ndarray, rows: np.ndarray, bag_of: np.ndarray, counted: np.ndarray, bags: int
) -> np.ndarray:
    """For each bag and column, the weight row holding the bag's maximum (the first of ties,
    0 for a bag with no counted rows)."""
    out = np.zeros((bags, table.shape[1]), dtype=np.int64)
    for bag in range(bags):
        members = rows[(bag_of == bag) & (counted == 1)]
        if members.size:
            out[bag] = members[np.argmax(table[members], axis=0)]
    return out


# -- dropout -----------------------------------------------------------------------------------
def dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Elementwise dropout when ``train``."""
    return F.dropout(input, p, train)


def feature_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Dropout of whole channels (dim 1) of (N, C, *) input when ``train``."""
    if input.ndim < 2:
        raise RuntimeError(
            "feature_dropout: feature dropout requires at least 2 dimensions in the input, got "
            f"shape {tuple(input.shape)}"
        )
    mask_shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return F._dropout("feature_dropout", input, p, train, False, mask_shape)


def alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Alpha dropout (keeps a SELU network's mean and variance) when ``train``."""
    return F.alpha_dropout(input, p, train)


def feature_alpha_dropout(input: Tensor, p: float, train: bool) -> Tensor:
    """Alpha dropout of whole channels (dim 1) when ``train``."""
    return F.feature_alpha_dropout(input, p, train)


def rrelu(
    input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False
) -> Tensor:
    """Leaky ReLU with a random slope in [lower, upper] when training, their mean otherwise."""
    return F.rrelu(input, lower, upper, training)


# -- losses ------------------------------------------------------------------------------------
def kl_div(
    input: Tensor, target: Tensor, reduction: int | str = _DEFAULT, *, log_target: bool = False
) -> Tensor:
    """KL divergence of ``target`` from log-probabilities ``input``."""
    return F.kl_div(input, target, _reduction("kl_div", reduction), log_target)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    pos_weight: Tensor | None = None,
    reduction: int | str = _DEFAULT,
) -> Tensor:
    """Binary cross-entropy of logits ``input`` (note: ``pos_weight`` comes before
    ``reduction`` at torch's top level)."""
    how = _reduction("binary_cross_entropy_with_logits", reduction)
    return F.binary_cross_entropy_with_logits(input, target, weight, how, pos_weight)


def poisson_nll_loss(
    input: Tensor, target: Tensor, log_input: bool, full: bool, eps: float, reduction: int | str
) -> Tensor:
    """Poisson negative log-likelihood (every argument given, as torch's top level)."""
    how = _reduction("poisson_nll_loss", reduction)
    return F.poisson_nll_loss(input, target, log_input, full, eps, how)


def hinge_embedding_loss(
    input: Tensor, target: Tensor, margin: float = 1.0, reduction: int | str = _DEFAULT
) -> Tensor:
    """Hinge embedding loss for targets of ±1."""
    how = _reduction("hinge_embedding_loss", reduction)
    return F.hinge_embedding_loss(input, target, margin, how)


def _pair_loss(loss: Callable[..., Tensor], what: str) -> Callable[..., Tensor]:
    """``loss`` of two inputs and a ±1 target, with the top-level reduction enum."""

    def pair_loss(
        input1: Tensor,
        input2: Tensor,
        target: Tensor,
        margin: float = 0.0,
        reduction: int | str = _DEFAULT,
    ) -> Tensor:
        how = _reduction(loss.__name__, reduction)
        return loss(input1, input2, target, margin, how)

    pair_loss.__name__ = pair_loss.__qualname__ = loss.__name__
    pair_loss.__doc__ = what
    return pair_loss


cosine_embedding_loss = _pair_loss(
    F.cosine_embedding_loss, "Cosine embedding loss for targets of ±1."
)
margin_ranking_loss = _pair_loss(
    F.margin_ranking_loss, "max(0, -target * (input1 - input2) + margin)."
)


def triplet_margin_loss(
    anchor: Tensor,
    positive: Tensor,
    negative: Tensor,
    margin: float = 1.0,
    p: float = 2.0,
    eps: float = 1e-6,
    swap: bool = False,
    reduction: int | str = _DEFAULT,
) -> Tensor:
    """Triplet loss: the anchor nearer the positive than the negative by ``margin``."""
    how = _reduction("triplet_margin_loss", reduction)
    return F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap, how)
