"""Regularisation: one over-parameterised MLP on 1,000 Fashion-MNIST images, eight ways.

A 784-512-512-10 network has ~670k weights for 1,000 training images: it reaches 100% training
accuracy and memorises noise, so its test accuracy lags far behind. Each regulariser attacks
that generalisation gap differently: early stopping keeps the weights from the epoch with the
best validation loss; dropout and input noise train on perturbed activations/inputs; batch
norm adds batch-to-batch noise and eases optimisation; weight decay and max-norm keep weights
small; activity regularisation keeps hidden activations small. Every variant starts from the
same seed and sees the same batches; the script prints one table and writes a figure.

    python examples/regularisation.py            # a few minutes on 2 cores
    python examples/regularisation.py --fast     # tiny sizes (CI)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from common import parse_args, save_figure

import ember
from ember import nn, optim
from ember.data.datasets import FashionMNIST
from ember.diagnostics.plots import pyplot
from ember.nn import functional as F

VARIANTS = (
    "none",
    "early stopping",
    "dropout",
    "batch norm",
    "weight decay",
    "max-norm",
    "activity reg.",
    "input noise",
)
PATIENCE = 10
# regulariser strengths (picked once by hand on the validation set, never on the test set)
DROPOUT = 0.5
NOISE_STD = 0.5  # the inputs are standardised, so this is half a pixel standard deviation
WEIGHT_DECAY = 5e-3
MAX_NORM = 1.0
ACTIVITY_L1 = 3e-4


@dataclass
class Sizes:
    train: int
    val: int
    test: int
    hidden: int
    epochs: int
    batch: int = 50


FULL = Sizes(train=1000, val=1000, test=10000, hidden=512, epochs=80)
FAST = Sizes(train=200, val=200, test=500, hidden=64, epochs=4)


def load(sizes: Sizes) -> dict[str, np.ndarray]:
    """Disjoint random train/validation subsets of the training split and a test subset."""
    rng = np.random.default_rng(0)
    train, test = FashionMNIST(train=True), FashionMNIST(train=False)
    idx = rng.permutation(len(train))[: sizes.train + sizes.val]
    test_idx = rng.permutation(len(test))[: sizes.test]

    def flat(images: np.ndarray) -> np.ndarray:
        return images.reshape(len(images), -1).astype(np.float32) / 255.0

    x, y = flat(train.data[idx]), train.targets[idx]
    mean, std = x[: sizes.train].mean(), x[: sizes.train].std()
    return {
        "x_train": (x[: sizes.train] - mean) / std,
        "y_train": y[: sizes.train],
        "x_val": (x[sizes.train :] - mean) / std,
        "y_val": y[sizes.train :],
        "x_test": (flat(test.data[test_idx]) - mean) / std,
        "y_test": test.targets[test_idx],
    }


def build(variant: str, hidden: int) -> nn.Sequential:
    """784-hidden-hidden-10 ReLU MLP; the variant adds its layers around the hidden ones."""
    layers: list[nn.Module] = [nn.GaussianNoise(NOISE_STD)] if variant == "input noise" else []
    width = 784
    for _ in range(2):
        layers.append(nn.Linear(width, hidden))
        if variant == "batch norm":
            layers.append(nn.BatchNorm1d(hidden))
        layers.append(nn.ReLU())
        if variant == "dropout":
            layers.append(nn.Dropout(DROPOUT))
        width = hidden
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def accuracy_and_loss(model: nn.Module, x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Eval-mode accuracy and mean cross-entropy, in chunks to bound memory."""
    model.eval()
    correct, total_loss = 0.0, 0.0
    with ember.no_grad():
        for i in range(0, len(x), 2000):
            logits = model(ember.tensor(x[i : i + 2000]))
            target = ember.tensor(y[i : i + 2000])
            correct += (logits.argmax(dim=1) == target).float().sum().item()
            total_loss += F.cross_entropy(logits, target, reduction="sum").item()
    model.train()
    return correct / len(x), total_loss / len(x)


def train(variant: str, data: dict[str, np.ndarray], sizes: Sizes) -> dict[str, Any]:
    """SGD with momentum; the variant decides the extra loss term and the post-step constraint."""
    ember.manual_seed(0)
    model = build(variant, sizes.hidden)
    decay = WEIGHT_DECAY if variant == "weight decay" else 0.0
    opt = optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=decay)
    max_norm = nn.utils.MaxNorm(model, max_value=MAX_NORM) if variant == "max-norm" else None
    hidden_relus = [m for m in model if isinstance(m, nn.ReLU)]
    regs = [
        nn.ActivityRegularizer(m, l1=ACTIVITY_L1)
        for m in hidden_relus
        if variant == "activity reg."
    ]

    order = np.random.default_rng(1)  # the same batches for every variant
    x, y = data["x_train"], data["y_train"]
    val_losses, best = [], (np.inf, 0, model.state_dict())
    for epoch in range(sizes.epochs):
        perm = order.permutation(len(x))
        for i in range(0, len(x), sizes.batch):
            b = perm[i : i + sizes.batch]
            loss = F.cross_entropy(model(ember.tensor(x[b])), ember.tensor(y[b]))
            for reg in regs:
                loss = loss + reg.penalty()
                reg.reset()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if max_norm is not None:
                max_norm.apply()
        val_loss = accuracy_and_loss(model, data["x_val"], data["y_val"])[1]
        val_losses.append(val_loss)
        if val_loss < best[0]:
            best = (val_loss, epoch, {k: v.clone() for k, v in model.state_dict().items()})
        elif variant == "early stopping" and epoch - best[1] >= PATIENCE:
            model.load_state_dict(best[2])  # restore the best epoch's weights
            break
    train_acc, train_loss = accuracy_and_loss(model, x, y)
    test_acc, test_loss = accuracy_and_loss(model, data["x_test"], data["y_test"])
    epochs = best[1] + 1 if variant == "early stopping" else len(val_losses)
    return {
        "variant": variant,
        "train_acc": train_acc,
        "test_acc": test_acc,
        "gap": train_acc - test_acc,
        "train_loss": train_loss,
        "test_loss": test_loss,
        "epochs": epochs,
        "epochs_run": len(val_losses),
        "val_losses": val_losses,
    }


def plot(rows: list[dict[str, Any]], sizes: Sizes, path: str) -> None:
    plt = pyplot()
    fig, (ax1, ax2, ax3) = plt.subplots(
        1, 3, figsize=(16, 4.8), gridspec_kw={"width_ratios": [5, 3, 4]}
    )
    names = [r["variant"] for r in rows]
    pos = np.arange(len(rows))
    ax1.bar(pos - 0.2, [r["train_acc"] for r in rows], 0.4, label="train", color="#9ab")
    ax1.bar(pos + 0.2, [r["test_acc"] for r in rows], 0.4, label="test", color="#236")
    for p, r in zip(pos, rows):
        ax1.annotate(f"{100 * r['gap']:.1f}", (p, r["train_acc"] + 0.005), ha="center")
    ax1.set_xticks(pos, names, rotation=25, ha="right")
    ax1.set_ylim(min(r["test_acc"] for r in rows) - 0.15, 1.1)
    ax1.set(ylabel="accuracy", title="train vs test accuracy (numbers: gap in points)")
    ax1.legend(loc="upper right", ncol=2)
    ax2.barh(pos, [r["test_loss"] for r in rows], color="#c63")
    ax2.set_yticks(pos, names)
    ax2.invert_yaxis()
    ax2.set(xlabel="test cross-entropy", title="test loss of the final weights")
    for r in rows:
        style = {"color": "black", "lw": 2.5} if r["variant"] == "none" else {"lw": 1.2}
        ax3.plot(
            np.arange(1, len(r["val_losses"]) + 1), r["val_losses"], label=r["variant"], **style
        )
    # the final losses set the top; the early spikes of the noisier variants may be cut
    lowest = min(min(r["val_losses"]) for r in rows)
    ax3.set_ylim(0.9 * lowest, 1.15 * max(r["val_losses"][-1] for r in rows))
    ax3.set(xlabel="epoch", ylabel="validation cross-entropy", title="validation loss")
    ax3.legend(fontsize=8, ncol=2, loc="best")
    fig.suptitle(f"784-{sizes.hidden}-{sizes.hidden}-10 MLP on {sizes.train} Fashion-MNIST images")
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    args = parse_args(__doc__, "regularisation.png", argv)
    sizes = FAST if args.fast else FULL
    data = load(sizes)
    rows = [train(v, data, sizes) for v in VARIANTS]
    print(
        f"{sizes.hidden}-{sizes.hidden} MLP, {sizes.train} train / {sizes.val} val / "
        f"{sizes.test} test images, up to {sizes.epochs} epochs of SGD (momentum 0.9)"
    )
    print(
        f"{'regulariser':<16}{'train acc':>10}{'test acc':>10}{'gap':>8}{'epochs':>8}"
        f"{'train CE':>10}{'test CE':>10}"
    )
    for r in rows:
        print(
            f"{r['variant']:<16}{r['train_acc']:>10.3f}{r['test_acc']:>10.3f}"
            f"{r['gap']:>8.3f}{r['epochs']:>8d}{r['train_loss']:>10.3f}{r['test_loss']:>10.3f}"
        )
    print(f"early stopping: epochs = the epoch whose weights it kept (it ran {PATIENCE} more)")
    plot(rows, sizes, args.out)
    return rows


if __name__ == "__main__":
    main()
