"""Recurrent layers: RNN, LSTM, GRU and their single-step cells (PyTorch's layout and maths).

Each layer/direction projects the whole input sequence with one large matmul
(``x @ W_ihᵀ + b_ih + b_hh`` over T·B rows); the time loop then does only ``h @ W_hhᵀ`` and the
gate arithmetic. Parameter names, shapes, order and initialisation equal PyTorch's, so state
dicts load either way.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from ember.creation import zeros
from ember.nn import functional as F
from ember.nn import init
from ember.nn.layers._factory import new_parameter
from ember.nn.module import Module
from ember.ops.fused import lstm_sequence
from ember.ops.movement import cat, stack
from ember.tensor import Tensor

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}
_NAMES = {"RNN_TANH": "rnn", "RNN_RELU": "rnn", "LSTM": "lstm", "GRU": "gru"}


# -- one time step (hp: the input projection of this step, already including both biases) ---
def _rnn_step(act: Any, hp: Tensor, h: Tensor, w_hh: Tensor) -> Tensor:
    return act(hp + h @ w_hh.mT)


def _lstm_step(
    xp: Tensor, h: Tensor, c: Tensor, w_hh: Tensor, w_hr: Tensor | None
) -> tuple[Tensor, Tensor]:
    """One LSTM step; gates in PyTorch's order i, f, g, o."""
    gates = xp + h @ w_hh.mT
    n = c.shape[-1]
    s = gates.sigmoid()  # the g quarter is wasted, but one op beats three slices
    c = s[..., n : 2 * n] * c + s[..., :n] * gates[..., 2 * n : 3 * n].tanh()
    h = s[..., 3 * n :] * c.tanh()
    return (h if w_hr is None else h @ w_hr.mT), c


def _gru_step(xp: Tensor, h: Tensor, w_hh: Tensor, b_hh: Tensor | None) -> Tensor:
    """One GRU step (r, z, n): n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).

    ``xp`` carries only b_ih: b_hh is added to ``h @ W_hhᵀ`` since b_hn sits inside r * (...).
    """
    n = h.shape[-1]
    hh = h @ w_hh.mT if b_hh is None else h @ w_hh.mT + b_hh
    rz = (xp[..., : 2 * n] + hh[..., : 2 * n]).sigmoid()
    cand = (xp[..., 2 * n :] + rz[..., :n] * hh[..., 2 * n :]).tanh()
    return cand + rz[..., n:] * (h - cand)


# -- modules --------------------------------------------------------------------------------
class RNNBase(Module):
    """Shared parameters, checks and layer/direction loop of RNN, LSTM and GRU."""

    # LSTM without projection runs each layer direction as one fused kernel (ember.ops.fused);
    # False selects the composite of ember ops (the reference; supports double backward)
    _fused = True

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = _NAMES[mode]
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool):
            raise TypeError(f"{name}: dropout should be a number, got {type(dropout).__name__}")
        if not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1]: {dropout}")
        for what, value, low in (("hidden_size", hidden_size, 1), ("num_layers", num_layers, 1)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name}: {what} must be a positive integer, got {value!r}")
        if proj_size < 0 or (proj_size and mode != "LSTM"):
            raise ValueError(f"{name}: proj_size must be 0 (or, for LSTM, >= 0): {proj_size}")
        if proj_size >= hidden_size:
            raise ValueError(
                f"{name}: proj_size has to be smaller than hidden_size: {proj_size} vs "
                f"{hidden_size}"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout adds dropout after all but the last recurrent layer, so "
                f"dropout={dropout} has no effect with num_layers=1",
                UserWarning,
                stacklevel=3,
            )
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        dirs = 2 if bidirectional else 1
        out_size = proj_size or hidden_size
        gate_size = _GATES[mode] * hidden_size
        factory = {"device": device, "dtype": dtype}
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else out_size * dirs
            for suffix in ("", "_reverse")[:dirs]:
                tag = f"_l{layer}{suffix}"
                setattr(self, "weight_ih" + tag, new_parameter(gate_size, layer_in, **factory))
                setattr(self, "weight_hh" + tag, new_parameter(gate_size, out_size, **factory))
                if bias:
                    setattr(self, "bias_ih" + tag, new_parameter(gate_size, **factory))
                    setattr(self, "bias_hh" + tag, new_parameter(gate_size, **factory))
                if proj_size:
                    setattr(
                        self, "weight_hr" + tag, new_parameter(proj_size, hidden_size, **factory)
                    )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: every parameter ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """A no-op, as on CPU PyTorch: cuDNN wants all weights in one contiguous buffer, but
        ember's kernels read each weight where it is, so there is nothing to compact."""

    def _weights(self, layer: int, reverse: bool) -> tuple:
        tag = f"_l{layer}{'_reverse' if reverse else ''}"
        b_ih = getattr(self, "bias_ih" + tag) if self.bias else None
        b_hh = getattr(self, "bias_hh" + tag) if self.bias else None
        w_hr = getattr(self, "weight_hr" + tag) if self.proj_size else None
        return getattr(self, "weight_ih" + tag), getattr(self, "weight_hh" + tag), b_ih, b_hh, w_hr

    def _check_input(self, input: Tensor) -> bool:
        """Validate ``input``; return whether it is batched."""
        name = _NAMES[self.mode]
        F._check_tensor(name, input)
        if input.ndim not in (2, 3):
            raise ValueError(
                f"{name}: expected input to be 2-D (unbatched) or 3-D (batched), got "
                f"{input.ndim}-D input of shape {tuple(input.shape)}"
            )
        if input.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: input.size(-1) must be equal to input_size: {input.shape[-1]} vs "
                f"{self.input_size}"
            )
        if input.dtype is not self.weight_ih_l0.dtype:
            raise TypeError(
                f"{name}: input dtype must match the parameters' dtype: {input.dtype.name} vs "
                f"{self.weight_ih_l0.dtype.name}"
            )
        return input.ndim == 3

    def _initial(self, hx: Any, what: str, size: int, x: Tensor, batched: bool) -> Tensor:
        """``hx`` checked against (D·num_layers, B, size) (batched), or zeros when None."""
        dirs = 2 if self.bidirectional else 1
        expected = (dirs * self.num_layers, x.shape[1], size)
        if hx is None:
            return zeros(*expected, dtype=x.dtype, device=x.device)
        name = _NAMES[self.mode]
        F._check_tensor(name, hx)
        if hx.ndim != (3 if batched else 2):
            raise ValueError(
                f"{name}: for {'batched 3' if batched else 'unbatched 2'}-D input, {what} should "
                f"also be {3 if batched else 2}-D but got {hx.ndim}-D tensor of shape "
                f"{tuple(hx.shape)}"
            )
        if not batched:
            hx = hx.unsqueeze(1)
        if tuple(hx.shape) != expected:
            shown = expected if batched else (expected[0], expected[2])
            actual = tuple(hx.shape) if batched else (hx.shape[0], hx.shape[2])
            raise ValueError(f"{name}: expected {what} of shape {shown}: {actual} vs {shown}")
        return hx

    def _run(self, x: Tensor, h0: Tensor, c0: Tensor | None) -> tuple:
        """All layers and directions over time-major ``x``: (output, h_n, c_n or None)."""
        dirs = 2 if self.bidirectional else 1
        hs, cs = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(dirs):
                k = layer * dirs + d
                state = (h0[k], None if c0 is None else c0[k])
                out, h, c = self._direction(x, state, self._weights(layer, d == 1), d == 1)
                outs.append(out)
                hs.append(h)
                cs.append(c)
            x = outs[0] if dirs == 1 else cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, stack(hs), None if c0 is None else stack(cs)

    def _direction(self, x: Tensor, state: tuple, weights: tuple, reverse: bool) -> tuple:
        """One layer in one direction: (output sequence, last h, last c or None)."""
        w_ih, w_hh, b_ih, b_hh, w_hr = weights
        steps, batch = x.shape[0], x.shape[1]
        proj = x.reshape(steps * batch, x.shape[2]) @ w_ih.mT  # 2-D: one BLAS call each way
        if b_ih is not None:  # GRU keeps b_hh apart: b_hn sits inside r * (...)
            proj = proj + (b_ih if self.mode == "GRU" else b_ih + b_hh)
        proj = proj.reshape(steps, batch, proj.shape[1])
        h, c = state
        if self.mode == "LSTM" and w_hr is None and self._fused:
            seq = lstm_sequence(proj, w_hh, h, c, reverse)
            n, last = self.hidden_size, 0 if reverse else steps - 1
            return seq[..., :n], seq[last, :, :n], seq[last, :, n : 2 * n]
        outs: list = [None] * steps
        for t in range(steps - 1, -1, -1) if reverse else range(steps):
            if self.mode == "LSTM":
                h, c = _lstm_step(proj[t], h, c, w_hh, w_hr)
            elif self.mode == "GRU":
                h = _gru_step(proj[t], h, w_hh, b_hh)
            else:
                h = _rnn_step(_ACTIVATIONS[self.mode], proj[t], h, w_hh)
            outs[t] = h
        return stack(outs), h, c

    def _forward(self, input: Tensor, hx: Any, cx: Any) -> tuple:
        batched = self._check_input(input)
        x = input if batched else input.unsqueeze(1)
        if batched and self.batch_first:
            x = x.transpose(0, 1)
        h0 = self._initial(hx, "h0", self.proj_size or self.hidden_size, x, batched)
        c0 = self._initial(cx, "c0", self.hidden_size, x, batched) if self.mode == "LSTM" else None
        out, h_n, c_n = self._run(x, h0, c0)
        if batched and self.batch_first:
            out = out.transpose(0, 1)
        if not batched:
            out, h_n = out.squeeze(1), h_n.squeeze(1)
            c_n = None if c_n is None else c_n.squeeze(1)
        return out, h_n, c_n

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        defaults = (("num_layers", 1), ("bias", True), ("batch_first", False))
        defaults += (("dropout", 0.0), ("bidirectional", False))
        for key, default in defaults:
            if getattr(self, key) != default:
                s += f", {key}={getattr(self, key)}"
        return s  # like PyTorch, RNN's nonlinearity is not shown


_ACTIVATIONS = {"RNN_TANH": Tensor.tanh, "RNN_RELU": Tensor.relu}


def _rnn_mode(name: str, nonlinearity: str) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(
            f"{name}: unknown nonlinearity {nonlinearity!r}: expected 'tanh' or 'relu'"
        )
    return "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh), act tanh or relu.

    Shape: (L, N, H_in) (or (N, L, H_in) with batch_first, or (L, H_in) unbatched), optional
    h0 (D·num_layers, N, H) → output (L, N, D·H), h_n (D·num_layers, N, H).

    >>> import ember
    >>> out, h = ember.nn.RNN(4, 3)(ember.ones(5, 2, 4))
    >>> tuple(out.shape), tuple(h.shape)
    ((5, 2, 3), (1, 2, 3))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        self.nonlinearity = nonlinearity
        super().__init__(
            _rnn_mode("rnn", nonlinearity), input_size, hidden_size, num_layers, bias,
            batch_first, dropout, bidirectional, device=device, dtype=dtype,
        )  # fmt: skip

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        out, h_n, _ = self._forward(input, hx, None)
        return out, h_n


class LSTM(RNNBase):
    """Long short-term memory (gates i, f, g, o; optional output projection ``proj_size``).

    Shape: (L, N, H_in) (or (N, L, H_in) with batch_first, or (L, H_in) unbatched), optional
    (h0, c0) → output (L, N, D·H_out), (h_n, c_n) with H_out = proj_size or hidden_size.

    >>> import ember
    >>> out, (h, c) = ember.nn.LSTM(4, 3, batch_first=True)(ember.ones(2, 5, 4))
    >>> tuple(out.shape), tuple(h.shape), tuple(c.shape)
    ((2, 5, 3), (1, 2, 3), (1, 2, 3))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
            bidirectional, proj_size, device=device, dtype=dtype,
        )  # fmt: skip

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        if hx is not None and not (isinstance(hx, tuple) and len(hx) == 2):
            raise TypeError(f"lstm: hx should be a tuple (h0, c0), got {type(hx).__name__}")
        h0, c0 = hx if hx is not None else (None, None)
        out, h_n, c_n = self._forward(input, h0, c0)
        return out, (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit (gates r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn))).

    Shape: as ``RNN``.

    >>> import ember
    >>> out, h = ember.nn.GRU(4, 3, num_layers=2)(ember.ones(5, 4))
    >>> tuple(out.shape), tuple(h.shape)
    ((5, 3), (2, 3))
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
            bidirectional, device=device, dtype=dtype,
        )  # fmt: skip

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        out, h_n, _ = self._forward(input, hx, None)
        return out, h_n


# -- cells ----------------------------------------------------------------------------------
class RNNCellBase(Module):
    """Shared parameters and checks of the single-step cells."""

    def __init__(
        self, name: str, input_size: int, hidden_size: int, bias: bool, gates: int, factory: dict
    ) -> None:
        super().__init__()
        self._name = name
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = new_parameter(gates * hidden_size, input_size, **factory)
        self.weight_hh = new_parameter(gates * hidden_size, hidden_size, **factory)
        if bias:
            self.bias_ih = new_parameter(gates * hidden_size, **factory)
            self.bias_hh = new_parameter(gates * hidden_size, **factory)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: every parameter ~ U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _prepare(self, input: Tensor, hx: Any, what: str) -> tuple[Tensor, Tensor, bool]:
        """(2-D input, 2-D state or zeros, batched) after checking shapes."""
        F._check_tensor(self._name, input)
        if input.ndim not in (1, 2):
            raise ValueError(
                f"{self._name}: expected input to be 1-D or 2-D, got {input.ndim}-D input of "
                f"shape {tuple(input.shape)}"
            )
        if input.shape[-1] != self.input_size:
            raise ValueError(
                f"{self._name}: input has inconsistent input_size: {input.shape[-1]} vs "
                f"{self.input_size}"
            )
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        expected = (x.shape[0], self.hidden_size)
        if hx is None:
            return x, zeros(*expected, dtype=x.dtype, device=x.device), batched
        F._check_tensor(self._name, hx)
        shown = expected if batched else expected[1:]
        if tuple(hx.shape) != shown:
            raise ValueError(
                f"{self._name}: expected {what} of shape {shown}: {tuple(hx.shape)} vs {shown}"
            )
        return x, (hx if batched else hx.unsqueeze(0)), batched

    def _proj(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight_ih, self.bias_ih)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        return s if self.bias else s + ", bias=False"


class RNNCell(RNNCellBase):
    """One Elman RNN step: h' = act(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh).

    Shape: (N, H_in) or (H_in), optional h (N, H) or (H) → h' of h's shape.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        self._act = _ACTIVATIONS[_rnn_mode("rnn_cell", nonlinearity)]
        self.nonlinearity = nonlinearity
        super().__init__(
            "rnn_cell", input_size, hidden_size, bias, 1, {"device": device, "dtype": dtype}
        )

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, h, batched = self._prepare(input, hx, "hx")
        hp = self._proj(x) if self.bias_hh is None else self._proj(x) + self.bias_hh
        h = _rnn_step(self._act, hp, h, self.weight_hh)
        return h if batched else h.squeeze(0)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s if self.nonlinearity == "tanh" else s + f", nonlinearity={self.nonlinearity}"


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o).

    Shape: (N, H_in) or (H_in), optional (h, c) each (N, H) or (H) → (h', c').
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "lstm_cell", input_size, hidden_size, bias, 4, {"device": device, "dtype": dtype}
        )

    def forward(
        self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        h0, c0 = hx if hx is not None else (None, None)
        x, h, batched = self._prepare(input, h0, "h")
        _, c, _ = self._prepare(input, c0, "c")
        xp = self._proj(x) if self.bias_hh is None else self._proj(x) + self.bias_hh
        h, c = _lstm_step(xp, h, c, self.weight_hh, None)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n; PyTorch's formula with b_hn inside the reset product).

    Shape: (N, H_in) or (H_in), optional h (N, H) or (H) → h' of h's shape.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            "gru_cell", input_size, hidden_size, bias, 3, {"device": device, "dtype": dtype}
        )

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, h, batched = self._prepare(input, hx, "hx")
        h = _gru_step(self._proj(x), h, self.weight_hh, self.bias_hh)
        return h if batched else h.squeeze(0)
