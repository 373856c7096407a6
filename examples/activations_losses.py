"""Activations and losses: sigmoid + BCE for two classes, softmax + cross-entropy for many.

A binary classifier ends in one logit z; sigmoid(z) is the probability of class 1, and
``BCEWithLogitsLoss`` computes -log of the probability given to the true class straight from
z. A K-class classifier ends in K logits; softmax turns them into a distribution and
``CrossEntropyLoss`` takes the logits: it is exactly ``NLLLoss`` on ``log_softmax``, computed
stably (``log(softmax(z))`` overflows for large logits). The figure shows why the log loss is
the right partner for these outputs: it grows without bound as the probability of the true
class goes to 0, and its gradient with respect to the logit stays large for a confident
mistake, where squared error on the probability goes flat and the network stops learning.

    python examples/activations_losses.py            # a few seconds
    python examples/activations_losses.py --fast     # tiny sizes (CI)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from common import parse_args, save_figure

import ember
from ember import nn, optim
from ember.data.synthetic import gaussian_mixture, moons
from ember.diagnostics.plots import pyplot
from ember.nn import functional as F


def mlp(outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, outputs))


def fit(
    model: nn.Module, loss_fn: nn.Module, x: ember.Tensor, y: ember.Tensor, steps: int
) -> float:
    """Full-batch Adam; returns the final training loss."""
    opt = optim.Adam(model.parameters(), lr=0.02)
    for _ in range(steps):
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return loss.item()


def binary(n: int, steps: int) -> dict[str, float]:
    """Two moons with one logit: sigmoid + BCEWithLogitsLoss."""
    ember.manual_seed(0)
    x, y = moons(n=n, noise=0.15, seed=0).tensors
    target = y.float().reshape(-1, 1)
    model = mlp(1)
    loss = fit(model, nn.BCEWithLogitsLoss(), x, target, steps)
    with ember.no_grad():
        logits = model(x)
        prob = logits.sigmoid()
        bce_on_probs = nn.BCELoss()(prob, target).item()
        bce_on_logits = nn.BCEWithLogitsLoss()(logits, target).item()
        acc = ((prob > 0.5).float() == target).float().mean().item()
    return {"loss": loss, "accuracy": acc, "bce_logits": bce_on_logits, "bce_probs": bce_on_probs}


def multiclass(n: int, steps: int) -> dict[str, float]:
    """Five Gaussian blobs with five logits: softmax + CrossEntropyLoss."""
    ember.manual_seed(0)
    x, y = gaussian_mixture(n=n, centers=5, spread=1.2, seed=0).tensors
    model = mlp(5)
    loss = fit(model, nn.CrossEntropyLoss(), x, y, steps)
    with ember.no_grad():
        logits = model(x)
        prob_sums = F.softmax(logits, dim=1).sum(dim=1)
        acc = (logits.argmax(dim=1) == y).float().mean().item()
    return {
        "loss": loss,
        "accuracy": acc,
        "max |sum(softmax) - 1|": (prob_sums - 1).abs().max().item(),
    }


def ce_equals_nll(batch: int, classes: int) -> dict[str, float]:
    """CrossEntropyLoss(logits) vs NLLLoss(log_softmax(logits)): values and gradients."""
    ember.manual_seed(1)
    logits = (ember.randn(batch, classes) * 3).requires_grad_()
    target = ember.randint(0, classes, (batch,))
    ce = nn.CrossEntropyLoss()(logits, target)
    (g_ce,) = ember.autograd.grad(ce, [logits])
    nll = nn.NLLLoss()(F.log_softmax(logits, dim=1), target)
    (g_nll,) = ember.autograd.grad(nll, [logits])
    # large logits: softmax underflows to 0 for the other classes, so log(softmax) hits -inf
    big = ember.tensor([[0.0, 200.0]])
    with ember.no_grad():
        naive = F.softmax(big, dim=1).log()[0, 0].item()
        stable = F.log_softmax(big, dim=1)[0, 0].item()
    return {
        "cross_entropy": ce.item(),
        "nll_of_log_softmax": nll.item(),
        "loss_diff": abs(ce.item() - nll.item()),
        "grad_diff": (g_ce - g_nll).abs().max().item(),
        "naive_log_softmax": naive,
        "stable_log_softmax": stable,
    }


def loss_curves() -> dict[str, np.ndarray]:
    """Loss and its gradient w.r.t. the logit, as functions of p = P(true class) (ember ops)."""
    z = ember.linspace(-7.0, 7.0, 400, dtype=ember.float64).requires_grad_()
    p = z.sigmoid()
    log_loss = -p.log()
    squared = (1 - p) ** 2
    (g_log,) = ember.autograd.grad(log_loss.sum(), [z], retain_graph=True)  # p is shared
    (g_sq,) = ember.autograd.grad(squared.sum(), [z])
    return {
        "p": p.detach().numpy(),
        "log": log_loss.detach().numpy(),
        "squared": squared.detach().numpy(),
        "grad_log": g_log.numpy(),
        "grad_squared": g_sq.numpy(),
    }


def plot(curves: dict[str, np.ndarray], path: str) -> None:
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    p = curves["p"]
    ax1.plot(p, curves["log"], lw=2, label="log loss  −log p")
    ax1.plot(p, curves["squared"], lw=2, label="squared error  (1 − p)²")
    ax1.axvspan(0, 0.1, color="red", alpha=0.08, label="confident mistake (p < 0.1)")
    ax1.set_ylim(0, 5)
    ax1.set(
        xlabel="predicted probability of the true class p",
        ylabel="loss",
        title="how much a prediction costs",
    )
    ax1.legend()
    ax2.plot(p, np.abs(curves["grad_log"]), lw=2, label="log loss:  |p − 1|")
    ax2.plot(p, np.abs(curves["grad_squared"]), lw=2, label="squared error:  2(1 − p)²p")
    ax2.axvspan(0, 0.1, color="red", alpha=0.08)
    ax2.set(
        xlabel="predicted probability of the true class p  (p = sigmoid(z))",
        ylabel="|d loss / d logit z|",
        title="the push the logit gets (gradient)",
    )
    ax2.legend()
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(__doc__, "activations_losses.png", argv)
    n, steps = (50, 20) if args.fast else (300, 500)
    results = {
        "binary": binary(n, steps),
        "multiclass": multiclass(n, steps),
        "ce_vs_nll": ce_equals_nll(256, 10),
    }
    b, m, c = results["binary"], results["multiclass"], results["ce_vs_nll"]
    print(f"binary (two moons, {2 * n} points): one logit, sigmoid + BCEWithLogitsLoss")
    print(f"  final loss {b['loss']:.4f}, accuracy {b['accuracy']:.3f}")
    print(
        f"  BCEWithLogitsLoss(z) = {b['bce_logits']:.6f}, "
        f"BCELoss(sigmoid(z)) = {b['bce_probs']:.6f}"
    )
    print(f"multi-class (5 blobs, {n} points): five logits, softmax + CrossEntropyLoss")
    print(f"  final loss {m['loss']:.4f}, accuracy {m['accuracy']:.3f}")
    print(f"  softmax rows sum to 1: max |sum - 1| = {m['max |sum(softmax) - 1|']:.1e}")
    print("CrossEntropyLoss(logits) vs NLLLoss(log_softmax(logits)), 256 x 10 random logits")
    print(f"  {c['cross_entropy']:.8f} vs {c['nll_of_log_softmax']:.8f}")
    print(
        f"  |loss difference| {c['loss_diff']:.1e}, max |gradient difference| {c['grad_diff']:.1e}"
    )
    print(
        f"  logits [0, 200]: log(softmax) = {c['naive_log_softmax']}, "
        f"log_softmax = {c['stable_log_softmax']}"
    )
    curves = loss_curves()
    print("a confident mistake, p(true class) = 0.01:")
    i = int(np.argmin(np.abs(curves["p"] - 0.01)))
    print(
        f"  log loss {curves['log'][i]:.2f} (gradient {abs(curves['grad_log'][i]):.3f}); "
        f"squared error {curves['squared'][i]:.2f} (gradient {abs(curves['grad_squared'][i]):.3f})"
    )
    results["curves_at_p_0.01"] = {k: float(v[i]) for k, v in curves.items()}
    plot(curves, args.out)
    return results


if __name__ == "__main__":
    main()
