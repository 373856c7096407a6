"""Figures for the doctor's HTML report (matplotlib, imported lazily; PNG bytes out)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from ember.diagnostics.detectors import column, early_stopping_epoch
from ember.diagnostics.monitor import RunStats

__all__ = ["pyplot", "gradient_flow_png", "activation_histograms_png", "loss_curves_png"]


def pyplot() -> Any:
    """matplotlib.pyplot with the non-interactive Agg backend, or a clear error."""
    try:
        import matplotlib
    except ImportError as exc:
        raise RuntimeError(
            "doctor: plots need matplotlib, which is not installed\n"
            "hint: pip install matplotlib (the text report works without it)"
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    pyplot().close(fig)
    return buf.getvalue()


def gradient_flow_png(stats: RunStats) -> bytes | None:
    """Gradient RMS of each weight layer over the recorded steps, and per layer at the end."""
    idx = np.flatnonzero(stats.param_ndim >= 2)
    if len(idx) == 0 or stats.grad_norm.shape[0] == 0:
        return None
    plt = pyplot()
    rms = stats.grad_rms[:, idx]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    colors = plt.cm.viridis(np.linspace(0, 0.85, len(idx)))  # viridis ends in unreadable yellow
    for j, i in enumerate(idx):
        ax1.plot(stats.steps, rms[:, j], color=colors[j], lw=1, label=stats.param_names[i])
    ax1.set_yscale("log")
    ax1.set(xlabel="step", ylabel="gradient RMS", title="gradient flow over time (dark = input)")
    if len(idx) <= 12:
        ax1.legend(fontsize=7)
    late = np.nanmedian(rms[rms.shape[0] // 2 :], axis=0)
    ax2.plot(np.arange(len(idx)), late, "o-")
    ax2.set_yscale("log")
    ax2.set_xticks(np.arange(len(idx)))
    ax2.set_xticklabels([stats.param_names[i] for i in idx], rotation=70, fontsize=7)
    ax2.set(ylabel="late median gradient RMS", title="gradient per layer (input → output)")
    return _png(fig)


def activation_histograms_png(stats: RunStats, limit: int = 12) -> bytes | None:
    """Output histograms (first vs latest recorded batch) of the leaf modules, in model order.

    With more than ``limit`` modules the activation layers (ReLU, sigmoid, tanh) go first.
    """
    order = [i for i, k in enumerate(stats.act_kinds) if k != "other"]
    order += [i for i, k in enumerate(stats.act_kinds) if k == "other"]
    order = sorted([i for i in order if stats.hist_last[i].sum() > 0][:limit])
    if not order:
        return None
    plt = pyplot()
    cols = min(4, len(order))
    rows = -(-len(order) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    for ax in axes.flat[len(order) :]:
        ax.axis("off")
    for ax, i in zip(axes.flat, order, strict=False):
        last, first = stats.hist_last[i], stats.hist_first[i]
        ax.stairs(
            last / max(last.sum(), 1),
            stats.hist_edges_last[i],
            fill=True,
            alpha=0.6,
            color="tab:orange",
            label="latest batch",
        )
        # an outline, so the first batch stays visible where the latest one covers it
        ax.stairs(
            first / max(first.sum(), 1),
            stats.hist_edges_first[i],
            color="tab:blue",
            lw=1.2,
            label="first batch",
        )
        kind = stats.act_types[i] if i < len(stats.act_types) else stats.act_kinds[i]
        ax.set_title(f"{stats.act_names[i]} ({kind})", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(plt.MaxNLocator(5))  # long tick labels must not overlap
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def loss_curves_png(stats: RunStats, patience: int = 5) -> bytes | None:
    """Train/val loss per epoch with the early-stopping point marked, and per-step loss."""
    train, val = column(stats.epochs, "train_loss"), column(stats.epochs, "val_loss")
    has_steps = len(stats.losses) > 1
    if train is None and not has_steps:
        return None
    plt = pyplot()
    panels = (train is not None) + has_steps
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4), squeeze=False)
    ax = axes[0, 0]
    if train is not None:
        ep = np.arange(1, len(train) + 1)
        few = len(ep) <= 30  # markers on long runs merge into a thick band
        ax.plot(ep, train, "o-" if few else "-", label="train loss")
        if val is not None:
            ax.plot(ep[: len(val)], val, "s-" if few else "-", label="val loss")
            best = int(np.nanargmin(val))
            ax.axvline(ep[best], color="green", ls="--", label=f"best val (epoch {ep[best]})")
            stop = early_stopping_epoch(val, patience)
            if stop is not None:
                ax.axvline(ep[stop[0]], color="red", ls=":", label=f"early stop (p={patience})")
        ax.set(xlabel="epoch", ylabel="loss", title="loss per epoch")
        ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
        both = train if val is None else np.concatenate([train, val])
        if np.nanmin(both) > 0 and np.nanmax(both) > 10 * np.nanmin(both):
            ax.set_yscale("log")  # train and val loss that differ by orders of magnitude
        ax.legend(fontsize=8)
        ax = axes[0, -1]
    if has_steps:
        ax.plot(stats.loss_steps, stats.losses, lw=0.8)
        ax.set(xlabel="step", ylabel="loss", title="loss per step")
        if np.nanmin(stats.losses) > 0:
            ax.set_yscale("log")
    fig.tight_layout()
    return _png(fig)
