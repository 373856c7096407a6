"""The perceptron: one linear unit with a threshold, its learning rule, and where it fails.

Rosenblatt's rule adds ``y * x`` to the weights for every misclassified point (labels ±1). On
two separable Gaussian clusters it stops making mistakes after a few passes. On XOR no
straight line separates the classes, so it never does. One hidden layer of four tanh units,
trained with autograd, bends the boundary and solves XOR. The data sets are the playground's.

    python examples/perceptron.py            # a few seconds
    python examples/perceptron.py --fast     # tiny sizes (CI)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from common import parse_args, save_figure

import ember
from ember import nn, optim
from ember.diagnostics.plots import pyplot
from ember.playground.data import make_dataset

EXTENT = 1.5  # the figure's square: [-EXTENT, EXTENT]²


def data(name: str, n: int) -> tuple[ember.Tensor, ember.Tensor]:
    """``n`` points of the playground's data set ``name`` (noise 0.2) and labels ±1."""
    points, labels = make_dataset(name, n, noise=0.2, seed=0)
    return ember.tensor(points), ember.tensor(2.0 * labels - 1.0)


def perceptron(x: ember.Tensor, y: ember.Tensor, epochs: int) -> tuple[Any, list[int]]:
    """Rosenblatt's rule; returns the classifier and the mistakes made in each pass."""
    w, b = ember.zeros(2), ember.zeros(())
    mistakes = []
    for _ in range(epochs):
        wrong = 0
        for xi, yi in zip(x, y):
            if (yi * (xi @ w + b)).item() <= 0:  # on the wrong side (or on the line)
                w, b = w + yi * xi, b + yi
                wrong += 1
        mistakes.append(wrong)
        if wrong == 0:
            break
    return (lambda p: p @ w + b), mistakes


def mlp(x: ember.Tensor, y: ember.Tensor, steps: int) -> tuple[Any, float]:
    """2-4-1 tanh network, full-batch Adam on the logistic loss; returns it and its last loss."""
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    opt = optim.Adam(model.parameters(), lr=0.05)
    target = (y.reshape(-1, 1) + 1) / 2
    for _ in range(steps):
        loss = nn.functional.binary_cross_entropy_with_logits(model(x), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (lambda p: model(p).reshape(-1)), loss.item()


def accuracy(classify: Any, x: ember.Tensor, y: ember.Tensor) -> float:
    with ember.no_grad():
        return ((classify(x) > 0).float() * 2 - 1 == y).float().mean().item()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(__doc__, "perceptron.png", argv)
    n, epochs, steps = (60, 20, 150) if args.fast else (200, 100, 1500)
    panels, rows = [], []
    for name in ("gaussian", "xor"):
        x, y = data(name, n)
        classify, mistakes = perceptron(x, y, epochs)
        converged = mistakes[-1] == 0
        rows.append(
            {
                "model": f"perceptron on {name}",
                "accuracy": accuracy(classify, x, y),
                "passes": len(mistakes),
                "converged": converged,
            }
        )
        state = f"no mistakes after {len(mistakes)} passes" if converged else "never converges"
        panels.append((f"perceptron, {name}: {state}", x, y, classify))
    x, y = data("xor", n)
    classify, loss = mlp(x, y, steps)
    rows.append({"model": "2-4-1 tanh MLP on xor", "accuracy": accuracy(classify, x, y)})
    panels.append((f"one hidden layer of 4, xor: loss {loss:.3f}", x, y, classify))

    print(f"{n} points each, the playground's data sets at noise 0.2")
    print(f"{'model':<24}{'train accuracy':>15}  passes")
    for r in rows:
        passes = ""
        if "passes" in r:
            passes = f"{r['passes']} ({'converged' if r['converged'] else 'not converged'})"
        print(f"{r['model']:<24}{r['accuracy']:>15.3f}  {passes}")
    plot(panels, args.out)
    return {"rows": rows, "mlp_loss": loss}


def plot(panels: list[tuple[str, ember.Tensor, ember.Tensor, Any]], path: str) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.2))
    ticks = np.linspace(-EXTENT, EXTENT, 150, dtype=np.float32)
    gx, gy = np.meshgrid(ticks, ticks)
    grid = ember.tensor(np.stack([gx.ravel(), gy.ravel()], 1))
    for ax, (title, x, y, classify) in zip(axes, panels):
        with ember.no_grad():
            side = (classify(grid) > 0).numpy().reshape(gx.shape)
        ax.contourf(gx, gy, side, levels=[-0.5, 0.5, 1.5], colors=["#fbd3a6", "#a9cde6"])
        p, c = x.numpy(), y.numpy()
        ax.scatter(p[:, 0], p[:, 1], c=np.where(c > 0, "#0877bd", "#f59322"), s=10)
        ax.set(title=title, xlim=(-EXTENT, EXTENT), ylim=(-EXTENT, EXTENT), aspect="equal")
        ax.title.set_fontsize(9)
    save_figure(fig, path)


if __name__ == "__main__":
    main()
