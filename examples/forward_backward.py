"""Forward and backward passes: a two-layer network's gradients by the chain rule and by autograd.

The forward pass computes the loss layer by layer and autograd records each op. The backward
pass walks that record in reverse and multiplies local derivatives (the chain rule). The script
writes the backward pass out by hand for ``tanh(x W1 + b1) W2 + b2`` with a squared error,
compares it with ``loss.backward()``, checks both against finite differences
(``gradcheck``), prints the recorded graph, and plots the loss along one weight with the
tangent whose slope autograd computed.

    python examples/forward_backward.py            # a second
    python examples/forward_backward.py --fast     # the same (CI)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from common import parse_args, save_figure

import ember
from ember.autograd import gradcheck
from ember.diagnostics import draw_graph
from ember.diagnostics.plots import pyplot

NAMES = ("W1", "b1", "W2", "b2")


def forward(x: ember.Tensor, y: ember.Tensor, *params: ember.Tensor) -> ember.Tensor:
    """Mean squared error of the 2-layer tanh network ``params = (W1, b1, W2, b2)``."""
    w1, b1, w2, b2 = params
    return ((((x @ w1 + b1).tanh() @ w2 + b2) - y) ** 2).mean()


def backward_by_hand(
    x: ember.Tensor, y: ember.Tensor, params: list[ember.Tensor]
) -> list[ember.Tensor]:
    """The same gradients, one chain-rule step per line, without autograd."""
    w1, b1, w2, b2 = params
    with ember.no_grad():
        h = (x @ w1 + b1).tanh()  # forward again, keeping what backward needs
        z = h @ w2 + b2
        dz = 2 * (z - y) / z.numel()  # d mean((z - y)²) / dz
        dw2, db2 = h.t() @ dz, dz.sum(0)  # z = h W2 + b2
        dh = dz @ w2.t()
        da = dh * (1 - h**2)  # tanh'(a) = 1 - tanh(a)²
        dw1, db1 = x.t() @ da, da.sum(0)  # a = x W1 + b1
    return [dw1, db1, dw2, db2]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(__doc__, "forward_backward.png", argv)
    ember.manual_seed(0)
    dt = ember.float64  # finite differences need the precision
    x, y = ember.randn(8, 2, dtype=dt), ember.randn(8, 1, dtype=dt)
    shapes = ((2, 3), (3,), (3, 1), (1,))
    params = [ember.randn(*s, dtype=dt).requires_grad_() for s in shapes]

    loss = forward(x, y, *params)
    graph = draw_graph(loss, dict(zip(NAMES, params)))
    ops = [n["label"].split("\n")[0] for n in reversed(graph.nodes) if n["kind"] == "op"]
    print(f"loss {loss.item():.6f}; the recorded graph: {graph}")
    print("its ops, from the input to the loss:", " ".join(ops))
    loss.backward()
    by_hand = backward_by_hand(x, y, params)
    print(f"\n{'param':<6}{'shape':<8}{'max |autograd - by hand|':>26}")
    diffs = {}
    for name, p, g in zip(NAMES, params, by_hand):
        diffs[name] = (p.grad - g).abs().max().item()
        print(f"{name:<6}{str(tuple(p.shape)):<8}{diffs[name]:>26.1e}")
    checked = gradcheck(lambda *ps: forward(x, y, *ps), params)
    print(f"gradcheck (autograd against central differences): {checked}")
    span = plot(x, y, params, args.out)
    return {"diffs": diffs, "gradcheck": checked, "ops": ops, "tangent_error": span}


def plot(x: ember.Tensor, y: ember.Tensor, params: list[ember.Tensor], path: str) -> float:
    """Loss along W1[0, 0] and autograd's tangent; returns the tangent's error at ±0.01."""
    w1 = params[0]
    w0, slope = w1[0, 0].item(), w1.grad[0, 0].item()
    offsets = np.linspace(-1.0, 1.0, 81)

    def loss_at(offset: float) -> float:
        moved = w1.detach().clone()
        moved[0, 0] = w0 + offset
        with ember.no_grad():
            return forward(x, y, moved, *params[1:]).item()

    losses = [loss_at(o) for o in offsets]
    base = loss_at(0.0)
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot(w0 + offsets, losses, label="loss, W1[0, 0] moved")
    ax1.plot(w0 + offsets[25:56], base + slope * offsets[25:56], "r--", label="autograd's slope")
    ax1.plot([w0], [base], "ko")
    ax1.set(xlabel="W1[0, 0]", ylabel="loss", title="the gradient is the slope of the loss")
    ax1.legend()
    tangent = np.array([base + slope * o for o in offsets])
    right = offsets > 0
    ax2.loglog(offsets[right], np.abs(np.array(losses) - tangent)[right], ".")
    ax2.set(xlabel="step along W1[0, 0]", ylabel="|loss - tangent|", title="error ~ step²")
    save_figure(fig, path)
    return max(abs(loss_at(s) - base - slope * s) for s in (-0.01, 0.01))


if __name__ == "__main__":
    main()
