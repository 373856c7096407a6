"""Functional forms of the layers (PyTorch's ``torch.nn.functional``).

Everything here is a composite of ember ops (autograd, double backward and tracing come free);
convolution and pooling come from ``ember.ops.conv``, losses from ``ember.nn.losses``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ember import dtypes, random
from ember.autograd import no_grad
from ember.creation import arange, from_host, ones, zeros
from ember.nn.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cosine_embedding_loss,
    cross_entropy,
    gaussian_nll_loss,
    hinge_embedding_loss,
    huber_loss,
    kl_div,
    l1_loss,
    margin_ranking_loss,
    mse_loss,
    multi_margin_loss,
    multilabel_margin_loss,
    multilabel_soft_margin_loss,
    nll_loss,
    poisson_nll_loss,
    smooth_l1_loss,
    soft_margin_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
from ember.nn.sampling import affine_grid, grid_sample
from ember.ops import core
from ember.ops.autocast import autocast_op
from ember.ops.conv import (
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    adaptive_avg_pool3d,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    fold,
    unfold,
)
from ember.ops.elementwise import erf, sigmoid, tanh, where
from ember.ops.elementwise import relu as _relu
from ember.ops.fused import batch_norm_stats, batch_norm_train
from ember.ops.index import index_select
from ember.ops.max_pool import max_pool1d, max_pool2d, max_pool3d
from ember.ops.movement import pad
from ember.ops.reduce import log_softmax, softmax
from ember.ops.shrink import hardshrink, prelu
from ember.tensor import Tensor

__all__ = [
    # linear
    "linear",
    "bilinear",
    # activations
    "relu",
    "relu_",
    "relu6",
    "leaky_relu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "silu",
    "mish",
    "sigmoid",
    "tanh",
    "softplus",
    "softsign",
    "hardtanh",
    "hardsigmoid",
    "hardswish",
    "logsigmoid",
    "prelu",
    "glu",
    "threshold",
    "softmax",
    "softmin",
    "log_softmax",
    "hardshrink",
    "softshrink",
    "tanhshrink",
    "rrelu",
    "elu_",
    "celu_",
    "selu_",
    "leaky_relu_",
    "hardtanh_",
    "threshold_",
    "rrelu_",
    "gumbel_softmax",
    # dropout
    "dropout",
    "dropout1d",
    "dropout2d",
    "dropout3d",
    "alpha_dropout",
    "feature_alpha_dropout",
    # normalisation
    "batch_norm",
    "layer_norm",
    "group_norm",
    "instance_norm",
    "normalize",
    "rms_norm",
    "local_response_norm",
    "pairwise_distance",
    "pdist",
    "channel_shuffle",
    "native_channel_shuffle",
    # sparse / misc
    "embedding",
    "embedding_bag",
    "one_hot",
    "pad",
    "interpolate",
    "grid_sample",
    "affine_grid",
    "pixel_shuffle",
    "pixel_unshuffle",
    "cosine_similarity",
    "scaled_dot_product_attention",
    # convolution and pooling (ember.ops.conv)
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool3d",
    "unfold",
    "fold",
    "max_pool1d_with_indices",
    "max_pool2d_with_indices",
    "max_pool3d_with_indices",
    "lp_pool1d",
    "lp_pool2d",
    "lp_pool3d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool3d",
    "adaptive_max_pool1d_with_indices",
    "adaptive_max_pool2d_with_indices",
    "adaptive_max_pool3d_with_indices",
    "max_unpool1d",
    "max_unpool2d",
    "max_unpool3d",
    # losses (ember.nn.losses)
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


def _check_tensor(op: str, x: Any) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected input to be an ember.Tensor, got {type(x).__name__}")


def _maybe_inplace(x: Tensor, inplace: bool, fn: Any, op: str) -> Tensor:
    """``fn(x)``, written into ``x`` when ``inplace`` (autograd-aware, like PyTorch's ``_``)."""
    _check_tensor(op, x)
    return core.inplace(x, fn, op + "_") if inplace else fn(x)


# -- linear ---------------------------------------------------------------------------------
@autocast_op
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``."""
    _check_tensor("linear", input)
    if input.shape[-1:] != weight.shape[-1:]:
        raise ValueError(
            f"linear: input of shape {tuple(input.shape)} does not match weight of shape "
            f"{tuple(weight.shape)}: in_features {input.shape[-1] if input.ndim else None} vs "
            f"{weight.shape[-1]}"
        )
    out = input @ weight.mT if weight.ndim == 2 else input @ weight
    return out if bias is None else out + bias


@autocast_op
def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``y[..., o] = input1[..., i] * weight[o, i, j] * input2[..., j] + bias[o]``."""
    if input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2]:
        raise ValueError(
            f"bilinear: inputs of shapes {tuple(input1.shape)} and {tuple(input2.shape)} do not "
            f"match weight of shape {tuple(weight.shape)}"
        )
    lead = tuple(input1.shape[:-1])
    n_out, n_in1, n_in2 = weight.shape
    a = input1.reshape(-1, n_in1)
    b = input2.reshape(-1, n_in2)
    mixed = (a @ weight.permute(1, 0, 2).reshape(n_in1, n_out * n_in2)).reshape(-1, n_out, n_in2)
    out = (mixed * b.unsqueeze(1)).sum(-1).reshape(*lead, n_out)
    return out if bias is None else out + bias


# -- activations ----------------------------------------------------------------------------
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0)."""
    return _maybe_inplace(input, inplace, _relu, "relu")


def relu_(input: Tensor) -> Tensor:
    return relu(input, inplace=True)


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """x clamped to [min_val, max_val]."""
    if min_val > max_val:
        raise ValueError(
            f"hardtanh: min_val cannot be greater than max_val: {min_val} vs {max_val}"
        )
    return _maybe_inplace(input, inplace, lambda x: x.clamp(min_val, max_val), "hardtanh")


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, negative_slope * x otherwise."""
    return _maybe_inplace(
        input, inplace, lambda x: where(x > 0, x, x * negative_slope), "leaky_relu"
    )


def _expm1_negative(x: Tensor) -> Tensor:
    """expm1 of the non-positive part (clamped first, so huge x neither overflows nor NaNs)."""
    return x.clamp(max=0.0).expm1()


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    return _maybe_inplace(
        input, inplace, lambda x: where(x > 0, x, _expm1_negative(x) * alpha), "elu"
    )


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha * (exp(x / alpha) - 1) otherwise."""
    return _maybe_inplace(
        input, inplace, lambda x: where(x > 0, x, _expm1_negative(x / alpha) * alpha), "celu"
    )


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants."""
    return _maybe_inplace(input, inplace, lambda x: elu(x, _SELU_ALPHA) * _SELU_SCALE, "selu")


@core.in_float32
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Φ(x) (exact, with erf) or its tanh approximation."""
    _check_tensor("gelu", input)
    if approximate == "none":
        return input * (erf(input * (1 / math.sqrt(2.0))) + 1.0) * 0.5
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * (tanh(inner) + 1.0) * 0.5
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (a.k.a. swish)."""
    return _maybe_inplace(input, inplace, _silu, "silu")


_silu = core.in_float32(lambda x: x * sigmoid(x))


@autocast_op
def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold."""
    _check_tensor("softplus", input)
    z = input * beta
    soft = z.clamp(max=threshold).exp().log1p() / beta
    return where(z > threshold, input, soft)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    return _maybe_inplace(input, inplace, lambda x: x * tanh(softplus(x)), "mish")


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)."""
    return input / (input.abs() + 1.0)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6."""
    return _maybe_inplace(input, inplace, lambda x: (x + 3.0).clamp(0.0, 6.0) / 6.0, "hardsigmoid")


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6."""
    return _maybe_inplace(input, inplace, lambda x: x * hardsigmoid(x), "hardswish")


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), computed as -softplus(-x) so it stays finite."""
    return -softplus(-input)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else ``value``."""
    return _maybe_inplace(input, inplace, lambda x: where(x > threshold, x, value), "threshold")


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b) where a, b are the two halves of ``input`` along ``dim``."""
    if input.shape[dim] % 2:
        raise ValueError(
            f"glu: halving dimension must be even, but dimension {dim} is size {input.shape[dim]}"
        )
    a, b = input.chunk(2, dim)
    return a * sigmoid(b)


@autocast_op
def softmin(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """softmax(-x)."""
    return softmax(-input, dim, dtype)


# -- dropout --------------------------------------------------------------------------------
def _check_p(op: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(x: Tensor, shape: tuple[int, ...], p: float) -> Tensor:
    """A mask of 1 / (1 - p) (kept) and 0 (dropped), drawn from ember's default generator."""
    draw_dtype = np.float32 if x.dtype is dtypes.float32 else np.float64
    # the scale in x's dtype: bool * it gives the mask directly, no float64 temporary
    scale = x.dtype.np.type(0.0 if p == 1.0 else 1.0 / (1.0 - p))
    return random.sample(
        lambda rng: np.multiply(rng.random(shape, dtype=draw_dtype) >= p, scale), device=x.device
    )


def _dropout(
    op: str, x: Tensor, p: float, training: bool, inplace: bool, mask_shape: Any
) -> Tensor:
    _check_tensor(op, x)
    _check_p(op, p)
    if not training or p == 0.0:
        return x
    mask = _keep_mask(x, mask_shape, p)
    return _maybe_inplace(x, inplace, lambda t: t * mask, op)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1 / (1 - p) (training)."""
    return _dropout("dropout", input, p, training, inplace, tuple(input.shape))


def _channel_dropout(
    op: str, input: Tensor, p: float, training: bool, inplace: bool, spatial: int
) -> Tensor:
    _check_tensor(op, input)
    if input.ndim not in (spatial + 1, spatial + 2):
        raise ValueError(
            f"{op}: expected a {spatial + 1}-D (unbatched) or {spatial + 2}-D (batched) input, "
            f"got shape {tuple(input.shape)}"
        )
    mask_shape = tuple(input.shape[: input.ndim - spatial]) + (1,) * spatial
    return _dropout(op, input, p, training, inplace, mask_shape)


def dropout1d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Zero whole channels of (N, C, L) or (C, L) input with probability ``p``."""
    return _channel_dropout("dropout1d", input, p, training, inplace, 1)


def dropout2d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Zero whole channels (dim 1) of (N, C, H, W) input with probability ``p``.

    Other ranks follow PyTorch 2.13, with its warning: a 3-D input is read as (N, C, L) (not
    as unbatched (C, H, W)); a 2-D or 5-D+ input also drops per (dim 0, dim 1) entry.
    """
    _check_tensor("dropout2d", input)
    if input.ndim < 2:
        raise ValueError(
            f"dropout2d: feature dropout requires at least 2 dimensions in the input, got shape "
            f"{tuple(input.shape)}"
        )
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D "
            "dropout behavior is desired - input is interpreted as shape (N, C, L), where C is "
            "the channel dim. This behavior will change in a future release to interpret the "
            "input as one without a batch dimension, i.e. shape (C, H, W). To maintain the 1D "
            "channel-wise dropout behavior, please switch to using dropout1d instead.",
            UserWarning,
            stacklevel=2,
        )
    elif input.ndim != 4:
        warnings.warn(
            f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is deprecated and "
            "will result in an error in a future release. To retain the behavior and silence "
            "this warning, please use dropout instead. Note that dropout2d exists to provide "
            "channel-wise dropout on inputs with 2 spatial dimensions, a channel dimension, and "
            "an optional batch dimension (i.e. 3D or 4D inputs).",
            UserWarning,
            stacklevel=2,
        )
    mask_shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return _dropout("dropout2d", input, p, training, inplace, mask_shape)


# -- normalisation --------------------------------------------------------------------------
def _normalize(x: Tensor, dims: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """(normalised x, mean, biased variance) over ``dims`` (two passes, for accuracy)."""
    mean = x.mean(dims, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(dims, keepdim=True)
    return centered * (var + eps).rsqrt(), mean, var


def _channel_shape(x: Tensor) -> tuple[int, ...]:
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _check_channel_vectors(op: str, input: Tensor, **vectors: Tensor | None) -> None:
    """Each given per-channel vector must have one element per channel (dim 1), like torch."""
    c = input.shape[1]
    for name, v in vectors.items():
        if v is not None and v.numel() != c:
            raise ValueError(
                f"{op}: {name} should contain {c} elements not {v.numel()} (input of "
                f"shape {tuple(input.shape)} has {c} channels in dim 1)"
            )


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each channel (dim 1) by batch statistics (training) or running ones (eval).

    In training the running statistics are updated in place with ``momentum``; the running
    variance uses the unbiased batch variance, like PyTorch.
    """
    _check_tensor("batch_norm", input)
    if input.ndim < 2:
        raise ValueError(
            f"batch_norm: expected input of at least 2 dims (N, C, ...), got {tuple(input.shape)}"
        )
    _check_channel_vectors(
        "batch_norm",
        input,
        running_mean=running_mean,
        running_var=running_var,
        weight=weight,
        bias=bias,
    )
    shape = _channel_shape(input)
    if training or running_mean is None:
        count = input.numel() // input.shape[1]
        if training and count <= 1:
            raise ValueError(
                "batch_norm: expected more than 1 value per channel when training, got input "
                f"size {tuple(input.shape)}"
            )
        stats = batch_norm_stats(input)  # (mean, biased variance) per channel
        if training and running_mean is not None:
            with no_grad():
                unbiased = stats[1] * (count / max(count - 1, 1))
                running_mean.copy_(running_mean * (1 - momentum) + stats[0] * momentum)
                running_var.copy_(running_var * (1 - momentum) + unbiased * momentum)
        c = input.shape[1]
        weight = ones(c, dtype=input.dtype, device=input.device) if weight is None else weight
        bias = zeros(c, dtype=input.dtype, device=input.device) if bias is None else bias
        return batch_norm_train(input, stats, weight, bias, eps)
    centered = input - running_mean.reshape(shape)
    var = running_var.reshape(shape)
    # fold the weight into the per-channel scale: one full-size product (and its backward)
    scale = (var + eps).rsqrt()
    if weight is not None:
        scale = scale * weight.reshape(shape)
    out = centered * scale
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def _norm_shape(normalized_shape: Any) -> tuple[int, ...]:
    if isinstance(normalized_shape, (int, np.integer)):
        return (int(normalized_shape),)
    return tuple(int(s) for s in normalized_shape)


@autocast_op
@core.in_float32
def layer_norm(
    input: Tensor,
    normalized_shape: Sequence[int] | int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise over the trailing ``normalized_shape`` dims, then scale and shift."""
    _check_tensor("layer_norm", input)
    shape = _norm_shape(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(input.shape[input.ndim - k :]) != shape or input.ndim < k:
        raise ValueError(
            f"layer_norm: input of shape {tuple(input.shape)} does not end with "
            f"normalized_shape {shape}"
        )
    out = _normalize(input, tuple(range(input.ndim - k, input.ndim)), eps)[0]
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


@autocast_op
@core.in_float32
def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each group of ``C // num_groups`` channels per sample, then scale and shift."""
    _check_tensor("group_norm", input)
    if input.ndim < 2 or input.shape[1] % num_groups:
        raise ValueError(
            "group_norm: expected number of channels in input to be divisible by num_groups, "
            f"but got input of shape {tuple(input.shape)} and num_groups={num_groups}"
        )
    n = input.shape[0]
    grouped = input.reshape(n, num_groups, -1)
    out = _normalize(grouped, (2,), eps)[0].reshape(*input.shape)
    shape = _channel_shape(input)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalise each (sample, channel) of (N, C, *spatial) input over its spatial dims.

    With ``use_input_stats`` the running statistics (if given) move by ``momentum`` towards
    the batch average of the per-instance mean and unbiased variance; otherwise they are used.
    """
    _check_tensor("instance_norm", input)
    if input.ndim < 3:
        raise ValueError(
            f"instance_norm: expected input of at least 3 dims (N, C, *spatial), got "
            f"{tuple(input.shape)}"
        )
    _check_channel_vectors(
        "instance_norm",
        input,
        running_mean=running_mean,
        running_var=running_var,
        weight=weight,
        bias=bias,
    )
    shape = _channel_shape(input)
    if use_input_stats:
        count = input.numel() // max(input.shape[0] * input.shape[1], 1)
        if count <= 1:
            raise ValueError(
                "instance_norm: expected more than 1 spatial element when training, got input "
                f"size {tuple(input.shape)}"
            )
        out, mean, var = _normalize(input, tuple(range(2, input.ndim)), eps)
        if running_mean is not None:
            with no_grad():
                batch_mean = mean.reshape(input.shape[:2]).mean(0)
                batch_var = var.reshape(input.shape[:2]).mean(0) * (count / (count - 1))
                running_mean.copy_(running_mean * (1 - momentum) + batch_mean * momentum)
                running_var.copy_(running_var * (1 - momentum) + batch_var * momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError(
                "instance_norm: use_input_stats=False needs running_mean and running_var"
            )
        centered = input - running_mean.reshape(shape)
        out = centered * (running_var.reshape(shape) + eps).rsqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


@autocast_op
def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(‖x‖_p, eps) along ``dim``."""
    _check_tensor("normalize", input)
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps)


@autocast_op
def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """x1·x2 / (max(‖x1‖, eps) · max(‖x2‖, eps)) along ``dim`` (inputs broadcast)."""
    n1 = x1.norm(2, dim, keepdim=True).clamp(min=eps)
    n2 = x2.norm(2, dim, keepdim=True).clamp(min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


# -- embedding / one-hot --------------------------------------------------------------------
def _check_indices(op: str, input: Tensor) -> None:
    _check_tensor(op, input)
    if input.dtype.is_floating_point or input.dtype is dtypes.bool_:
        raise TypeError(f"{op}: expected an integer index tensor, got {input.dtype.name}")


def _renorm_rows(weight: Tensor, input: Tensor, max_norm: float, norm_type: float) -> None:
    """Rescale (in place) the looked-up rows whose ``norm_type`` norm exceeds ``max_norm``."""
    rows = np.unique(input.numpy())
    idx = from_host(rows.astype(np.int64), device=weight.device)
    with no_grad():
        selected = weight[idx]
        norms = selected.norm(norm_type, -1, keepdim=True)
        scale = where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
        weight[idx] = selected * scale


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of ``weight`` selected by the integer ``input``; ``padding_idx`` gets no gradient."""
    _check_indices("embedding", input)
    if scale_grad_by_freq or sparse:
        raise ValueError("embedding: scale_grad_by_freq and sparse are not supported by ember")
    num = weight.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(
                f"embedding: padding_idx must be within num_embeddings: {padding_idx} vs {num}"
            )
        padding_idx %= num
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    out = weight[input]
    if padding_idx is not None and out.requires_grad:
        keep = (input != padding_idx).unsqueeze(-1)
        out = where(keep, out, out.detach())
    return out


def _bag_layout(
    op: str, input: Tensor, offsets: Tensor | None, include_last_offset: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(flat indices, (bags, longest bag) positions into them, -1 past a bag's end) of
    2-D input (one bag per row) or 1-D input cut at ``offsets``."""
    values = input.numpy().astype(np.int64)
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{op}: offsets must be None for 2-D input, got {offsets!r}")
        return values.reshape(-1), np.arange(values.size).reshape(values.shape)
    if input.ndim != 1 or offsets is None or offsets.ndim != 1:
        raise ValueError(
            f"{op}: expected 2-D input, or 1-D input with 1-D offsets, got input of shape "
            f"{tuple(input.shape)} and offsets {None if offsets is None else tuple(offsets.shape)}"
        )
    _check_indices(op, offsets)
    bounds = offsets.numpy().astype(np.int64)
    if not include_last_offset:
        bounds = np.append(bounds, values.size)
    if bounds.size < 2 or bounds[0] != 0 or bounds[-1] > values.size or (np.diff(bounds) < 0).any():
        raise ValueError(
            f"{op}: offsets must start at 0 and not decrease, within the input's length "
            f"{values.size}; got {offsets.tolist()}"
        )
    lengths = np.diff(bounds)
    steps = np.arange(int(lengths.max(initial=0)))
    positions = bounds[:-1, None] + steps
    return values, np.where(steps < lengths[:, None], positions, -1)


def embedding_bag(
    input: Tensor,
    weight: Tensor,
    offsets: Tensor | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> Tensor:
    """Sum, mean or max of the ``weight`` rows of each bag of indices, without materialising
    the per-index embeddings of ``embedding``: (bags, embedding_dim). Bags are the rows of
    2-D input, or 1-D input cut at ``offsets``; ``padding_idx`` entries are skipped and
    empty bags give zeros."""
    op = "embedding_bag"
    _check_indices(op, input)
    if scale_grad_by_freq or sparse:
        raise ValueError(f"{op}: scale_grad_by_freq and sparse are not supported by ember")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{op}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise ValueError(f"{op}: per_sample_weights is only supported for mode='sum'")
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ValueError(
                f"{op}: per_sample_weights must have the input's shape {tuple(input.shape)}, "
                f"got {tuple(per_sample_weights.shape)}"
            )
    if weight.ndim != 2:
        raise ValueError(f"{op}: weight must be 2-D, got shape {tuple(weight.shape)}")
    num = weight.shape[0]
    flat, positions = _bag_layout(op, input, offsets, include_last_offset)
    if flat.size and (flat.min() < 0 or flat.max() >= num):
        raise IndexError(f"{op}: an index is outside the {num} rows of weight")
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(f"{op}: padding_idx must be within num_embeddings: {padding_idx}")
        padding_idx %= num
    if max_norm is not None:
        _renorm_rows(weight, input, max_norm, norm_type)
    taken = positions >= 0
    if padding_idx is not None:
        taken &= flat[np.maximum(positions, 0)] != padding_idx
    rows = from_host(flat[np.maximum(positions, 0)], device=weight.device)
    gathered = weight[rows]  # (bags, longest, dim)
    mask = from_host(taken[..., None], device=weight.device)
    if mode == "max":
        out = where(mask, gathered, -math.inf).amax(1) if positions.shape[1] else gathered.sum(1)
        return where(from_host(taken.any(1)[:, None], device=weight.device), out, 0.0)
    scale = from_host(taken.astype(weight.dtype.np), device=weight.device)
    if mode == "mean":
        scale = scale / from_host(
            np.maximum(taken.sum(1, keepdims=True), 1).astype(weight.dtype.np), device=weight.device
        )
    if per_sample_weights is not None:
        psw = per_sample_weights.reshape(-1)[
            from_host(np.maximum(positions, 0), device=weight.device)
        ]
        scale = scale * psw
    return (gathered * scale.unsqueeze(-1)).sum(1)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding along a new last dim (``num_classes = -1``: max + 1)."""
    _check_indices("one_hot", tensor)
    values = tensor.numpy()
    if values.size and values.min() < 0:
        raise ValueError("one_hot: class values must be non-negative")
    if num_classes == -1:
        num_classes = int(values.max()) + 1 if values.size else 0
    elif values.size and values.max() >= num_classes:
        raise ValueError(
            f"one_hot: class values must be smaller than num_classes: {int(values.max())} vs "
            f"{num_classes}"
        )
    classes = arange(num_classes, device=tensor.device)
    return (tensor.unsqueeze(-1) == classes).long()


# -- pixel shuffle --------------------------------------------------------------------------
def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C·r², H, W) → (*, C, H·r, W·r): channel blocks become r×r spatial blocks."""
    _check_tensor("pixel_shuffle", input)
    r = int(upscale_factor)
    if input.ndim < 3 or r <= 0 or input.shape[-3] % (r * r):
        raise ValueError(
            "pixel_shuffle: expects a (*, C, H, W) input whose 'channel' dimension is divisible "
            f"by the square of upscale_factor={r}, got shape {tuple(input.shape)}"
        )
    *lead, c, h, w = input.shape
    n = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)  # (*, C, H, r, W, r)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H·r, W·r) → (*, C·r², H, W): the inverse of ``pixel_shuffle``."""
    _check_tensor("pixel_unshuffle", input)
    r = int(downscale_factor)
    if input.ndim < 3 or r <= 0 or input.shape[-2] % r or input.shape[-1] % r:
        raise ValueError(
            "pixel_unshuffle: expects a (*, C, H, W) input whose height and width are divisible "
            f"by downscale_factor={r}, got shape {tuple(input.shape)}"
        )
    *lead, c, h, w = input.shape
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)  # (*, C, r, r, H, W)
    return x.reshape(*lead, c * r * r, h // r, w // r)


# -- interpolation --------------------------------------------------------------------------
_INTERP_DIMS = {"nearest": None, "linear": 1, "bilinear": 2}


def _interp_geometry(
    x: Tensor, size: Any, scale_factor: Any, recompute_scale_factor: bool | None
) -> tuple[list[int], list[float | None]]:
    """Output sizes and the scale factors to use in the source-index formulas."""
    nd = x.ndim - 2
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: exactly one of size or scale_factor should be defined")
    if size is not None:
        sizes = [int(size)] * nd if isinstance(size, (int, np.integer)) else [int(s) for s in size]
        if len(sizes) != nd:
            raise ValueError(
                f"interpolate: size {tuple(sizes)} must have {nd} entries for input of shape "
                f"{tuple(x.shape)}"
            )
        return sizes, [None] * nd
    scales = (
        [float(scale_factor)] * nd
        if isinstance(scale_factor, (int, float))
        else [float(s) for s in scale_factor]
    )
    if len(scales) != nd:
        raise ValueError(
            f"interpolate: scale_factor {tuple(scales)} must have {nd} entries for input of "
            f"shape {tuple(x.shape)}"
        )
    sizes = [math.floor(n * s) for n, s in zip(x.shape[2:], scales)]
    return sizes, ([None] * nd if recompute_scale_factor else scales)


def _source_scale(n_in: int, n_out: int, scale: float | None, align_corners: bool) -> float:
    if align_corners:
        return (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    return 1.0 / scale if scale else n_in / n_out


def _nearest_along(x: Tensor, dim: int, n_out: int, scale: float | None) -> Tensor:
    n_in = x.shape[dim]
    src = np.floor(np.arange(n_out) * _source_scale(n_in, n_out, scale, False))
    idx = np.minimum(src.astype(np.int64), n_in - 1)
    return index_select(x, dim, from_host(idx, device=x.device))


def _linear_along(
    x: Tensor, dim: int, n_out: int, scale: float | None, align_corners: bool
) -> Tensor:
    n_in = x.shape[dim]
    ratio = _source_scale(n_in, n_out, scale, align_corners)
    dst = np.arange(n_out, dtype=np.float64)
    src = dst * ratio if align_corners else np.maximum((dst + 0.5) * ratio - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = (src - i0).reshape((n_out,) + (1,) * (x.ndim - 1 - dim))
    x0 = index_select(x, dim, from_host(i0, device=x.device))
    x1 = index_select(x, dim, from_host(i1, device=x.device))
    return x0 + (x1 - x0) * from_host(lam.astype(x.dtype.np), device=x.device)


def interpolate(
    input: Tensor,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize the spatial dims of (N, C, *spatial) input: 'nearest', 'linear' or 'bilinear'."""
    _check_tensor("interpolate", input)
    if mode not in _INTERP_DIMS:
        raise ValueError(
            f"interpolate: mode {mode!r} is not supported by ember: expected one of "
            f"{sorted(_INTERP_DIMS)}"
        )
    if antialias:
        raise ValueError("interpolate: antialias=True is not supported by ember")
    expected = _INTERP_DIMS[mode]
    if input.ndim < 3 or (expected is not None and input.ndim != expected + 2):
        raise ValueError(
            f"interpolate: mode {mode!r} expects a {(expected or 1) + 2}-D (N, C, *spatial) "
            f"input, got shape {tuple(input.shape)}"
        )
    if mode == "nearest" and align_corners is not None:
        raise ValueError(
            "interpolate: align_corners option can only be set with the interpolating modes: "
            "linear | bilinear"
        )
    sizes, scales = _interp_geometry(input, size, scale_factor, recompute_scale_factor)
    out = input
    for i, (n_out, scale) in enumerate(zip(sizes, scales)):
        dim = 2 + i
        if mode == "nearest":
            out = _nearest_along(out, dim, n_out, scale)
        else:
            out = _linear_along(out, dim, n_out, scale, bool(align_corners))
    return out


# -- attention ------------------------------------------------------------------------------
@autocast_op
def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
) -> Tensor:
    """softmax(q kᵀ · scale + mask) v over (..., L, E) queries and (..., S, E) keys.

    A bool ``attn_mask`` marks the positions that may be attended (True = keep); a float one
    is added to the scores. ``is_causal`` masks the upper triangle.
    """
    _check_tensor("scaled_dot_product_attention", query)
    if is_causal and attn_mask is not None:
        raise ValueError(
            "scaled_dot_product_attention: explicit attn_mask should not be set when is_causal=True"
        )
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(
            f"scaled_dot_product_attention: query and key embedding sizes differ: "
            f"{query.shape[-1]} vs {key.shape[-1]}"
        )
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = (query @ key.mT) * scale
    n_q, n_k = query.shape[-2], key.shape[-2]
    if is_causal:
        attn_mask = ones(n_q, n_k, dtype=dtypes.bool_, device=query.device).tril()
    if attn_mask is not None:
        if attn_mask.dtype is dtypes.bool_:
            scores = scores.masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            scores = scores + attn_mask
    weights = softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p)
    return weights @ value


# -- more activations -----------------------------------------------------------------------
def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, else 0 (soft thresholding)."""
    _check_tensor("softshrink", input)
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be non-negative, got {lambd}")
    return where(input > lambd, input - lambd, where(input < -lambd, input + lambd, 0.0))


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    _check_tensor("tanhshrink", input)
    return input - tanh(input)


def rrelu(
    input: Tensor,
    lower: float = 1.0 / 8,
    upper: float = 1.0 / 3,
    training: bool = False,
    inplace: bool = False,
) -> Tensor:
    """Leaky ReLU whose negative slope is drawn from U(lower, upper) per element when
    training, and is (lower + upper) / 2 otherwise."""
    _check_tensor("rrelu", input)
    if not 0 <= lower <= upper:
        raise ValueError(f"rrelu: expected 0 <= lower <= upper, got lower={lower}, upper={upper}")
    if not training:
        return leaky_relu(input, (lower + upper) / 2, inplace)
    dtype = input.dtype.np
    shape = tuple(input.shape)
    slope = random.sample(
        lambda rng: rng.uniform(lower, upper, shape).astype(dtype), device=input.device
    )
    return _maybe_inplace(input, inplace, lambda x: where(x >= 0, x, x * slope), "rrelu")


def _inplace_form(fn: Any, name: str) -> Any:
    """``fn(input, *args, inplace=True)`` under the name ``name`` (PyTorch's ``F.<op>_``)."""

    def inplace_fn(input: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return fn(input, *args, **kwargs, inplace=True)

    inplace_fn.__name__ = inplace_fn.__qualname__ = name
    inplace_fn.__doc__ = f"In-place {fn.__name__}: writes the result into ``input``."
    return inplace_fn


elu_ = _inplace_form(elu, "elu_")
celu_ = _inplace_form(celu, "celu_")
selu_ = _inplace_form(selu, "selu_")
leaky_relu_ = _inplace_form(leaky_relu, "leaky_relu_")
hardtanh_ = _inplace_form(hardtanh, "hardtanh_")
threshold_ = _inplace_form(threshold, "threshold_")
rrelu_ = _inplace_form(rrelu, "rrelu_")


def gumbel_softmax(
    logits: Tensor, tau: float = 1.0, hard: bool = False, eps: float = 1e-10, dim: int = -1
) -> Tensor:
    """softmax((logits + Gumbel noise) / tau); with ``hard`` the one-hot of its argmax in the
    forward pass and the soft sample's gradient (straight-through)."""
    _check_tensor("gumbel_softmax", logits)
    if eps != 1e-10:
        warnings.warn("gumbel_softmax: eps is deprecated and has no effect", UserWarning, 2)
    shape, dtype = tuple(logits.shape), logits.dtype.np
    gumbels = random.sample(
        lambda rng: -np.log(rng.exponential(size=shape)).astype(dtype), device=logits.device
    )
    soft = softmax((logits + gumbels) / tau, dim)
    if not hard:
        return soft
    index = soft.argmax(dim, keepdim=True)
    one_hot_ = zeros(*shape, dtype=logits.dtype, device=logits.device).scatter(dim, index, 1.0)
    return one_hot_ - soft.detach() + soft


# -- more dropout ---------------------------------------------------------------------------
def dropout3d(
    input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
) -> Tensor:
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability ``p``."""
    return _channel_dropout("dropout3d", input, p, training, inplace, 3)


_ALPHA = _SELU_ALPHA * _SELU_SCALE  # SELU's negative saturation value is -_ALPHA


def _alpha_dropout(
    op: str, x: Tensor, p: float, training: bool, inplace: bool, mask_shape: tuple
) -> Tensor:
    """Dropped units are set to SELU's saturation value, then an affine map restores the
    mean and variance of a standard-normal input (self-normalising networks)."""
    _check_tensor(op, x)
    _check_p(op, p)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return _maybe_inplace(x, inplace, lambda t: t * 0.0, op)
    a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
    keep = _keep_mask(x, mask_shape, p) * (1 - p)  # 1 kept, 0 dropped
    shift = (keep - 1.0) * (_ALPHA * a) + _ALPHA * a * p
    return _maybe_inplace(x, inplace, lambda t: t * (keep * a) + shift, op)


def alpha_dropout(
    input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
) -> Tensor:
    """Dropout for SELU networks: keeps the input's mean and variance (training only)."""
    return _alpha_dropout("alpha_dropout", input, p, training, inplace, tuple(input.shape))


def feature_alpha_dropout(
    input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
) -> Tensor:
    """Alpha dropout of whole channels (dim 1) of (N, C, *) input."""
    _check_tensor("feature_alpha_dropout", input)
    if input.ndim < 2:
        raise ValueError(
            "feature_alpha_dropout: expected an input with at least 2 dims (N, C, *), got "
            f"shape {tuple(input.shape)}"
        )
    shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2)
    return _alpha_dropout("feature_alpha_dropout", input, p, training, inplace, shape)


# -- distances and more normalisation -------------------------------------------------------
def pairwise_distance(
    x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False
) -> Tensor:
    """‖x1 - x2 + eps‖_p along the last dim (inputs broadcast)."""
    _check_tensor("pairwise_distance", x1)
    _check_tensor("pairwise_distance", x2)
    dim = -1 if max(x1.ndim, x2.ndim) else None
    return (x1 - x2 + eps).norm(p, dim, keepdim=keepdim)


@autocast_op
def pdist(input: Tensor, p: float = 2.0) -> Tensor:
    """The p-norm distance of every pair of rows i < j of an (N, M) input, as N(N-1)/2 values."""
    _check_tensor("pdist", input)
    if input.ndim != 2:
        raise ValueError(f"pdist: expected a 2-D input, got shape {tuple(input.shape)}")
    i, j = np.triu_indices(input.shape[0], 1)
    rows_i = index_select(input, 0, from_host(i.astype(np.int64), device=input.device))
    rows_j = index_select(input, 0, from_host(j.astype(np.int64), device=input.device))
    return (rows_i - rows_j).norm(p, -1)


def rms_norm(
    input: Tensor,
    normalized_shape: Sequence[int] | int,
    weight: Tensor | None = None,
    eps: float | None = None,
) -> Tensor:
    """x / sqrt(mean(x²) + eps) over the trailing ``normalized_shape`` dims, times ``weight``;
    ``eps`` defaults to the dtype's machine epsilon."""
    _check_tensor("rms_norm", input)
    shape = _norm_shape(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k :]) != shape:
        raise ValueError(
            f"rms_norm: input of shape {tuple(input.shape)} does not end with "
            f"normalized_shape {shape}"
        )
    eps = float(np.finfo(input.dtype.np).eps) if eps is None else eps
    dims = tuple(range(input.ndim - k, input.ndim))
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return out if weight is None else out * weight


def local_response_norm(
    input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> Tensor:
    """x / (k + alpha * mean of x² over ``size`` neighbouring channels) ** beta (AlexNet)."""
    _check_tensor("local_response_norm", input)
    if input.ndim < 3:
        raise ValueError(
            f"local_response_norm: expected an input of at least 3 dims (N, C, *), got shape "
            f"{tuple(input.shape)}"
        )
    c = input.shape[1]
    sq = (input * input).movedim(1, -1)
    padded = pad(sq, (size // 2, (size - 1) // 2))
    window = sum(padded[..., o : o + c] for o in range(size)) / size
    return input / (window.movedim(-1, 1) * alpha + k) ** beta


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """Interleave the channels (dim 1) of ``groups`` groups: (N, g·k, *) read as (N, k, g, *)."""
    _check_tensor("channel_shuffle", input)
    if groups <= 0 or input.ndim < 3 or input.shape[1] % groups:
        raise ValueError(
            f"channel_shuffle: expected an (N, C, *) input with C divisible by groups={groups}, "
            f"got shape {tuple(input.shape)}"
        )
    n, c, *rest = input.shape
    x = input.reshape(n, groups, c // groups, *rest).transpose(1, 2)
    return x.reshape(n, c, *rest)


native_channel_shuffle = channel_shuffle


# -- pooling with indices, Lp, adaptive max and unpooling -----------------------------------
def max_pool1d_with_indices(input: Tensor, *args: Any, **kwargs: Any) -> tuple[Tensor, Tensor]:
    """``max_pool1d(..., return_indices=True)``: values and flat indices of the maxima."""
    return max_pool1d(input, *args, **{**kwargs, "return_indices": True})


def max_pool2d_with_indices(input: Tensor, *args: Any, **kwargs: Any) -> tuple[Tensor, Tensor]:
    """``max_pool2d(..., return_indices=True)``: values and flat indices of the maxima."""
    return max_pool2d(input, *args, **{**kwargs, "return_indices": True})


def max_pool3d_with_indices(input: Tensor, *args: Any, **kwargs: Any) -> tuple[Tensor, Tensor]:
    """``max_pool3d(..., return_indices=True)``: values and flat indices of the maxima."""
    return max_pool3d(input, *args, **{**kwargs, "return_indices": True})


def _lp_pool(
    op: str, nd: int, input: Tensor, norm_type: float, kernel_size: Any, stride: Any, ceil: bool
) -> Tensor:
    """(sum over each window of x ** p) ** (1 / p)."""
    _check_tensor(op, input)
    kernel = (kernel_size,) * nd if isinstance(kernel_size, int) else tuple(kernel_size)
    pool = {1: avg_pool1d, 2: avg_pool2d, 3: avg_pool3d}[nd]
    mean = pool(input.pow(norm_type), kernel, stride, 0, ceil)
    return (mean * math.prod(kernel)).pow(1.0 / norm_type)


def lp_pool1d(
    input: Tensor, norm_type: float, kernel_size: int, stride: Any = None, ceil_mode: bool = False
) -> Tensor:
    """Power-average pooling over (N, C, L): p = inf is max pooling, p = 1 sum pooling."""
    return _lp_pool("lp_pool1d", 1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(
    input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False
) -> Tensor:
    """Power-average pooling over (N, C, H, W)."""
    return _lp_pool("lp_pool2d", 2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(
    input: Tensor, norm_type: float, kernel_size: Any, stride: Any = None, ceil_mode: bool = False
) -> Tensor:
    """Power-average pooling over (N, C, D, H, W)."""
    return _lp_pool("lp_pool3d", 3, input, norm_type, kernel_size, stride, ceil_mode)


def _adaptive_windows(n: int, m: int) -> np.ndarray:
    """(m, widest) input indices of PyTorch's adaptive windows [floor(i n/m), ceil((i+1) n/m)),
    short windows padded with their own last index (a repeat never changes a max)."""
    i = np.arange(m)
    start, end = (i * n) // m, -((-(i + 1) * n) // m)
    offsets = np.arange(int((end - start).max()))
    return np.minimum(start[:, None] + offsets, end[:, None] - 1)


def _adaptive_max(op: str, nd: int, input: Tensor, output_size: Any, return_indices: bool) -> Any:
    _check_tensor(op, input)
    if input.ndim not in (nd + 1, nd + 2):
        raise ValueError(
            f"{op}: expected a {nd + 1}-D or {nd + 2}-D input, got shape {tuple(input.shape)}"
        )
    spatial = tuple(input.shape[-nd:])
    sizes = (output_size,) * nd if isinstance(output_size, int) else tuple(output_size)
    sizes = tuple(n if m is None else int(m) for n, m in zip(spatial, sizes))
    if len(sizes) != nd or min(sizes) <= 0:
        raise ValueError(f"{op}: output_size must be {nd} positive sizes, got {output_size}")
    windows = [_adaptive_windows(n, m) for n, m in zip(spatial, sizes)]
    # flat index into the plane of every (output position, window element), then gather:
    # dim i's windows broadcast along output axis i and window axis nd + i
    flat = np.zeros((1,) * 2 * nd, dtype=np.int64)
    for i, (n, w) in enumerate(zip(spatial, windows)):
        shape = [1] * 2 * nd
        shape[i], shape[nd + i] = w.shape
        flat = flat * n + w.reshape(shape)
    flat = flat.reshape(*sizes, -1)
    lead = tuple(input.shape[:-nd])
    idx = from_host(flat.astype(np.int64), device=input.device)
    gathered = input.reshape(*lead, -1)[..., idx]  # (*lead, *out, window)
    values, arg = gathered.max(-1)
    if not return_indices:
        return values
    return values, idx.expand(*lead, *idx.shape).gather(-1, arg.unsqueeze(-1)).squeeze(-1)


def adaptive_max_pool1d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max over PyTorch's adaptive windows of (N, C, L) input, to ``output_size``."""
    return _adaptive_max("adaptive_max_pool1d", 1, input, output_size, return_indices)


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max over PyTorch's adaptive windows of (N, C, H, W) input (None keeps a size)."""
    return _adaptive_max("adaptive_max_pool2d", 2, input, output_size, return_indices)


@autocast_op
def adaptive_max_pool3d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max over PyTorch's adaptive windows of (N, C, D, H, W) input (None keeps a size)."""
    return _adaptive_max("adaptive_max_pool3d", 3, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input: Tensor, output_size: Any) -> tuple[Tensor, Tensor]:
    """``adaptive_max_pool1d`` with the flat indices of the maxima."""
    return adaptive_max_pool1d(input, output_size, return_indices=True)


def adaptive_max_pool2d_with_indices(input: Tensor, output_size: Any) -> tuple[Tensor, Tensor]:
    """``adaptive_max_pool2d`` with the flat indices of the maxima."""
    return adaptive_max_pool2d(input, output_size, return_indices=True)


def adaptive_max_pool3d_with_indices(input: Tensor, output_size: Any) -> tuple[Tensor, Tensor]:
    """``adaptive_max_pool3d`` with the flat indices of the maxima."""
    return adaptive_max_pool3d(input, output_size, return_indices=True)


def _max_unpool(
    op: str,
    nd: int,
    input: Tensor,
    indices: Tensor,
    kernel_size: Any,
    stride: Any,
    padding: Any,
    output_size: Any,
) -> Tensor:
    """Scatter each value to its flat ``indices`` position in a zero plane (the inverse of
    max pooling with ``return_indices``)."""
    _check_tensor(op, input)
    _check_indices(op, indices)
    if tuple(indices.shape) != tuple(input.shape) or input.ndim not in (nd + 1, nd + 2):
        raise ValueError(
            f"{op}: expected a {nd + 1}-D or {nd + 2}-D input with indices of its shape, got "
            f"{tuple(input.shape)} and {tuple(indices.shape)}"
        )

    def tup(v: Any) -> tuple[int, ...]:
        return (int(v),) * nd if isinstance(v, (int, np.integer)) else tuple(int(x) for x in v)

    kernel = tup(kernel_size)
    strides = kernel if stride is None else tup(stride)
    pads = tup(padding)
    spatial = tuple(input.shape[-nd:])
    default = tuple((n - 1) * s - 2 * p + k for n, s, p, k in zip(spatial, strides, pads, kernel))
    size = default if output_size is None else tuple(int(s) for s in output_size)[-nd:]
    if any(abs(s - d) >= st for s, d, st in zip(size, default, strides)):
        raise ValueError(
            f"{op}: output_size {size} must be within one stride of the default size {default}"
        )
    lead = tuple(input.shape[:-nd])
    flat_in, flat_idx = input.reshape(*lead, -1), indices.reshape(*lead, -1)
    plane = math.prod(size)
    if flat_idx.numel() and (int(flat_idx.min()) < 0 or int(flat_idx.max()) >= plane):
        raise ValueError(f"{op}: an index lies outside the output plane of size {size}")
    out = zeros(*lead, plane, dtype=input.dtype, device=input.device)
    return out.scatter(-1, flat_idx, flat_in).reshape(*lead, *size)


def max_unpool1d(
    input: Tensor,
    indices: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
) -> Tensor:
    """Partial inverse of ``max_pool1d``: the maxima at their positions, zeros elsewhere."""
    return _max_unpool("max_unpool1d", 1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(
    input: Tensor,
    indices: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
) -> Tensor:
    """Partial inverse of ``max_pool2d``: the maxima at their positions, zeros elsewhere."""
    return _max_unpool("max_unpool2d", 2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(
    input: Tensor,
    indices: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    output_size: Any = None,
) -> Tensor:
    """Partial inverse of ``max_pool3d``: the maxima at their positions, zeros elsewhere."""
    return _max_unpool("max_unpool3d", 3, input, indices, kernel_size, stride, padding, output_size)
