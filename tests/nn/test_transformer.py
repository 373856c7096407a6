"""nn.Transformer (encoder-decoder) vs torch: a torch state_dict loaded into ember gives the same
outputs and gradients with every mask kind, in eval mode and in train mode (dropout 0); the
encoder's nested-tensor inference path (padded positions come out as zeros); the causal mask
helper; torch's init; and the errors."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
import torch

import ember
from tests.nn.helpers import close, load_from_torch
from tests.nn.test_attention import causal, compare, float_mask, padding, x

S, T, N, E, H = 5, 4, 3, 8, 2
SMALL = {"num_encoder_layers": 2, "num_decoder_layers": 2, "dim_feedforward": 16}


def make_transformer(dtype: str = "float64", **kwargs: Any) -> tuple[Any, Any]:
    """ember's and torch's Transformer, torch's weights loaded into ember."""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: "enable_nested_tensor is True, but ..."
        tm = torch.nn.Transformer(E, H, **{**SMALL, **kwargs}).to(getattr(torch, dtype))
    em = ember.nn.Transformer(E, H, **{**SMALL, **kwargs}).to(getattr(ember, dtype))
    load_from_torch(em, tm)
    return em, tm


def seqs(batch_first: bool) -> list[np.ndarray]:
    """src and tgt, batched in the layout ``batch_first`` asks for."""
    if batch_first:
        return [x(N, S, E), x(N, T, E)]
    return [x(S, N, E), x(T, N, E)]


# Float masks for the encoder, bool ones for the decoder (torch warns when one attention mixes).
ALL_MASKS = {
    "src_mask": float_mask(causal(S)),
    "tgt_mask": causal(T),
    "memory_mask": causal(T, S) & ~np.eye(T, S, dtype=bool),
    "src_key_padding_mask": float_mask(padding(N, S)),
    "tgt_key_padding_mask": padding(N, T),
    "memory_key_padding_mask": padding(N, S),
}

# (id, constructor kwargs, forward kwargs)
CASES = [
    ("plain", {}, {}),
    ("all_masks", {}, ALL_MASKS),
    ("all_masks_batch_first", {"batch_first": True}, ALL_MASKS),
    (
        "causal_hints",
        {"batch_first": True},
        {
            "src_mask": causal(S),
            "src_is_causal": True,
            "tgt_mask": float_mask(causal(T)),
            "tgt_is_causal": True,
        },
    ),
    ("norm_first_gelu", {"norm_first": True, "activation": "gelu"}, ALL_MASKS),
    ("no_bias_eps", {"bias": False, "layer_norm_eps": 1e-3}, {"tgt_mask": causal(T)}),
]


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("kwargs, fwd", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_transformer_matches_torch(kwargs, fwd, mode):
    # Eval keeps a dropout that must switch off; train mode needs dropout 0 to be comparable.
    em, tm = make_transformer(dropout=0.3 if mode == "eval" else 0.0, **kwargs)
    em.train(mode == "train"), tm.train(mode == "train")
    compare(em, tm, seqs(kwargs.get("batch_first", False)), **fwd)


def test_transformer_unbatched_and_float32():
    em, tm = make_transformer(dropout=0.0)
    compare(em, tm, [x(S, E), x(T, E)], tgt_mask=causal(T))
    em, tm = make_transformer("float32", dropout=0.0, batch_first=True)
    compare(em, tm, seqs(True), dtype="float32", tgt_mask=causal(T))


def test_transformer_custom_encoder_and_decoder():
    torch.manual_seed(0)
    t_enc = torch.nn.TransformerEncoder(
        torch.nn.TransformerEncoderLayer(E, H, 16, 0.0), 1, enable_nested_tensor=False
    )
    t_dec = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(E, H, 16, 0.0), 3)
    tm = torch.nn.Transformer(E, H, custom_encoder=t_enc, custom_decoder=t_dec).double()
    e_enc = ember.nn.TransformerEncoder(ember.nn.TransformerEncoderLayer(E, H, 16, 0.0), 1)
    e_dec = ember.nn.TransformerDecoder(ember.nn.TransformerDecoderLayer(E, H, 16, 0.0), 3)
    em = ember.nn.Transformer(E, H, custom_encoder=e_enc, custom_decoder=e_dec)
    assert em.encoder is e_enc and em.decoder is e_dec
    load_from_torch(em.to(ember.float64), tm)
    compare(em, tm, seqs(False), tgt_mask=causal(T))


def test_transformer_layout_and_init_match_torch():
    args, kw = (16, 4, 2, 1, 32), {"batch_first": True}
    em, tm = ember.nn.Transformer(*args, **kw), torch.nn.Transformer(*args, **kw)
    shapes = [(n, tuple(p.shape)) for n, p in em.named_parameters()]
    assert shapes == [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
    assert (em.d_model, em.nhead, em.batch_first) == (tm.d_model, tm.nhead, tm.batch_first)
    # Every matrix is Xavier-uniform (in_proj too, and the ff weights); 1-D ones keep their init.
    for name, p in em.named_parameters():
        a = p.detach().numpy()
        if a.ndim > 1:
            bound = np.sqrt(6 / sum(a.shape))
            assert np.abs(a).max() <= bound and a.std() > bound / 3, name
    norm = em.encoder.norm
    assert np.all(norm.weight.detach().numpy() == 1) and not norm.bias.detach().numpy().any()
    assert [type(m).__name__ for m in (em.encoder, em.decoder)] == [
        "TransformerEncoder",
        "TransformerDecoder",
    ]


@pytest.mark.parametrize("dtype", [None, "float64"])
def test_generate_square_subsequent_mask_matches_torch(dtype):
    kw_t = {} if dtype is None else {"dtype": getattr(torch, dtype)}
    kw_e = {} if dtype is None else {"dtype": getattr(ember, dtype)}
    t = torch.nn.Transformer.generate_square_subsequent_mask(4, **kw_t)
    e = ember.nn.Transformer.generate_square_subsequent_mask(4, **kw_e)
    assert e.dtype.name == str(t.dtype).removeprefix("torch.")
    np.testing.assert_array_equal(e.numpy(), t.numpy())
    assert ember.nn.Transformer(E, H, 1, 1, 16).generate_square_subsequent_mask(1).numpy() == 0


# ---------------------------------------------------------- the nested-tensor inference path
def make_encoder(layer_kwargs: dict, **kwargs: Any) -> tuple[Any, Any]:
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t_layer = torch.nn.TransformerEncoderLayer(E, H, 16, 0.0, **layer_kwargs)
        tm = torch.nn.TransformerEncoder(t_layer, 2, norm=torch.nn.LayerNorm(E), **kwargs)
    e_layer = ember.nn.TransformerEncoderLayer(E, H, 16, 0.0, **layer_kwargs)
    em = ember.nn.TransformerEncoder(e_layer, 2, norm=ember.nn.LayerNorm(E), **kwargs)
    load_from_torch(em, tm)
    return em.eval(), tm.eval()


LEFT_ALIGNED = padding(N, S)
RAGGED = np.array([[False] * S, [True, False, False, True, False], [False] * (S - 1) + [True]])


@pytest.mark.parametrize(
    "kwargs, kpm",
    [
        ({}, LEFT_ALIGNED),
        ({}, float_mask(LEFT_ALIGNED)),
        ({}, RAGGED),  # mask_check: not left-aligned, so no nested path
        ({"mask_check": False}, RAGGED),  # read as lengths
        ({"enable_nested_tensor": False}, LEFT_ALIGNED),
    ],
    ids=["bool", "float", "ragged_checked", "ragged_unchecked", "disabled"],
)
def test_encoder_nested_tensor_path_matches_torch(kwargs, kpm):
    em, tm = make_encoder({"batch_first": True}, **kwargs)
    src = x(N, S, E)
    to_t = torch.tensor(kpm) if kpm.dtype == bool else torch.tensor(kpm, dtype=torch.float32)
    with torch.no_grad():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch: nested tensors are a prototype
            t_out = tm(torch.tensor(src, dtype=torch.float32), src_key_padding_mask=to_t)
    with ember.no_grad():
        e_out = em(ember.tensor(src, dtype=ember.float32), src_key_padding_mask=ember.tensor(kpm))
    close(e_out, t_out, "float32", "nested-path output")


def test_encoder_nested_path_needs_eval_no_grad_and_no_mask():
    em, tm = make_encoder({"batch_first": True})
    src, kpm = ember.randn(N, S, E), ember.tensor(LEFT_ALIGNED)
    norm_of_zero = em.norm.bias.detach().numpy()
    with ember.no_grad():
        out = em(src, src_key_padding_mask=kpm).numpy()
        np.testing.assert_allclose(out[LEFT_ALIGNED], np.broadcast_to(norm_of_zero, (3, E)))
        masked = em(src, mask=ember.tensor(causal(S)), src_key_padding_mask=kpm).numpy()
    assert np.abs(masked[LEFT_ALIGNED] - norm_of_zero).max() > 1e-3
    for out in (em(src, src_key_padding_mask=kpm), em.train()(src, src_key_padding_mask=kpm)):
        assert np.abs(out.detach().numpy()[LEFT_ALIGNED] - norm_of_zero).max() > 1e-3


@pytest.mark.parametrize(
    "layer_kwargs",
    [
        {"batch_first": True},
        {},
        {"batch_first": True, "norm_first": True},
        {"batch_first": True, "bias": False},
        {"batch_first": True, "activation": "gelu"},
        {"batch_first": True, "activation": torch.tanh},
    ],
)
def test_use_nested_tensor_matches_torch(layer_kwargs):
    e_kwargs = dict(layer_kwargs)
    if "activation" in e_kwargs and callable(e_kwargs["activation"]):
        e_kwargs["activation"] = ember.tanh
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, H, **layer_kwargs), 1)
    em = ember.nn.TransformerEncoder(ember.nn.TransformerEncoderLayer(E, H, **e_kwargs), 1)
    assert em.use_nested_tensor == tm.use_nested_tensor
    assert em.layers[0].activation_relu_or_gelu == tm.layers[0].activation_relu_or_gelu
    odd = ember.nn.TransformerEncoder(ember.nn.TransformerEncoderLayer(9, 3, batch_first=True), 1)
    assert not odd.use_nested_tensor


def test_mixed_mask_types_warn_and_still_match_torch():
    em, tm = make_transformer(dropout=0.0)
    mixed = {"src_mask": float_mask(causal(S)), "src_key_padding_mask": padding(N, S)}
    with pytest.warns(UserWarning) as caught:
        compare(em, tm, seqs(False), **mixed)
    messages = [str(w.message) for w in caught]
    assert any("PyTorch deprecates mixing bool and float masks" in m for m in messages)
    assert any("mismatched src_key_padding_mask and mask is deprecated" in m for m in messages)


def test_transformer_errors():
    model = ember.nn.Transformer(E, H, 1, 1, 16)
    with pytest.raises(RuntimeError, match="src and tgt batch sizes differ: 3 vs 2"):
        model(ember.randn(S, N, E), ember.randn(T, 2, E))
    with pytest.raises(RuntimeError, match="feature sizes must equal d_model=8: 8 and 6"):
        model(ember.randn(S, N, E), ember.randn(T, N, 6))
    with pytest.raises(RuntimeError, match="need attn_mask if specifying the is_causal hint"):
        model(ember.randn(S, N, E), ember.randn(T, N, E), tgt_is_causal=True)
    with pytest.raises(ValueError, match="unknown activation: 'swish'"):
        ember.nn.Transformer(E, H, activation="swish")
