"""Overfitting: fit 15 noisy samples of sin(x) with polynomials and a small MLP.

A degree-9 polynomial has enough freedom to pass (almost) through every noisy training point,
so its training error is tiny and its test error large; degree 3 cannot follow the noise and
generalises. A small MLP trained far too long does the same as degree 9, gradually: its
validation loss falls, bottoms out, and rises while the training loss keeps falling. The
overfitting detector finds that point and the epoch where early stopping would have stopped.

    python examples/overfitting.py            # ~1 minute on 2 cores
    python examples/overfitting.py --fast     # tiny sizes (CI)
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from common import parse_args, save_figure

import ember
from ember import nn, optim
from ember.diagnostics import GradientMonitor
from ember.diagnostics.detectors import column, early_stopping_epoch, overfitting
from ember.diagnostics.plots import pyplot

PATIENCE = 10
STEPS_PER_EPOCH = 10


def samples(n: int, rng: np.random.Generator, noise: float = 0.3) -> tuple[np.ndarray, ...]:
    x = np.sort(rng.uniform(-np.pi, np.pi, n))
    return x, np.sin(x) + noise * rng.standard_normal(n)


def fit_polynomial(degree: int, x: np.ndarray, y: np.ndarray) -> Any:
    """Least-squares polynomial (NumPy), in a scaled domain for a well-conditioned fit."""
    return np.polynomial.Polynomial.fit(x, y, degree)


def train_mlp(data: dict[str, np.ndarray], epochs: int) -> dict[str, Any]:
    """1-64-64-1 tanh MLP, full-batch Adam; one 'epoch' = STEPS_PER_EPOCH steps."""
    ember.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(1, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 1)
    )
    opt = optim.Adam(model.parameters(), lr=0.01)
    monitor = GradientMonitor(model, every=STEPS_PER_EPOCH)

    def t(a: np.ndarray) -> ember.Tensor:
        return ember.tensor(a.astype(np.float32).reshape(-1, 1))

    xt, yt, xv, yv = t(data["x_train"]), t(data["y_train"]), t(data["x_val"]), t(data["y_val"])
    grid = t(data["grid"])
    curves: list[np.ndarray] = []
    for epoch in range(1, epochs + 1):
        for _ in range(STEPS_PER_EPOCH):
            loss = ((model(xt) - yt) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            monitor.step(loss)
            opt.step()
        with ember.no_grad():
            val = ((model(xv) - yv) ** 2).mean().item()
            train = ((model(xt) - yt) ** 2).mean().item()
            curves.append(model(grid).numpy().ravel())
        monitor.on_epoch_end(None, {"epoch": epoch, "train_loss": train, "val_loss": val})
    stats = monitor.stats()
    best = int(np.argmin(column(stats.epochs, "val_loss")))
    return {
        "stats": stats,
        "curves": curves,
        "best": best,
        "findings": monitor.findings(patience=PATIENCE),
    }


def stats_until(stats: Any, epochs: int) -> Any:
    """The statistics as they were after ``epochs`` epochs (per-epoch columns cut)."""
    cut = copy.copy(stats)
    cut.epochs = {k: v[:epochs] for k, v in stats.epochs.items()}
    return cut


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(__doc__, "overfitting.png", argv)
    epochs = 40 if args.fast else 400
    rng = np.random.default_rng(0)
    x_train, y_train = samples(15, rng)
    x_val, y_val = samples(15, rng)
    x_test, y_test = samples(500, rng)
    grid = np.linspace(-np.pi, np.pi, 300)
    data = dict(x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val, grid=grid)

    def mse(pred: np.ndarray, y: np.ndarray) -> float:
        return float(((pred - y) ** 2).mean())

    rows, fits = [], {}
    for degree in (1, 3, 9):
        p = fit_polynomial(degree, x_train, y_train)
        fits[f"degree {degree}"] = p(grid)
        rows.append(
            (f"polynomial degree {degree}", mse(p(x_train), y_train), mse(p(x_test), y_test))
        )
    mlp = train_mlp(data, epochs)
    stats, best = mlp["stats"], mlp["best"]
    model_at = {"best": best, "last": len(mlp["curves"]) - 1}
    for name, i in model_at.items():
        curve = mlp["curves"][i]
        test_pred = np.interp(x_test, grid, curve)
        train_loss = column(stats.epochs, "train_loss")[i]
        rows.append((f"MLP, {name} epoch ({i + 1})", train_loss, mse(test_pred, y_test)))
        fits[f"MLP epoch {i + 1}"] = curve

    print("noise variance 0.09 is the best achievable test MSE")
    print(f"{'model':<28}{'train MSE':>10}{'test MSE':>10}")
    for name, tr, te in rows:
        print(f"{name:<28}{tr:>10.4f}{te:>10.4f}")
    print(f"\nMLP findings ({len(mlp['findings'])}):")
    for f in mlp["findings"]:
        print(f"  {f}")
    degree3_like = overfitting(stats_until(stats, best + 1), patience=PATIENCE)
    print(
        f"overfitting detector on the MLP stopped at its best epoch: {len(degree3_like)} finding(s)"
    )
    plot(data, fits, stats, args.out)
    return {"rows": rows, "findings": mlp["findings"], "findings_at_best": degree3_like}


def plot(data: dict[str, np.ndarray], fits: dict[str, np.ndarray], stats: Any, path: str) -> None:
    plt = pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    ax1.plot(data["grid"], np.sin(data["grid"]), "k--", lw=1, label="sin(x)")
    for name, curve in fits.items():
        ax1.plot(data["grid"], curve, lw=1.5, label=name)
    ax1.scatter(data["x_train"], data["y_train"], c="k", s=18, zorder=3, label="train samples")
    ax1.set_ylim(-2.5, 2.5)
    ax1.set(xlabel="x", ylabel="y", title="fits to 15 noisy samples")
    ax1.legend(fontsize=8)
    train, val = column(stats.epochs, "train_loss"), column(stats.epochs, "val_loss")
    ep = np.arange(1, len(train) + 1)
    ax2.plot(ep, train, label="train MSE")
    ax2.plot(ep, val, label="validation MSE")
    stop = early_stopping_epoch(val, PATIENCE)
    best = int(np.argmin(val))
    ax2.axvline(best + 1, color="green", ls="--", label=f"best val (epoch {best + 1})")
    if stop is not None:
        ax2.axvline(stop[0] + 1, color="red", ls=":", label=f"early stop, patience {PATIENCE}")
    ax2.set_yscale("log")
    ax2.set(
        xlabel=f"epoch ({STEPS_PER_EPOCH} full-batch Adam steps)",
        ylabel="MSE",
        title="MLP trained too long",
    )
    ax2.legend(fontsize=8)
    save_figure(fig, path)


if __name__ == "__main__":
    main()
