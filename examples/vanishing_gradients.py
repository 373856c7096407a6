"""Vanishing gradients: a 20-layer MLP on two spirals with four kinds of hidden layer.

Sigmoid layers multiply the backward signal by at most 0.25 each, so after 20 of them the
first layers get almost no gradient and do not learn. ReLU keeps the slope at 1 where units
are active; batch normalisation keeps every layer's input well scaled; residual connections
give the gradient an identity path around every layer. The script trains each variant with
the same seed and optimizer, records per-layer gradients with ``GradientMonitor``, prints
the numbers and the detectors' findings, and writes a figure.

    python examples/vanishing_gradients.py            # ~1 minute on 2 cores
    python examples/vanishing_gradients.py --fast     # tiny sizes (CI)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from common import parse_args, save_figure

import ember
from ember import nn, optim
from ember.data.synthetic import spirals
from ember.diagnostics import GradientMonitor
from ember.diagnostics.plots import pyplot
from ember.nn import functional as F


class Residual(nn.Module):
    """x + relu(linear(x)): the identity path carries the gradient past the layer."""

    def __init__(self, width: int, depth: int) -> None:
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.act = nn.ReLU()
        # He init shrunk by 1/sqrt(depth) so the sum of depth branches keeps its scale
        nn.init.kaiming_normal_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        with ember.no_grad():
            self.linear.weight.mul_(depth**-0.5)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        return x + self.act(self.linear(x))


def build(kind: str, depth: int, width: int) -> nn.Sequential:
    """Input layer, ``depth - 2`` hidden layers of the given kind, 2-class head.

    Each variant gets the initialisation made for its activation (Xavier for sigmoid, He for
    ReLU, zero biases), so what differs is the architecture, not a bad default init.
    """
    init = nn.init.xavier_uniform_ if kind == "sigmoid" else nn.init.kaiming_normal_
    layers: list[nn.Module] = [
        nn.Linear(2, width),
        nn.ReLU() if kind != "sigmoid" else nn.Sigmoid(),
    ]
    for _ in range(depth - 2):
        if kind == "residual":
            layers.append(Residual(width, depth))
            continue
        layers.append(nn.Linear(width, width))
        if kind == "relu+batchnorm":
            layers.append(nn.BatchNorm1d(width))
        layers.append(nn.Sigmoid() if kind == "sigmoid" else nn.ReLU())
    layers.append(nn.Linear(width, 2))
    for m in layers:
        if isinstance(m, nn.Linear):
            init(m.weight)
            nn.init.zeros_(m.bias)
    return nn.Sequential(*layers)


def train(kind: str, depth: int, width: int, steps: int, x: Any, y: Any) -> dict[str, Any]:
    ember.manual_seed(0)
    model = build(kind, depth, width)
    opt = optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    monitor = GradientMonitor(model, every=5)
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        monitor.step(loss)
        opt.step()
    model.eval()
    with ember.no_grad():
        acc = float((model(x).argmax(dim=1) == y).float().mean().item())
    stats = monitor.stats()
    weights = np.flatnonzero(stats.param_ndim >= 2)
    return {
        "kind": kind,
        # per layer (input first), over the first quarter of training, before convergence
        "layer_rms": np.nanmedian(stats.grad_rms[: len(stats.steps) // 4 + 1, weights], axis=0),
        "losses": stats.losses,
        "accuracy": acc,
        "findings": monitor.findings(),
    }


def plot(results: list[dict[str, Any]], path: str) -> None:
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for r in results:
        ax1.plot(np.arange(1, len(r["layer_rms"]) + 1), r["layer_rms"], "o-", ms=3, label=r["kind"])
        ax2.plot(r["losses"], label=f"{r['kind']} (acc {r['accuracy']:.2f})")
    ax1.set_yscale("log")
    ax1.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax1.set(
        xlabel="layer (1 = input)",
        ylabel="gradient RMS of the weights (first 25% of steps)",
        title="gradient reaching each layer",
    )
    ax2.set_yscale("log")
    ax2.set(xlabel="step", ylabel="cross-entropy (train)", title="training loss")
    ax1.legend()
    ax2.legend()
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(__doc__, "vanishing_gradients.png", argv)
    depth, width, steps, n = (8, 16, 20, 50) if args.fast else (20, 32, 400, 200)
    x, y = spirals(n=n, noise=0.1, seed=0).tensors
    x = x / x.std()  # unit-scale inputs: the raw spirals reach |x| ≈ 9
    results = [train(k, depth, width, steps, x, y) for k in KINDS]
    print(f"{depth}-layer MLP, width {width}, {steps} full-batch SGD steps on {2 * n} points")
    print(
        f"{'variant':<16}{'layer 1 grad':>14}{'last grad':>12}{'ratio':>10}"
        f"{'final loss':>12}{'accuracy':>10}"
    )
    for r in results:
        first, last = r["layer_rms"][0], r["layer_rms"][-1]
        print(
            f"{r['kind']:<16}{first:>14.3g}{last:>12.3g}{first / last:>10.2g}"
            f"{r['losses'][-1]:>12.4f}{r['accuracy']:>10.3f}"
        )
    for r in results:
        print(f"\n{r['kind']}: {len(r['findings'])} finding(s)")
        for f in r["findings"]:
            print(f"  {f}")
    plot(results, args.out)
    return results


KINDS = ("sigmoid", "relu", "relu+batchnorm", "residual")

if __name__ == "__main__":
    main()
