"""Detectors: explicit rules that turn recorded statistics into findings with a suggested fix.

Every detector takes a ``RunStats`` and returns a list of ``Finding`` (empty when the run looks
healthy for that problem). The thresholds are module constants and stated in each docstring;
they are heuristics chosen so that runs built to show a problem fire and ordinary healthy runs
stay quiet. "Late" statistics are medians over the second half of the recorded steps, so the
first noisy steps do not decide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ember.diagnostics.monitor import RunStats

__all__ = [
    "Finding",
    "run_detectors",
    "loss_stats",
    "early_stopping_epoch",
    "column",
    "vanishing_gradients",
    "exploding_gradients",
    "dead_units",
    "saturation",
    "overfitting",
    "underfitting",
    "learning_rate_too_high",
    "learning_rate_too_low",
]

SEVERITIES = ("critical", "warning", "info")

VANISH_RATIO = 1e-2  # early/late gradient RMS below this: vanishing (warning)
VANISH_CRITICAL = 1e-3  # ... below this: critical
EXPLODE_GROWTH = 1e2  # total grad norm late/early growth: exploding (warning)
EXPLODE_CRITICAL = 1e4
EXPLODE_SPIKE = 1e3  # max / median total grad norm: spikes
DEAD_WARN, DEAD_CRITICAL = 0.5, 0.9  # fraction of dead units in a ReLU layer
SAT_WARN, SAT_CRITICAL = 0.3, 0.7  # fraction of saturated sigmoid/tanh outputs
OVERFIT_RISE = 0.1  # val loss this fraction above its minimum at the end
UNDERFIT_FLAT = 0.02  # relative improvement over the last half below this: flat
UNDERFIT_HIGH = 0.7  # final train loss at least this fraction of the first epoch's
UNDERFIT_GAP = 0.1  # |val - train| / train below this: train ≈ val
UNDERFIT_ACC = 0.9  # train accuracy at or above this: not underfitting
LR_HIGH_RATIO = 0.1  # late median update/weight ratio of the last layer above this
LR_LOW_RATIO = 1e-5  # ... below this
LR_LOW_MOVE = 0.01  # loss moved less than this fraction over the run
LR_OSCILLATE = 0.4  # fraction of epochs whose loss went up


@dataclass
class Finding:
    """One diagnosed problem: what, how bad, the numbers behind it, and what to try."""

    kind: str
    severity: str
    evidence: str
    suggestion: str

    def __str__(self) -> str:
        title = self.kind.replace("_", " ")
        return f"[{self.severity.upper()}] {title}: {self.evidence}\n    try: {self.suggestion}"


# -- helpers ------------------------------------------------------------------------------------
_ALIASES = {
    "epoch": ("epoch", "epochs", "step"),
    "train_loss": ("train_loss", "loss", "training_loss", "train/loss", "trn_loss"),
    "val_loss": ("val_loss", "valid_loss", "validation_loss", "val/loss", "test_loss", "dev_loss"),
    "train_accuracy": ("train_accuracy", "accuracy", "train_acc", "acc", "train/accuracy"),
    "val_accuracy": (
        "val_accuracy",
        "val_acc",
        "valid_accuracy",
        "validation_accuracy",
        "val/accuracy",
        "test_accuracy",
    ),
}


def column(epochs: dict[str, np.ndarray], name: str) -> np.ndarray | None:
    """The per-epoch column ``name`` (train_loss, val_loss, …) under any common spelling."""
    lower = {k.strip().lower(): v for k, v in epochs.items()}
    for alias in _ALIASES.get(name, (name,)):
        if alias in lower:
            return np.asarray(lower[alias], dtype=np.float64)
    return None


def _epoch_numbers(stats: RunStats, n: int) -> np.ndarray:
    ep = column(stats.epochs, "epoch")
    return ep[:n] if ep is not None and len(ep) >= n else np.arange(1, n + 1, dtype=np.float64)


def _late(a: np.ndarray) -> np.ndarray:
    """Median over the second half of the rows (ignoring nan)."""
    if a.shape[0] == 0:
        return np.full(a.shape[1:], np.nan)
    tail = a[a.shape[0] // 2 :]
    finite = np.where(np.isfinite(tail), tail, np.nan)
    with np.errstate(all="ignore"):
        out = np.full(a.shape[1:], np.nan)
        ok = np.isfinite(finite).any(axis=0)
        out[ok] = np.nanmedian(finite[:, ok], axis=0)
    return out


def loss_stats(losses: np.ndarray) -> dict[str, float]:
    """Summary of a loss curve: start/end (10% windows), min, relative change, ups, nonfinite."""
    losses = np.asarray(losses, dtype=np.float64)
    finite = losses[np.isfinite(losses)]
    n = len(finite)
    out = {"n": float(len(losses)), "nonfinite": float(len(losses) - n)}
    if n == 0:
        return out
    w = max(1, n // 10)
    head, tail = float(finite[:w].mean()), float(finite[-w:].mean())
    half = finite[n // 2 :]
    diffs = np.diff(finite)
    out.update(
        head=head,
        tail=tail,
        min=float(finite.min()),
        argmin=float(np.argmin(finite)),
        rel_change=(tail - head) / abs(head) if head else 0.0,
        late_rel_change=float((half[-1] - half[0]) / abs(half[0])) if half[0] else 0.0,
        up_fraction=float((diffs > 0).mean()) if len(diffs) else 0.0,
    )
    return out


def _loss_curve(stats: RunStats) -> tuple[np.ndarray, str]:
    """Per-step losses when at least 10 were logged, else the per-epoch train loss."""
    if len(stats.losses) >= 10:
        return stats.losses, "step"
    train = column(stats.epochs, "train_loss")
    if train is not None and len(train):
        return train, "epoch"
    return stats.losses, "step"


def _weight_layers(stats: RunStats) -> np.ndarray:
    """Indices of the weight matrices/kernels (ndim >= 2), in model order (input first)."""
    return np.flatnonzero(stats.param_ndim >= 2) if len(stats.param_ndim) else np.zeros(0, int)


def _fmt(x: float) -> str:
    return f"{x:.3g}"


# -- gradients ----------------------------------------------------------------------------------
def vanishing_gradients(stats: RunStats) -> list[Finding]:
    """Early layers' gradients ≥ 2 orders of magnitude below the last layers'.

    Rule: with at least 3 weight layers (ndim ≥ 2, model order), take each layer's late median
    gradient RMS (norm / sqrt(numel)); early = geometric mean of the first quarter of the
    layers (at least one), late = that of the last quarter. Fires when early/late < 1e-2
    (warning); critical when < 1e-3 or the loss fell by less than 10% over the run.
    """
    idx = _weight_layers(stats)
    if len(idx) < 3 or stats.grad_norm.shape[0] == 0:
        return []
    k = max(1, len(idx) // 4)
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(stats.grad_rms[:, idx])
    ok = np.isfinite(logs).all(axis=1)
    if not ok.any():
        return []
    early_log, late_log = logs[ok, :k].mean(axis=1), logs[ok, -k:].mean(axis=1)
    ratio = 10 ** float(np.median(early_log - late_log))
    early, late = 10 ** float(np.median(early_log)), 10 ** float(np.median(late_log))
    if not ratio < VANISH_RATIO:
        return []
    curve, unit = _loss_curve(stats)
    ls = loss_stats(curve)
    decrease = -ls.get("rel_change", math.nan)
    slow = not decrease >= 0.1
    severity = "critical" if ratio < VANISH_CRITICAL or slow else "warning"
    names = [stats.param_names[i] for i in idx]
    evidence = (
        f"gradient RMS of the first {k} weight layer(s) ({', '.join(names[:k])}) is "
        f"{_fmt(early)} vs {_fmt(late)} in the last {k} ({', '.join(names[-k:])}): "
        f"{-math.log10(ratio):.1f} orders of magnitude smaller"
    )
    if math.isfinite(decrease):
        evidence += f"; the loss fell by {100 * decrease:.1f}% over {int(ls['n'])} {unit}s"
    return [
        Finding(
            "vanishing_gradients",
            severity,
            evidence,
            "use ReLU-family activations instead of sigmoid/tanh in hidden layers, He/Xavier "
            "initialisation, batch normalisation, or residual (skip) connections",
        )
    ]


def exploding_gradients(stats: RunStats) -> list[Finding]:
    """Gradient norms that grow by orders of magnitude, spike, or become NaN/Inf.

    Rule: critical when any gradient norm or loss is NaN/Inf, or the total gradient norm's
    median over the last 10% of recorded steps is ≥ 1e4 × that of the first 10%; warning when
    that growth is ≥ 1e2, or a total norm is ≥ 1e3 × the median of the norms of the 10% of
    recorded steps before it (a spike).
    """
    total = np.sqrt((stats.grad_norm**2).sum(axis=1)) if stats.grad_norm.size else np.zeros(0)
    bad_grads = int((~np.isfinite(total)).sum())
    bad_loss = int((~np.isfinite(stats.losses)).sum())
    train = column(stats.epochs, "train_loss")
    bad_loss += int((~np.isfinite(train)).sum()) if train is not None else 0
    suggestion = (
        "clip gradients (nn.utils.clip_grad_norm_(params, 1.0)), lower the learning rate, use "
        "batch normalisation and a careful (He/Xavier) initialisation"
    )
    if bad_grads or bad_loss:
        first = int(stats.steps[np.flatnonzero(~np.isfinite(total))[0]]) if bad_grads else None
        where = f" (first at step {first})" if first is not None else ""
        evidence = (
            f"{bad_grads} recorded step(s) with NaN/Inf gradients{where} and {bad_loss} NaN/Inf "
            "loss value(s)"
        )
        return [Finding("exploding_gradients", "critical", evidence, suggestion)]
    if len(total) < 4:
        return []
    w = max(1, len(total) // 10)
    early, late = float(np.median(total[:w])), float(np.median(total[-w:]))
    growth = late / early if early > 0 else math.inf if late > 0 else 1.0
    # a spike: a norm far above the median of the w steps before it (a decay never is one)
    before = np.median(np.lib.stride_tricks.sliding_window_view(total[:-1], w), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        jumps = np.where(before > 0, total[w:] / before, 1.0)
    peak = w + int(np.argmax(jumps))
    median = float(before[peak - w])
    spike = float(jumps[peak - w])
    if growth >= EXPLODE_GROWTH:
        severity = "critical" if growth >= EXPLODE_CRITICAL else "warning"
        evidence = (
            f"total gradient norm grew from {_fmt(early)} to {_fmt(late)} "
            f"({math.log10(growth):.1f} orders of magnitude) over {len(total)} recorded steps"
        )
        return [Finding("exploding_gradients", severity, evidence, suggestion)]
    if spike >= EXPLODE_SPIKE:
        evidence = (
            f"total gradient norm spiked to {_fmt(total[peak])} at step {int(stats.steps[peak])}, "
            f"{_fmt(spike)}x the median {_fmt(median)} of the {w} step(s) before"
        )
        return [Finding("exploding_gradients", "warning", evidence, suggestion)]
    return []


# -- activations --------------------------------------------------------------------------------
def _late_activation_fraction(stats: RunStats, values: np.ndarray, kinds: tuple) -> list:
    """(name, late median) of the layers of the given kinds, skipping the model's output layer."""
    if values.size == 0:
        return []
    late = _late(values)
    last = len(stats.act_names) - 1
    return [
        (stats.act_names[i], float(late[i]))
        for i, k in enumerate(stats.act_kinds)
        if k in kinds and i != last and np.isfinite(late[i])
    ]


def _layer_finding(
    kind: str,
    layers: list,
    warn: float,
    critical: float,
    what: str,
    noun: str,
    suggestion: str,
) -> list[Finding]:
    """One finding listing the (name, fraction) ``layers`` at or above ``warn``, if any."""
    bad = [(n, f) for n, f in layers if f >= warn]
    if not bad:
        return []
    worst = max(f for _, f in bad)
    listed = ", ".join(f"{n}: {100 * f:.0f}%" for n, f in bad)
    severity = "critical" if worst >= critical else "warning"
    evidence = f"{what} in {len(bad)} of {len(layers)} {noun}: {listed}"
    return [Finding(kind, severity, evidence, suggestion)]


def dead_units(stats: RunStats) -> list[Finding]:
    """ReLU layers where most units never activate.

    Rule: a unit is dead in a batch when it is ≤ 0 for every sample; per ReLU-family layer
    take the late median dead fraction; warning when any layer has ≥ 50%, critical ≥ 90%.
    """
    layers = _late_activation_fraction(stats, stats.act_dead, ("relu",))
    return _layer_finding(
        "dead_units",
        layers,
        DEAD_WARN,
        DEAD_CRITICAL,
        "dead ReLU units (≤ 0 for every sample of a batch)",
        "ReLU layer(s)",
        "lower the learning rate, use LeakyReLU/ELU/GELU, He initialisation with zero "
        "biases (a large negative bias kills units), or batch normalisation before the ReLU",
    )


def saturation(stats: RunStats) -> list[Finding]:
    """Sigmoid/tanh layers whose outputs sit in the flat tails (gradient ≈ 0).

    Rule: saturated means sigmoid < 0.01 or > 0.99, |tanh| > 0.99; per layer take the late
    median saturated fraction; warning when any hidden layer has ≥ 30%, critical ≥ 70%. The
    model's last leaf module is skipped (a confident output activation saturates by design).
    """
    layers = _late_activation_fraction(stats, stats.act_saturated, ("sigmoid", "tanh"))
    return _layer_finding(
        "saturation",
        layers,
        SAT_WARN,
        SAT_CRITICAL,
        "saturated sigmoid/tanh outputs",
        "layer(s)",
        "normalise the inputs, use Xavier initialisation, batch normalisation, or "
        "ReLU-family activations in hidden layers",
    )


# -- loss curves --------------------------------------------------------------------------------
def early_stopping_epoch(val_loss: np.ndarray, patience: int) -> tuple[int, int] | None:
    """(index where EarlyStopping(patience) stops, index of the best epoch), or None."""
    best, best_i, wait = math.inf, 0, 0
    for i, v in enumerate(val_loss):
        if v < best:
            best, best_i, wait = v, i, 0
            continue
        wait += 1
        if wait > patience:
            return i, best_i
    return None


def overfitting(stats: RunStats, patience: int = 5) -> list[Finding]:
    """Validation loss rising while training loss keeps falling.

    Rule: with ≥ 4 epochs of train and val loss, let b be the epoch of the lowest val loss;
    fires when at least 2 epochs follow b, the final val loss is ≥ 10% above the minimum and
    the final train loss is below the train loss at b (warning; critical when ≥ 50% above).
    The evidence names the epoch where EarlyStopping(patience) would have stopped.
    """
    train, val = column(stats.epochs, "train_loss"), column(stats.epochs, "val_loss")
    if train is None or val is None or len(val) < 4 or not np.isfinite(val).all():
        return []
    b = int(np.argmin(val))
    rise = (val[-1] - val[b]) / abs(val[b]) if val[b] else math.inf
    if len(val) - 1 - b < 2 or rise < OVERFIT_RISE or not train[-1] < train[b]:
        return []
    ep = _epoch_numbers(stats, len(val))
    evidence = (
        f"val loss bottomed at {_fmt(val[b])} in epoch {ep[b]:.0f} and rose to {_fmt(val[-1])} "
        f"(+{100 * rise:.0f}%) by epoch {ep[-1]:.0f} while train loss fell from "
        f"{_fmt(train[b])} to {_fmt(train[-1])}"
    )
    stop = early_stopping_epoch(val, patience)
    if stop is not None:
        evidence += (
            f"; EarlyStopping(patience={patience}) would have stopped after epoch "
            f"{ep[stop[0]]:.0f} and restored epoch {ep[stop[1]]:.0f}"
        )
    else:
        evidence += f"; EarlyStopping(patience={patience}) would not have stopped yet"
    return [
        Finding(
            "overfitting",
            "critical" if rise >= 0.5 else "warning",
            evidence,
            "early stopping (EarlyStopping(monitor='val_loss', restore_best_weights=True)), "
            "dropout, weight decay, more data or data augmentation / input noise, a smaller model",
        )
    ]


def underfitting(stats: RunStats) -> list[Finding]:
    """Training loss high and flat, with validation loss about equal to it.

    Rule: with ≥ 3 epochs of train loss: flat (the loss improved by < 2% over the last half of
    the epochs), high (final train loss ≥ 70% of the first epoch's), train ≈ val when val is
    logged (|val - train| / train ≤ 10%) and train accuracy, when logged, below 90%.
    """
    train, val = column(stats.epochs, "train_loss"), column(stats.epochs, "val_loss")
    acc = column(stats.epochs, "train_accuracy")
    if train is None or len(train) < 3 or not np.isfinite(train).all() or train[0] <= 0:
        return []
    half = train[len(train) // 2 :]
    improvement = (half[0] - half[-1]) / abs(half[0]) if half[0] else 0.0
    level = train[-1] / train[0]
    gap = abs(val[-1] - train[-1]) / abs(train[-1]) if val is not None and train[-1] else 0.0
    if improvement >= UNDERFIT_FLAT or level < UNDERFIT_HIGH or gap > UNDERFIT_GAP:
        return []
    if acc is not None and np.isfinite(acc[-1]) and acc[-1] >= UNDERFIT_ACC:
        return []
    evidence = (
        f"train loss is still {100 * level:.0f}% of the first epoch's ({_fmt(train[-1])} vs "
        f"{_fmt(train[0])}) and improved only {100 * improvement:.1f}% over the last "
        f"{len(half)} epochs"
    )
    if val is not None:
        evidence += f"; val loss {_fmt(val[-1])} is within {100 * gap:.0f}% of it"
    return [
        Finding(
            "underfitting",
            "warning",
            evidence,
            "a bigger model (wider/deeper), train longer, a better learning rate, less "
            "regularisation (dropout, weight decay), better features",
        )
    ]


def _last_layer_update_ratio(stats: RunStats) -> float:
    idx = _weight_layers(stats)
    if len(idx) == 0 or stats.update_ratio.shape[0] == 0:
        return math.nan
    return float(_late(stats.update_ratio[:, idx[-1:]])[0])


def learning_rate_too_high(stats: RunStats) -> list[Finding]:
    """A diverging or oscillating loss, or huge relative weight updates.

    Rule: critical when the loss is NaN/Inf or ends (last 10% mean) above where it started
    (first 10% mean) and ≥ 1.5 × its minimum; warning when ≥ 40% of the epoch-to-epoch changes
    of the per-epoch train loss are increases (≥ 5 epochs) and it fell by < 50% overall, or
    when the last weight layer's late median update/weight ratio is > 0.1.
    """
    curve, unit = _loss_curve(stats)
    ls = loss_stats(curve)
    suggestion = "lower the learning rate (e.g. 3-10x), add warm-up or gradient clipping"
    if ls.get("nonfinite", 0) > 0:
        evidence = f"the loss became NaN/Inf ({int(ls['nonfinite'])} of {int(ls['n'])} {unit}s)"
        return [Finding("learning_rate_too_high", "critical", evidence, suggestion)]
    if "head" not in ls:
        return []
    if ls["tail"] > ls["head"] and ls["tail"] >= 1.5 * ls["min"]:
        evidence = (
            f"the loss diverged: it ended at {_fmt(ls['tail'])} after starting at "
            f"{_fmt(ls['head'])} and reaching {_fmt(ls['min'])} ({unit} {int(ls['argmin']) + 1})"
        )
        return [Finding("learning_rate_too_high", "critical", evidence, suggestion)]
    train = column(stats.epochs, "train_loss")
    if train is not None and len(train) >= 5:
        es = loss_stats(train)
        if es["up_fraction"] >= LR_OSCILLATE and es["rel_change"] > -0.5:
            evidence = (
                f"the epoch train loss went up in {100 * es['up_fraction']:.0f}% of epochs and "
                f"fell only {-100 * es['rel_change']:.0f}% overall (oscillating)"
            )
            return [Finding("learning_rate_too_high", "warning", evidence, suggestion)]
    ratio = _last_layer_update_ratio(stats)
    if ratio > LR_HIGH_RATIO:
        evidence = f"each step changes the last layer's weights by {100 * ratio:.0f}% (median)"
        return [Finding("learning_rate_too_high", "warning", evidence, suggestion)]
    return []


def learning_rate_too_low(stats: RunStats) -> list[Finding]:
    """A loss that barely moves while gradients are healthy, or tiny relative updates.

    Rule: warning when the loss (≥ 20 steps or ≥ 5 epochs) changed by < 1% between its first and
    last 10%, or when the last weight layer's late median update/weight ratio is < 1e-5 (a
    healthy ratio is around 1e-3). Skipped when vanishing/exploding gradients or dead units
    explain it.
    """
    if vanishing_gradients(stats) or exploding_gradients(stats) or dead_units(stats):
        return []
    curve, unit = _loss_curve(stats)
    ls = loss_stats(curve)
    enough = ls["n"] >= (20 if unit == "step" else 5)
    ratio = _last_layer_update_ratio(stats)
    moved = abs(ls.get("rel_change", math.inf))
    reasons = []
    if enough and moved < LR_LOW_MOVE:
        reasons.append(f"the loss changed by only {100 * moved:.2f}% over {int(ls['n'])} {unit}s")
    if ratio < LR_LOW_RATIO:
        reasons.append(f"each step changes the last layer's weights by {_fmt(ratio)} (median)")
    if not reasons:
        return []
    return [
        Finding(
            "learning_rate_too_low",
            "warning",
            "; ".join(reasons),
            "raise the learning rate (e.g. 3-10x; a learning-rate range test finds the edge), "
            "or use Adam; if the gradients are tiny in every layer, fix the initialisation first "
            "(He for ReLU, Xavier for tanh/sigmoid)",
        )
    ]


DETECTORS = (
    exploding_gradients,
    vanishing_gradients,
    dead_units,
    saturation,
    learning_rate_too_high,
    learning_rate_too_low,
    overfitting,
    underfitting,
)


def run_detectors(stats: RunStats, patience: int = 5) -> list[Finding]:
    """Every detector's findings, most severe first."""
    found: list[Finding] = []
    for detector in DETECTORS:
        kwargs: dict[str, Any] = {"patience": patience} if detector is overfitting else {}
        found += detector(stats, **kwargs)
    return sorted(found, key=lambda f: SEVERITIES.index(f.severity))
