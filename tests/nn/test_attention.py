"""MultiheadAttention and the Transformer layers vs torch: outputs, attention weights, and the
gradients of every input and parameter, from the same state_dict."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import ember
from tests.nn.helpers import close, load_from_torch

R = np.random.default_rng(0)
L, S, N, E, H = 4, 5, 3, 8, 2


def x(*shape: int) -> np.ndarray:
    return R.standard_normal(shape)


def causal(n: int, m: int | None = None) -> np.ndarray:
    """PyTorch MHA convention: True above the diagonal = may not attend."""
    return np.triu(np.ones((n, m or n), dtype=bool), 1)


def float_mask(mask: np.ndarray) -> np.ndarray:
    return np.where(mask, -np.inf, 0.0)


def padding(batch: int = N, src: int = S) -> np.ndarray:
    """Pads the tail of every sequence but the first (never a whole row)."""
    kpm = np.zeros((batch, src), dtype=bool)
    for b in range(1, batch):
        kpm[b, src - b :] = True
    return kpm


def make(cls: str, *args: Any, dtype: str = "float64", **kwargs: Any) -> tuple[Any, Any]:
    """The ember and torch modules, with torch's initial state copied into ember's."""
    torch.manual_seed(0)
    tm = getattr(torch.nn, cls)(*args, **kwargs).to(getattr(torch, dtype))
    em = getattr(ember.nn, cls)(*args, **kwargs).to(getattr(ember, dtype))
    load_from_torch(em, tm)
    return em, tm


def compare(
    em: Any,
    tm: Any,
    inputs: list[np.ndarray],
    dtype: str = "float64",
    **kwargs: Any,
) -> None:
    """Every output (attention weights included) and every input/parameter gradient."""
    tdt, edt = getattr(torch, dtype), getattr(ember, dtype)
    t_in = [torch.tensor(a, dtype=tdt, requires_grad=True) for a in inputs]
    e_in = [ember.tensor(a, dtype=edt, requires_grad=True) for a in inputs]

    def conv(v: Any, lib: Any, dt: Any) -> Any:
        if not isinstance(v, np.ndarray):
            return v
        return lib.tensor(v) if v.dtype == bool else lib.tensor(v, dtype=dt)

    t_out = tm(*t_in, **{k: conv(v, torch, tdt) for k, v in kwargs.items()})
    e_out = em(*e_in, **{k: conv(v, ember, edt) for k, v in kwargs.items()})
    t_outs = t_out if isinstance(t_out, tuple) else (t_out,)
    e_outs = e_out if isinstance(e_out, tuple) else (e_out,)
    t_loss = e_loss = 0
    for i, (eo, to) in enumerate(zip(e_outs, t_outs)):
        assert (eo is None) == (to is None), f"output {i}: None in one framework only"
        if to is None:
            continue
        close(eo, to, dtype, f"output {i}")
        cot = R.standard_normal(tuple(to.shape))
        t_loss = t_loss + (to * torch.tensor(cot, dtype=tdt)).sum()
        e_loss = e_loss + (eo * ember.tensor(cot, dtype=edt)).sum()
    t_loss.backward()
    e_loss.backward()
    for i, (ei, ti) in enumerate(zip(e_in, t_in)):
        close(ei.grad, ti.grad, dtype, f"grad of input {i}")
    t_params = dict(tm.named_parameters())
    assert [n for n, _ in em.named_parameters()] == list(t_params)
    for name, p in em.named_parameters():
        close(p.grad, t_params[name].grad, dtype, f"grad of {name}")


# (id, constructor kwargs, inputs, forward kwargs)
MHA_CASES = [
    ("seq_first", {}, [x(L, N, E), x(S, N, E), x(S, N, E)], {}),
    ("batch_first", {"batch_first": True}, [x(N, L, E), x(N, S, E), x(N, S, E)], {}),
    ("self_attention", {}, [x(L, N, E)] * 3, {}),
    ("key_padding_bool", {}, [x(L, N, E), x(S, N, E), x(S, N, E)], {"key_padding_mask": padding()}),
    (
        "key_padding_float",
        {"batch_first": True},
        [x(N, L, E), x(N, S, E), x(N, S, E)],
        {"key_padding_mask": float_mask(padding())},
    ),
    ("causal_bool", {}, [x(L, N, E)] * 3, {"attn_mask": causal(L)}),
    ("causal_float", {}, [x(L, N, E)] * 3, {"attn_mask": float_mask(causal(L))}),
    ("additive_float", {}, [x(L, N, E), x(S, N, E), x(S, N, E)], {"attn_mask": x(L, S)}),
    (
        "is_causal_hint",
        {"batch_first": True},
        [x(N, L, E)] * 3,
        {"attn_mask": causal(L), "is_causal": True, "need_weights": False},
    ),
    (
        "causal_and_padding",
        {},
        [x(L, N, E)] * 3,
        {"attn_mask": causal(L), "key_padding_mask": padding(N, L)},
    ),
    (
        "mask_3d",
        {},
        [x(L, N, E), x(S, N, E), x(S, N, E)],
        {
            "attn_mask": np.stack([causal(L, S), R.random((L, S)) < 0.3] * N)
            & ~np.eye(L, S, dtype=bool)
        },
    ),
    ("kdim_vdim", {"kdim": 3, "vdim": 6}, [x(L, N, E), x(S, N, 3), x(S, N, 6)], {}),
    (
        "kdim_vdim_masked",
        {"kdim": 3, "vdim": 6, "batch_first": True},
        [x(N, L, E), x(N, S, 3), x(N, S, 6)],
        {"key_padding_mask": padding(), "average_attn_weights": False},
    ),
    ("no_weights", {}, [x(L, N, E), x(S, N, E), x(S, N, E)], {"need_weights": False}),
    ("per_head_weights", {}, [x(L, N, E)] * 3, {"average_attn_weights": False}),
    ("no_bias", {"bias": False}, [x(L, N, E), x(S, N, E), x(S, N, E)], {}),
    (
        "bias_kv_zero_attn",
        {"add_bias_kv": True, "add_zero_attn": True},
        [x(L, N, E), x(S, N, E), x(S, N, E)],
        {"key_padding_mask": float_mask(padding()), "attn_mask": float_mask(causal(L, S))},
    ),
    ("unbatched", {}, [x(L, E), x(S, E), x(S, E)], {"key_padding_mask": padding(2)[1]}),
    (
        "unbatched_3d_mask",
        {"batch_first": True},
        [x(L, E)] * 3,
        {"attn_mask": np.stack([causal(L)] * H), "average_attn_weights": False},
    ),
]


@pytest.mark.parametrize(
    "kwargs, inputs, fwd", [c[1:] for c in MHA_CASES], ids=[c[0] for c in MHA_CASES]
)
def test_multihead_attention_matches_torch(kwargs, inputs, fwd):
    em, tm = make("MultiheadAttention", E, H, **kwargs)
    compare(em, tm, inputs, **fwd)


def test_multihead_attention_float32():
    em, tm = make("MultiheadAttention", E, H, batch_first=True, dtype="float32")
    compare(em, tm, [x(N, L, E)] * 3, dtype="float32", attn_mask=causal(L))


def test_multihead_attention_dropout_is_off_in_eval():
    em, tm = make("MultiheadAttention", E, H, dropout=0.5)
    em.eval(), tm.eval()
    compare(em, tm, [x(L, N, E), x(S, N, E), x(S, N, E)])


def test_multihead_attention_dropout_trains():
    em = ember.nn.MultiheadAttention(E, H, dropout=0.5, batch_first=True)
    q = ember.randn(N, L, E)
    _, w = em(q, q, q, average_attn_weights=False)
    kept = w.detach().numpy()
    # Dropout zeroes about half the weights and scales the rest by 2: row sums leave 1.
    assert (kept == 0).mean() > 0.2
    assert not np.allclose(kept.sum(-1), 1.0)


def test_multihead_attention_init_and_layout_match_torch():
    ours = ember.nn.MultiheadAttention(16, 4, kdim=3, add_bias_kv=True)
    theirs = torch.nn.MultiheadAttention(16, 4, kdim=3, add_bias_kv=True)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in theirs.named_parameters()
    ]
    assert ours.in_proj_weight is None and ours.q_proj_weight is not None
    assert not ours.in_proj_bias.detach().numpy().any()
    assert not ours.out_proj.bias.detach().numpy().any()
    bound = np.sqrt(6 / (16 + 3))  # Xavier-uniform of the (16, 3) key projection
    k = ours.k_proj_weight.detach().numpy()
    assert np.abs(k).max() <= bound and k.std() > bound / 3
    fused = ember.nn.MultiheadAttention(16, 4).in_proj_weight.detach().numpy()
    assert np.abs(fused).max() <= np.sqrt(6 / (16 + 48))


def test_multihead_attention_errors():
    with pytest.raises(
        ValueError, match="embed_dim must be a positive multiple of num_heads: 10 vs 3"
    ):
        ember.nn.MultiheadAttention(10, 3)
    mha = ember.nn.MultiheadAttention(E, H)
    q = ember.randn(L, N, E)
    with pytest.raises(RuntimeError, match="need attn_mask if specifying the is_causal hint"):
        mha(q, q, q, is_causal=True)
    with pytest.raises(ValueError, match=r"attn_mask has the wrong shape: \(4, 3\) vs \(4, 4\)"):
        mha(q, q, q, attn_mask=ember.zeros(4, 3))
    with pytest.raises(
        ValueError, match=r"key_padding_mask has the wrong shape: \(4, 3\) vs \(3, 4\)"
    ):
        mha(q, q, q, key_padding_mask=ember.zeros(4, 3, dtype=ember.bool))
    with pytest.raises(TypeError, match="only bool and floating attn_mask are supported"):
        mha(q, q, q, attn_mask=ember.zeros(L, L, dtype=ember.int64))
    with pytest.raises(ValueError, match="query should be 2-D"):
        mha(ember.randn(1, L, N, E), q, q)
    with pytest.raises(ValueError, match="key should have as many dims as query: 2 vs 3"):
        mha(q, ember.randn(L, E), q)
    with pytest.raises(ValueError, match="key and query batch sizes differ: 2 vs 3"):
        mha(q, ember.randn(L, 2, E), ember.randn(L, 2, E))
    with pytest.raises(ValueError, match="query embedding size differs from the module's: 6 vs 8"):
        q6 = ember.randn(L, N, 6)
        mha(q6, q6, q6)


# ----------------------------------------------------------------------------- transformer layers
LAYER = {"dim_feedforward": 16, "dropout": 0.0}


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_matches_torch(norm_first, activation, batch_first):
    em, tm = make(
        "TransformerEncoderLayer",
        E,
        H,
        norm_first=norm_first,
        activation=activation,
        batch_first=batch_first,
        **LAYER,
    )
    shape = (N, L, E) if batch_first else (L, N, E)
    compare(em, tm, [x(*shape)], src_mask=causal(L), src_key_padding_mask=padding(N, L))


def test_encoder_layer_callable_activation_no_bias_and_unbatched():
    em, tm = make("TransformerEncoderLayer", E, H, activation=torch.tanh, bias=False, **LAYER)
    em.activation = ember.tanh
    compare(em, tm, [x(L, E)])


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_decoder_layer_matches_torch(norm_first, activation):
    em, tm = make(
        "TransformerDecoderLayer", E, H, norm_first=norm_first, activation=activation, **LAYER
    )
    compare(
        em,
        tm,
        [x(L, N, E), x(S, N, E)],
        tgt_mask=float_mask(causal(L)),
        tgt_is_causal=True,
        memory_key_padding_mask=padding(),
    )


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_stack_matches_torch(norm_first):
    torch.manual_seed(0)
    t_layer = torch.nn.TransformerEncoderLayer(E, H, norm_first=norm_first, **LAYER)
    tm = torch.nn.TransformerEncoder(
        t_layer, 2, norm=torch.nn.LayerNorm(E), enable_nested_tensor=False
    ).double()
    e_layer = ember.nn.TransformerEncoderLayer(E, H, norm_first=norm_first, **LAYER)
    em = ember.nn.TransformerEncoder(e_layer, 2, norm=ember.nn.LayerNorm(E)).to(ember.float64)
    load_from_torch(em, tm)
    compare(em, tm, [x(L, N, E)], mask=causal(L), src_key_padding_mask=padding(N, L))


def test_decoder_stack_matches_torch():
    torch.manual_seed(0)
    tm = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(E, H, **LAYER), 2).double()
    em = ember.nn.TransformerDecoder(ember.nn.TransformerDecoderLayer(E, H, **LAYER), 2)
    em.to(ember.float64)
    load_from_torch(em, tm)
    compare(em, tm, [x(L, N, E), x(S, N, E)], tgt_mask=causal(L))


def test_encoder_stack_deep_copies_the_layer():
    layer = ember.nn.TransformerEncoderLayer(E, H, **LAYER)
    stack = ember.nn.TransformerEncoder(layer, 3)
    weights = [m.linear1.weight for m in stack.layers]
    assert len({id(w) for w in weights}) == 3 and all(
        w is not layer.linear1.weight for w in weights
    )
    for w in weights:
        np.testing.assert_array_equal(w.detach().numpy(), layer.linear1.weight.detach().numpy())
    n_layer = sum(p.numel() for p in layer.parameters())
    assert sum(p.numel() for p in stack.parameters()) == 3 * n_layer


def test_transformer_layer_errors():
    with pytest.raises(ValueError, match="TransformerEncoderLayer: unknown activation: 'tanh'"):
        ember.nn.TransformerEncoderLayer(E, H, activation="tanh")
