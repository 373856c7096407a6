"""GradientMonitor: per-layer gradient, update and activation statistics during training.

What is recorded at every ``every``-th step (a "recorded step"):

- per named parameter: the gradient norm ``||g||``, the weight norm ``||w||`` and the
  update/weight ratio ``||w_after - w_before|| / ||w_before||``. The ratio is *measured*, not
  estimated from ``lr * grad`` (that estimate is wrong for Adam, momentum and weight decay):
  the weights are copied when the gradients are recorded and compared after the optimizer
  step (when attached to an optimizer) or at the next ``step()`` call (by hand);
- per leaf module (via forward hooks, training-mode forwards with grad enabled only): the
  mean and std of its output, the fraction of dead units for ReLU-family modules (a unit —
  an index along dim 1, the feature/channel dim — is dead when it is ≤ 0 for every sample and
  position of the batch) and the fraction of saturated outputs for Sigmoid (< 0.01 or > 0.99)
  and Tanh (|y| > 0.99), plus a 30-bin histogram of the first and latest recorded output;
- the loss of every step passed to ``step(loss)`` and the per-epoch logs seen by ``fit``.

All statistics are whole-array reductions (no per-element Python); ``every=N`` makes the cost
negligible. ``save(run_dir)`` writes ``diagnostics.npz`` + ``diagnostics.json`` that
``runfiles.load_stats`` (and ``ember doctor``) read back.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ember.arrays import backend_of
from ember.autograd.grad_mode import STATE
from ember.dtypes import FLOATING
from ember.train.callbacks import Callback

__all__ = [
    "GradientMonitor",
    "RunStats",
    "save_stats",
    "activation_kind",
    "NPZ_NAME",
    "JSON_NAME",
    "LIST_FIELDS",
]

NPZ_NAME = "diagnostics.npz"
JSON_NAME = "diagnostics.json"
HIST_BINS = 30
LIST_FIELDS = ("param_names", "act_names", "act_kinds", "act_types")  # in the JSON, not the npz

_KINDS = {
    "ReLU": "relu",
    "ReLU6": "relu",
    "Sigmoid": "sigmoid",
    "Hardsigmoid": "sigmoid",
    "Tanh": "tanh",
    "Hardtanh": "tanh",
}


def activation_kind(module: Any) -> str:
    """'relu', 'sigmoid', 'tanh' or 'other': which unit statistics apply to ``module``."""
    return _KINDS.get(type(module).__name__, "other")


@dataclass
class RunStats:
    """Everything the detectors read; every part is optional (empty arrays when absent)."""

    param_names: list[str] = field(default_factory=list)
    param_numel: np.ndarray = field(default_factory=lambda: np.zeros(0))
    param_ndim: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    grad_norm: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [S, P]
    weight_norm: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [S, P]
    update_ratio: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [S, P], nan=?
    loss_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    losses: np.ndarray = field(default_factory=lambda: np.zeros(0))
    act_names: list[str] = field(default_factory=list)
    act_kinds: list[str] = field(default_factory=list)
    act_types: list[str] = field(default_factory=list)  # module class names, for plot titles
    act_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    act_mean: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [S, M]
    act_std: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    act_dead: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # nan: not ReLU
    act_saturated: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # nan: n/a
    hist_first: np.ndarray = field(default_factory=lambda: np.zeros((0, HIST_BINS)))
    hist_last: np.ndarray = field(default_factory=lambda: np.zeros((0, HIST_BINS)))
    hist_edges_first: np.ndarray = field(default_factory=lambda: np.zeros((0, HIST_BINS + 1)))
    hist_edges_last: np.ndarray = field(default_factory=lambda: np.zeros((0, HIST_BINS + 1)))
    epochs: dict[str, np.ndarray] = field(default_factory=dict)  # column → per-epoch values

    @property
    def grad_rms(self) -> np.ndarray:
        """Gradient norms divided by sqrt(numel): comparable across layers of different size."""
        return self.grad_norm / np.sqrt(np.maximum(self.param_numel, 1))


def _norm(a: Any) -> float:
    """The 2-norm; inf/nan (an exploding run) are recorded for the detectors, not warned."""
    flat = a.reshape(-1)
    with np.errstate(over="ignore", invalid="ignore"):
        return math.sqrt(float(abs(flat @ flat))) if flat.size else 0.0


def _host(a: Any) -> np.ndarray:
    return np.asarray(backend_of(a).to_host(a))


def _histogram(a: Any) -> tuple[np.ndarray, np.ndarray]:
    x = _host(a).reshape(-1).astype(np.float64)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return np.zeros(HIST_BINS), np.linspace(0.0, 1.0, HIST_BINS + 1)
    lo, hi = float(x.min()), float(x.max())
    if hi - lo < 1e-6 * (abs(lo) + 1):  # (nearly) constant output: a unit-wide range around it
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(x, bins=HIST_BINS, range=(lo, hi))
    return counts.astype(np.float64), edges


class GradientMonitor(Callback):
    """Record gradient/update/activation statistics of ``model`` every ``every`` steps.

    By hand: ``loss.backward(); monitor.step(loss); optimizer.step()``. With ``fit``: pass it in
    ``callbacks``; it wraps ``optimizer.step`` for the run (hooks ``on_train_begin`` /
    ``on_epoch_end`` / ``on_train_end``) and, with ``run_dir``, saves there at the end.
    """

    def __init__(
        self,
        model: Any,
        every: int = 1,
        activations: bool = True,
        run_dir: str | os.PathLike | None = None,
    ) -> None:
        if every < 1:
            raise ValueError(f"GradientMonitor: every must be >= 1: {every} vs >= 1")
        self.model = model
        self.every = every
        self.run_dir = run_dir
        self.params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.count = 0  # optimizer steps seen so far
        self._rows: list[tuple[int, list[float], list[float]]] = []
        self._ratios: list[list[float]] = []
        self._snapshot: list[Any] | None = None
        self._losses: list[tuple[int, float]] = []
        self._epoch_logs: list[dict[str, float]] = []
        self._handles: list[Any] = []
        self._modules: list[tuple[str, Any, str]] = []
        self._act: dict[int, list[list[float]]] = {}  # step → per-module [mean, std, dead, sat]
        self._hist: dict[str, list[Any]] = {}  # module name → [first, first_edges, last, edges]
        self._opt_step: Any = None
        self._optimizer: Any = None
        if activations:
            self._register_hooks()

    # -- recording ----------------------------------------------------------------------------
    def _recording(self) -> bool:
        return self.count % self.every == 0

    def _register_hooks(self) -> None:
        for name, module in self.model.named_modules():
            if name and not any(True for _ in module.children()):
                idx = len(self._modules)
                self._modules.append((name, module, activation_kind(module)))
                self._handles.append(module.register_forward_hook(self._hook_for(idx)))

    def _hook_for(self, idx: int) -> Any:
        def hook(module: Any, args: Any, out: Any) -> None:
            if module.training and STATE.grad_enabled and self._recording():
                self._record_activation(idx, out)

        return hook

    def _record_activation(self, idx: int, out: Any) -> None:
        a = getattr(out, "_data", None)
        if a is None or a.size == 0 or a.dtype not in FLOATING:
            return
        name, _, kind = self._modules[idx]
        dead = sat = math.nan
        if kind == "relu" and a.ndim >= 2:
            # a unit (index on dim 1) is dead when it is <= 0 for every sample and position
            alive = (a > 0).any(axis=tuple(i for i in range(a.ndim) if i != 1))
            dead = 1.0 - float(alive.mean())
        elif kind == "sigmoid":
            sat = float(((a < 0.01) | (a > 0.99)).mean())
        elif kind == "tanh":
            sat = float((abs(a) > 0.99).mean())
        row = self._act.setdefault(self.count, [[math.nan] * 4 for _ in self._modules])
        row[idx] = [float(a.mean()), float(a.std()), dead, sat]
        counts, edges = _histogram(a)
        h = self._hist.setdefault(name, [counts, edges, counts, edges])
        h[2], h[3] = counts, edges

    def _finish_update(self) -> None:
        """Measure ||w_now - w_snapshot|| / ||w_snapshot|| for the pending recorded step."""
        if self._snapshot is None:
            return
        ratios = []
        for (_, p), before in zip(self.params, self._snapshot, strict=True):
            w = _norm(before)
            ratios.append(_norm(p._data - before) / w if w > 0 else math.nan)
        self._ratios[-1] = ratios
        self._snapshot = None

    def step(self, loss: Any = None) -> None:
        """Record one training step: call after ``backward()`` and before ``optimizer.step()``."""
        self._finish_update()
        if loss is not None:
            self._losses.append((self.count, float(loss.item() if hasattr(loss, "item") else loss)))
        if self._recording():
            grads, weights, snap = [], [], []
            for _, p in self.params:
                grads.append(_norm(p.grad._data) if p.grad is not None else math.nan)
                weights.append(_norm(p._data))
                snap.append(p._data.copy())
            self._rows.append((self.count, grads, weights))
            self._ratios.append([math.nan] * len(self.params))
            self._snapshot = snap
        self.count += 1

    # -- fit callback ---------------------------------------------------------------------------
    def attach(self, optimizer: Any) -> None:
        """Wrap ``optimizer.step`` so every step is recorded and its update measured exactly."""
        self.detach()
        original = optimizer.step

        def step(*args: Any, **kwargs: Any) -> Any:
            self.step()
            result = original(*args, **kwargs)
            self._finish_update()
            return result

        optimizer.step = step
        self._optimizer, self._opt_step = optimizer, original

    def detach(self) -> None:
        """Undo ``attach``."""
        if self._optimizer is not None:
            del self._optimizer.step  # the instance attribute shadowed the class method
            self._optimizer = self._opt_step = None

    def on_train_begin(self, state: Any) -> None:
        self.attach(state.optimizer)

    def on_batch_end(self, state: Any, logs: dict[str, float]) -> None:
        """For loops that report per-batch logs: keep the step's loss."""
        if "loss" in logs:
            self._losses.append((self.count - 1, float(logs["loss"])))

    def on_epoch_end(self, state: Any, logs: dict[str, float]) -> None:
        self._epoch_logs.append(dict(logs))

    def on_train_end(self, state: Any) -> None:
        self.detach()
        if self.run_dir is not None:
            self.save(self.run_dir)

    def remove(self) -> None:
        """Remove the forward hooks and the optimizer wrapper."""
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self.detach()

    # -- results ------------------------------------------------------------------------------
    def stats(self) -> RunStats:
        """The statistics recorded so far as arrays."""
        p = len(self.params)
        act_steps = sorted(self._act)
        act = np.array([self._act[s] for s in act_steps]).reshape(
            len(act_steps), len(self._modules), 4
        )
        names = [n for n, _, _ in self._modules]
        hist = [self._hist.get(n) for n in names]
        empty_h, empty_e = np.zeros(HIST_BINS), np.linspace(0.0, 1.0, HIST_BINS + 1)
        epochs: dict[str, np.ndarray] = {}
        for key in dict.fromkeys(k for row in self._epoch_logs for k in row):
            epochs[key] = np.array([row.get(key, math.nan) for row in self._epoch_logs], float)
        return RunStats(
            param_names=[n for n, _ in self.params],
            param_numel=np.array([q._data.size for _, q in self.params], dtype=np.float64),
            param_ndim=np.array([q._data.ndim for _, q in self.params], dtype=np.int64),
            steps=np.array([r[0] for r in self._rows], dtype=np.int64),
            grad_norm=np.array([r[1] for r in self._rows], dtype=np.float64).reshape(-1, p),
            weight_norm=np.array([r[2] for r in self._rows], dtype=np.float64).reshape(-1, p),
            update_ratio=np.array(self._ratios, dtype=np.float64).reshape(-1, p),
            loss_steps=np.array([s for s, _ in self._losses], dtype=np.int64),
            losses=np.array([v for _, v in self._losses], dtype=np.float64),
            act_names=names,
            act_kinds=[k for _, _, k in self._modules],
            act_types=[type(m).__name__ for _, m, _ in self._modules],
            act_steps=np.array(act_steps, dtype=np.int64),
            act_mean=act[:, :, 0],
            act_std=act[:, :, 1],
            act_dead=act[:, :, 2],
            act_saturated=act[:, :, 3],
            hist_first=np.array([h[0] if h else empty_h for h in hist]).reshape(-1, HIST_BINS),
            hist_edges_first=np.array([h[1] if h else empty_e for h in hist]).reshape(
                -1, HIST_BINS + 1
            ),
            hist_last=np.array([h[2] if h else empty_h for h in hist]).reshape(-1, HIST_BINS),
            hist_edges_last=np.array([h[3] if h else empty_e for h in hist]).reshape(
                -1, HIST_BINS + 1
            ),
            epochs=epochs,
        )

    def findings(self, **kwargs: Any) -> list[Any]:
        """Run every detector on the statistics recorded so far."""
        from ember.diagnostics.detectors import run_detectors

        return run_detectors(self.stats(), **kwargs)

    def save(self, run_dir: str | os.PathLike) -> Path:
        """Write ``diagnostics.npz`` and ``diagnostics.json`` into ``run_dir``; returns the npz."""
        return save_stats(self.stats(), run_dir, every=self.every)


def save_stats(stats: RunStats, run_dir: str | os.PathLike, every: int = 1) -> Path:
    """Write ``stats`` as ``diagnostics.npz`` (arrays) + ``diagnostics.json`` (names, epochs)."""
    out = Path(run_dir)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {
        k: v
        for k, v in vars(stats).items()
        if k not in LIST_FIELDS and k != "epochs" and isinstance(v, np.ndarray)
    }
    tmp = out / (NPZ_NAME + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, out / NPZ_NAME)
    meta = {k: getattr(stats, k) for k in LIST_FIELDS}
    meta["every"] = every
    meta["epochs"] = {
        k: [None if not np.isfinite(x) else float(x) for x in v] for k, v in stats.epochs.items()
    }
    (out / JSON_NAME).write_text(json.dumps(meta, indent=1))
    return out / NPZ_NAME
