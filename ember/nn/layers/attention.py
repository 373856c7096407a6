"""Multi-head attention (PyTorch's ``nn.MultiheadAttention`` and its functional form).

Flow: project query/key/value (one fused ``in_proj_weight`` or three separate weights when the
key/value sizes differ) → optionally append ``bias_k``/``bias_v`` and a zero position → split
into heads → softmax(q kᵀ / sqrt(head_dim) + masks) → dropout → weighted values → merge heads
→ ``out_proj``. Masks follow PyTorch's MHA convention: a bool ``True`` marks a position that may
NOT be attended (the opposite of ``scaled_dot_product_attention``); a float mask is added.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from ember import dtypes
from ember.creation import zeros
from ember.nn import functional as F
from ember.nn import init
from ember.nn.layers._factory import new_parameter
from ember.nn.layers.linear import NonDynamicallyQuantizableLinear
from ember.nn.module import Module
from ember.ops.movement import cat, pad
from ember.tensor import Tensor

__all__ = ["MultiheadAttention", "multi_head_attention_forward"]

_OP = "multi_head_attention_forward"


def _additive_mask(mask: Tensor | None, name: str, dtype: Any) -> Tensor | None:
    """A bool mask (True = masked) becomes 0/-inf in ``dtype``; a float mask is kept."""
    if mask is None:
        return None
    if mask.dtype is dtypes.bool_:
        return zeros(*mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))
    if not mask.dtype.is_floating_point:
        raise TypeError(f"{_OP}: only bool and floating {name} are supported: {mask.dtype}")
    return mask


def _check_inputs(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    key_padding_mask: Tensor | None,
    attn_mask: Tensor | None,
    num_heads: int,
) -> bool:
    """Validate the (batched or unbatched) shapes; True when the inputs are batched."""
    if query.dim() not in (2, 3):
        raise ValueError(
            f"{_OP}: query should be 2-D (unbatched) or 3-D (batched): {query.dim()}-D"
        )
    batched = query.dim() == 3
    for name, t in (("key", key), ("value", value)):
        if t.dim() != query.dim():
            raise ValueError(
                f"{_OP}: {name} should have as many dims as query: {t.dim()} vs {query.dim()}"
            )
    if key.shape[:-1] != value.shape[:-1]:
        raise ValueError(
            f"{_OP}: key and value sequence/batch shapes differ: "
            f"{tuple(key.shape[:-1])} vs {tuple(value.shape[:-1])}"
        )
    if batched and key.shape[1] != query.shape[1]:
        raise ValueError(
            f"{_OP}: key and query batch sizes differ: {key.shape[1]} vs {query.shape[1]}"
        )
    tgt_len, src_len = query.shape[0], key.shape[0]
    if key_padding_mask is not None:
        expected = (query.shape[1], src_len) if batched else (src_len,)
        if tuple(key_padding_mask.shape) != expected:
            raise ValueError(
                f"{_OP}: key_padding_mask has the wrong shape: "
                f"{tuple(key_padding_mask.shape)} vs {expected}"
            )
    if attn_mask is not None:
        heads = num_heads * (query.shape[1] if batched else 1)
        allowed = ((tgt_len, src_len), (heads, tgt_len, src_len))
        if tuple(attn_mask.shape) not in allowed:
            raise ValueError(
                f"{_OP}: attn_mask has the wrong shape: {tuple(attn_mask.shape)} vs "
                f"{allowed[0]} or {allowed[1]}"
            )
    return batched


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask: Tensor | None = None,
    need_weights: bool = True,
    attn_mask: Tensor | None = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention over sequence-first inputs (L, N, E), or unbatched (L, E).

    Returns ``(attn_output, attn_weights)``; the weights are (N, L, S), or (N, H, L, S) with
    ``average_attn_weights=False``, or None when ``need_weights`` is False. ``is_causal`` is a
    hint as in PyTorch: ``attn_mask`` must still hold the causal mask.
    """
    batched = _check_inputs(query, key, value, key_padding_mask, attn_mask, num_heads)
    if is_causal and attn_mask is None:
        raise RuntimeError(
            f"{_OP}: need attn_mask if specifying the is_causal hint\n"
            "hint: build it with nn.Transformer.generate_square_subsequent_mask(L) or "
            "ember.ones(L, L, dtype=ember.bool).triu(1)"
        )
    if not batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    if embed_dim != embed_dim_to_check:
        raise ValueError(
            f"{_OP}: query embedding size differs from the module's: "
            f"{embed_dim} vs {embed_dim_to_check}"
        )
    head_dim = embed_dim // num_heads

    # Projections: (L, N, E) and (S, N, E).
    if use_separate_proj_weight:
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    else:
        w_q, w_k, w_v = in_proj_weight.chunk(3)
    b_q = b_k = b_v = None
    if in_proj_bias is not None:
        b_q, b_k, b_v = in_proj_bias.chunk(3)
    q, k, v = F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)

    dtype = q.dtype
    if (
        attn_mask is not None
        and key_padding_mask is not None
        and (attn_mask.dtype is dtypes.bool_) != (key_padding_mask.dtype is dtypes.bool_)
    ):
        warnings.warn(
            f"{_OP}: key_padding_mask is {key_padding_mask.dtype} but attn_mask is "
            f"{attn_mask.dtype}; PyTorch deprecates mixing bool and float masks\n"
            "hint: give both as bool (True = masked) or both as float (added to the scores)",
            UserWarning,
            stacklevel=2,
        )
    attn_mask = _additive_mask(attn_mask, "attn_mask", dtype)
    key_padding_mask = _additive_mask(key_padding_mask, "key_padding_mask", dtype)
    if bias_k is not None and bias_v is not None:
        k = cat([k, bias_k.expand(1, bsz, embed_dim)])
        v = cat([v, bias_v.expand(1, bsz, embed_dim)])
        attn_mask, key_padding_mask = _pad_masks(attn_mask, key_padding_mask)

    # Split heads: (N, H, L, D) and (N, H, S, D).
    q = q.reshape(tgt_len, bsz, num_heads, head_dim).permute(1, 2, 0, 3)
    k = k.reshape(k.shape[0], bsz, num_heads, head_dim).permute(1, 2, 0, 3)
    v = v.reshape(v.shape[0], bsz, num_heads, head_dim).permute(1, 2, 0, 3)
    if add_zero_attn:
        k, v = pad(k, (0, 0, 0, 1)), pad(v, (0, 0, 0, 1))
        attn_mask, key_padding_mask = _pad_masks(attn_mask, key_padding_mask)

    scores = (q * (1.0 / math.sqrt(head_dim))) @ k.mT  # (N, H, L, S)
    if attn_mask is not None:
        if attn_mask.dim() == 3:
            attn_mask = attn_mask.reshape(bsz, num_heads, tgt_len, attn_mask.shape[-1])
        scores = scores + attn_mask
    if key_padding_mask is not None:
        scores = scores + key_padding_mask.reshape(bsz, 1, 1, key_padding_mask.shape[-1])
    weights = F.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, dropout_p, training=training)
    out = (weights @ v).permute(2, 0, 1, 3).reshape(tgt_len, bsz, embed_dim)
    out = F.linear(out, out_proj_weight, out_proj_bias)

    if not need_weights:
        return (out if batched else out.squeeze(1)), None
    if average_attn_weights:
        weights = weights.mean(dim=1)
    return (out, weights) if batched else (out.squeeze(1), weights.squeeze(0))


def _pad_masks(
    attn_mask: Tensor | None, key_padding_mask: Tensor | None
) -> tuple[Tensor | None, Tensor | None]:
    """One more attendable (zero) key column for the appended bias_k or zero position."""
    return (
        None if attn_mask is None else pad(attn_mask, (0, 1)),
        None if key_padding_mask is None else pad(key_padding_mask, (0, 1)),
    )


class MultiheadAttention(Module):
    """Attention over ``num_heads`` subspaces of size ``embed_dim // num_heads``.

    Shape: query (L, N, E) or (N, L, E) with ``batch_first``, or unbatched (L, E); key (S, N,
    kdim), value (S, N, vdim) → output like query, weights (N, L, S) or (N, H, L, S).

    >>> import ember
    >>> mha = ember.nn.MultiheadAttention(8, 2, batch_first=True)
    >>> x = ember.randn(3, 5, 8)
    >>> [tuple(t.shape) for t in mha(x, x, x)]
    [(3, 5, 8), (3, 5, 5)]
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim must be a positive multiple of num_heads: "
                f"{embed_dim} vs {num_heads}"
            )
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        kw = {"device": device, "dtype": dtype}
        if self._qkv_same_embed_dim:
            self.in_proj_weight = new_parameter(3 * embed_dim, embed_dim, **kw)
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        else:
            self.q_proj_weight = new_parameter(embed_dim, embed_dim, **kw)
            self.k_proj_weight = new_parameter(embed_dim, self.kdim, **kw)
            self.v_proj_weight = new_parameter(embed_dim, self.vdim, **kw)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = new_parameter(3 * embed_dim, **kw)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, **kw)
        if add_bias_kv:
            self.bias_k = new_parameter(1, 1, embed_dim, **kw)
            self.bias_v = new_parameter(1, 1, embed_dim, **kw)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's init: Xavier-uniform projections, zero biases, Xavier-normal bias_k/v."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Tensor | None = None,
        need_weights: bool = True,
        attn_mask: Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        if self.batch_first and query.dim() == 3:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        out, weights = multi_head_attention_forward(
            query,
            key,
            value,
            self.embed_dim,
            self.num_heads,
            self.in_proj_weight,
            self.in_proj_bias,
            self.bias_k,
            self.bias_v,
            self.add_zero_attn,
            self.dropout,
            self.out_proj.weight,
            self.out_proj.bias,
            training=self.training,
            key_padding_mask=key_padding_mask,
            need_weights=need_weights,
            attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight,
            k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight,
            average_attn_weights=average_attn_weights,
            is_causal=is_causal,
        )
        if self.batch_first and query.dim() == 3:
            out = out.transpose(0, 1)
        return out, weights

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
            f"batch_first={self.batch_first}"
        )
