"""RNN, LSTM, GRU and their cells vs torch: same state dict, outputs, final states, all grads."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
import torch

import ember
from ember import nn
from tests.nn.helpers import close, load_from_torch

T, B, IN, HID = 4, 3, 5, 6
KINDS = ("rnn_tanh", "rnn_relu", "lstm", "gru")


def _make(ns: Any, kind: str, **kw: Any) -> Any:
    if kind.startswith("rnn"):
        return ns.RNN(IN, HID, nonlinearity=kind[4:], **kw)
    return {"lstm": ns.LSTM, "gru": ns.GRU}[kind](IN, HID, **kw)


def _pair(kind: str, dtype: str, **kw: Any) -> tuple[Any, Any]:
    torch.manual_seed(0)
    tm = _make(torch.nn, kind, **kw).to(getattr(torch, dtype))
    em = _make(nn, kind, **kw).to(getattr(ember, dtype))
    load_from_torch(em, tm)
    return em, tm


def _leaf(a: np.ndarray, dtype: str) -> tuple[ember.Tensor, torch.Tensor]:
    e = ember.tensor(a, dtype=getattr(ember, dtype), requires_grad=True)
    return e, torch.tensor(a, dtype=getattr(torch, dtype), requires_grad=True)


def _flat(out: Any) -> list:
    """(output, h) or (output, (h, c)) as a flat list."""
    if isinstance(out, tuple):
        return [t for o in out for t in _flat(o)]
    return [out]


def _compare(
    em: Any, tm: Any, arrays: list[np.ndarray | None], dtype: str, tol: dict | None = None
) -> None:
    """Forward outputs/states and gradients of parameters, input and initial states."""
    e_in, t_in = zip(*[(None, None) if a is None else _leaf(a, dtype) for a in arrays])

    def call(m: Any, args: tuple) -> Any:
        x, *state = args
        if not any(s is not None for s in state):
            return m(x)
        return m(x, tuple(state) if len(state) == 2 else state[0])

    e_out, t_out = _flat(call(em, e_in)), _flat(call(tm, t_in))
    rng = np.random.default_rng(1)
    e_loss, t_loss = 0, 0
    for i, (eo, to) in enumerate(zip(e_out, t_out)):
        close(eo, to, dtype, f"output {i}", tol)
        cot = rng.standard_normal(tuple(to.shape))
        e_loss = e_loss + (eo * ember.tensor(cot, dtype=eo.dtype)).sum()
        t_loss = t_loss + (to * torch.tensor(cot, dtype=to.dtype)).sum()
    e_loss.backward()
    t_loss.backward()
    t_params = dict(tm.named_parameters())
    assert [n for n, _ in em.named_parameters()] == list(t_params)
    for name, p in em.named_parameters():
        close(p.grad, t_params[name].grad, dtype, f"grad of {name}", tol)
    for i, (ei, ti) in enumerate(zip(e_in, t_in)):
        if ei is not None:
            close(ei.grad, ti.grad, dtype, f"grad of argument {i}", tol)


def _arrays(kind: str, layers: int, bidir: bool, batch_first: bool, states: bool, batched: bool):
    rng = np.random.default_rng(0)
    x_shape = ((B, T) if batch_first else (T, B)) if batched else (T,)
    h_shape = (layers * (2 if bidir else 1),) + ((B,) if batched else ()) + (HID,)
    arrays = [rng.uniform(-1.5, 1.5, x_shape + (IN,))]
    n_states = 2 if kind == "lstm" else 1
    arrays += [rng.uniform(-1, 1, h_shape) if states else None for _ in range(n_states)]
    return arrays


OPTIONS = list(itertools.product((1, 2), (True, False), (False, True), (False, True)))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layers,bias,batch_first,bidir", OPTIONS)
def test_layer_matches_torch_float64(
    kind: str, layers: int, bias: bool, batch_first: bool, bidir: bool
) -> None:
    kw = dict(num_layers=layers, bias=bias, batch_first=batch_first, bidirectional=bidir)
    for states, batched in ((False, True), (True, True), (True, False)):
        em, tm = _pair(kind, "float64", **kw)
        _compare(em, tm, _arrays(kind, layers, bidir, batch_first, states, batched), "float64")


@pytest.mark.parametrize("kind", KINDS)
def test_layer_matches_torch_float32(kind: str) -> None:
    kw = dict(num_layers=2, bidirectional=True, batch_first=True)
    em, tm = _pair(kind, "float32", **kw)
    _compare(em, tm, _arrays(kind, 2, True, True, True, True), "float32")


@pytest.mark.parametrize("kind", KINDS)
def test_dropout_zero_and_eval_mode_are_deterministic(kind: str) -> None:
    em, tm = _pair(kind, "float64", num_layers=2, dropout=0.0)
    _compare(em, tm, _arrays(kind, 2, False, False, False, True), "float64")
    em, tm = _pair(kind, "float64", num_layers=2, dropout=0.7)
    em.eval(), tm.eval()
    _compare(em, tm, _arrays(kind, 2, False, False, True, True), "float64")


def test_dropout_between_layers_in_training_is_seeded() -> None:
    m = nn.LSTM(IN, HID, num_layers=2, dropout=0.5)
    x = ember.tensor(np.random.default_rng(0).uniform(-1, 1, (T, B, IN)), dtype=ember.float32)

    def run(module: Any) -> np.ndarray:
        return module(x)[0].detach().numpy()

    ember.manual_seed(3)
    a = run(m)
    ember.manual_seed(3)
    b, c = run(m), run(m)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c), "dropout must draw a new mask each call"
    m.eval()
    d, e = run(m), run(m)
    np.testing.assert_array_equal(d, e)
    assert not np.allclose(a, d), "dropout must be active in training"
    # only between layers: with one layer there is nothing to drop (and torch warns)
    with pytest.warns(UserWarning, match="dropout=0.5 has no effect with num_layers=1"):
        one = nn.GRU(IN, HID, dropout=0.5)
    np.testing.assert_array_equal(run(one), run(one.eval()))


@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN")
def test_lstm_proj_size_matches_torch() -> None:
    for dtype in ("float64", "float32"):
        em, tm = _pair("lstm", dtype, num_layers=2, bidirectional=True, proj_size=4)
        rng = np.random.default_rng(0)
        arrays = [rng.uniform(-1, 1, (T, B, IN)), rng.uniform(-1, 1, (4, B, 4))]
        arrays.append(rng.uniform(-1, 1, (4, B, HID)))
        _compare(em, tm, arrays, dtype)


@pytest.mark.parametrize("kind", KINDS)
def test_state_dict_keys_shapes_and_init_bounds(kind: str) -> None:
    kw = dict(num_layers=2, bidirectional=True)
    em, tm = _make(nn, kind, **kw), _make(torch.nn, kind, **kw)
    e_sd, t_sd = em.state_dict(), tm.state_dict()
    assert list(e_sd) == list(t_sd)
    for k, v in t_sd.items():
        assert tuple(e_sd[k].shape) == tuple(v.shape), k
    values = np.concatenate([v.numpy().ravel() for v in e_sd.values()])
    bound = 1 / math.sqrt(HID)
    assert np.abs(values).max() <= bound
    assert values.min() < -0.95 * bound and values.max() > 0.95 * bound, "U(-b, b) not filled"
    assert abs(values.mean()) < 0.1 * bound
    assert repr(em) == repr(tm)
    em.load_state_dict({k: ember.tensor(v.numpy()) for k, v in t_sd.items()})
    tm.load_state_dict({k: torch.tensor(v.numpy()) for k, v in em.state_dict().items()})


def _make_cell(ns: Any, kind: str, bias: bool) -> Any:
    if kind.startswith("rnn"):
        return ns.RNNCell(IN, HID, bias=bias, nonlinearity=kind[4:])
    return {"lstm": ns.LSTMCell, "gru": ns.GRUCell}[kind](IN, HID, bias=bias)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cells_match_torch(kind: str, dtype: str) -> None:
    rng = np.random.default_rng(0)
    n_states = 2 if kind == "lstm" else 1
    for bias, batched, states in itertools.product((True, False), (True, False), (True, False)):
        torch.manual_seed(0)
        tm = _make_cell(torch.nn, kind, bias).to(getattr(torch, dtype))
        em = _make_cell(nn, kind, bias).to(getattr(ember, dtype))
        load_from_torch(em, tm)
        lead = (B,) if batched else ()
        arrays = [rng.uniform(-1.5, 1.5, lead + (IN,))]
        arrays += [rng.uniform(-1, 1, lead + (HID,)) if states else None for _ in range(n_states)]
        _compare(em, tm, arrays, dtype)
    assert repr(em) == repr(tm)


def test_layer_errors() -> None:
    m = nn.LSTM(IN, HID, num_layers=2)
    with pytest.raises(
        ValueError, match=r"lstm: input.size\(-1\) must be equal to input_size: 4 vs 5"
    ):
        m(ember.zeros(T, B, 4))
    with pytest.raises(ValueError, match=r"2-D \(unbatched\) or 3-D \(batched\), got 4-D"):
        m(ember.zeros(T, B, 1, IN))
    h, c = ember.zeros(2, B, HID), ember.zeros(2, B, HID)
    with pytest.raises(ValueError, match=r"expected h0 of shape \(2, 3, 6\): \(1, 3, 6\) vs"):
        m(ember.zeros(T, B, IN), (ember.zeros(1, B, HID), c))
    with pytest.raises(ValueError, match=r"expected c0 of shape \(2, 3, 6\): \(2, 4, 6\) vs"):
        m(ember.zeros(T, B, IN), (h, ember.zeros(2, 4, HID)))
    with pytest.raises(ValueError, match=r"expected h0 of shape \(2, 6\): \(2, 5\) vs \(2, 6\)"):
        m(ember.zeros(T, IN), (ember.zeros(2, 5), ember.zeros(2, HID)))
    with pytest.raises(ValueError, match="batched 3-D input, h0 should also be 3-D but got 2-D"):
        m(ember.zeros(T, B, IN), (ember.zeros(2, HID), c))
    with pytest.raises(TypeError, match=r"lstm: hx should be a tuple \(h0, c0\)"):
        m(ember.zeros(T, B, IN), h)
    with pytest.raises(ValueError, match=r"gru: expected h0 of shape \(1, 3, 6\): \(1, 2, 6\)"):
        nn.GRU(IN, HID)(ember.zeros(T, B, IN), ember.zeros(1, 2, HID))
    with pytest.raises(ValueError, match="unknown nonlinearity 'gelu'"):
        nn.RNN(IN, HID, nonlinearity="gelu")
    with pytest.raises(ValueError, match=r"dropout should be a number in range \[0, 1\]: 1.5"):
        nn.GRU(IN, HID, num_layers=2, dropout=1.5)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size: 6 vs 6"):
        nn.LSTM(IN, HID, proj_size=6)
    with pytest.raises(TypeError, match="lstm: input dtype must match the parameters' dtype"):
        m(ember.zeros(T, B, IN, dtype=ember.float64))
    with pytest.raises(TypeError, match="expected input to be an ember.Tensor, got ndarray"):
        m(np.zeros((T, B, IN)))


def test_cell_errors() -> None:
    cell = nn.LSTMCell(IN, HID)
    with pytest.raises(ValueError, match="lstm_cell: input has inconsistent input_size: 4 vs 5"):
        cell(ember.zeros(B, 4))
    with pytest.raises(ValueError, match="expected input to be 1-D or 2-D, got 3-D"):
        cell(ember.zeros(1, B, IN))
    with pytest.raises(ValueError, match=r"expected c of shape \(3, 6\): \(2, 6\) vs \(3, 6\)"):
        cell(ember.zeros(B, IN), (ember.zeros(B, HID), ember.zeros(2, HID)))
    with pytest.raises(ValueError, match=r"gru_cell: expected hx of shape \(6,\): \(3, 6\)"):
        nn.GRUCell(IN, HID)(ember.zeros(IN), ember.zeros(B, HID))


@pytest.mark.parametrize("bidir,states", [(False, True), (True, False)])
def test_lstm_composite_reference_matches_torch(bidir: bool, states: bool) -> None:
    """The composite (per-step ember ops) form that the fused kernel replaces."""
    for dtype in ("float64", "float32"):
        em, tm = _pair("lstm", dtype, num_layers=2, bidirectional=bidir, batch_first=True)
        em._fused = False
        _compare(em, tm, _arrays("lstm", 2, bidir, True, states, True), dtype)


def test_fused_lstm_equals_composite_and_refuses_double_backward() -> None:
    m = nn.LSTM(IN, HID, num_layers=2, bidirectional=True).double()
    x = ember.tensor(np.random.default_rng(0).uniform(-1, 1, (T, B, IN)), requires_grad=True)
    results = []
    for fused in (True, False):
        m._fused = fused
        out, (h, c) = m(x)
        (gx,) = ember.autograd.grad((out * out).sum() + h.sum() + c.sum(), [x])
        results.append((out.detach().numpy(), gx.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    m._fused = True
    out, _ = m(x)
    (gx,) = ember.autograd.grad(out.sum(), [x], create_graph=True)
    with pytest.raises(RuntimeError, match="double backward through the fused LSTM kernel"):
        gx.sum().backward()
