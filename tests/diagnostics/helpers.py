"""Small models and synthetic statistics shared by the diagnostics tests."""

from __future__ import annotations

import numpy as np

import ember
from ember import nn, optim
from ember.diagnostics import GradientMonitor
from ember.diagnostics.monitor import RunStats
from ember.nn import functional as F


def mlp(act: type, depth: int, width: int = 16, bias: float | None = None) -> nn.Sequential:
    """``depth`` Linear+``act`` layers on 4 inputs, then a 2-class linear head."""
    layers: list[nn.Module] = []
    w = 4
    for _ in range(depth):
        lin = nn.Linear(w, width)
        if bias is not None:
            with ember.no_grad():
                lin.bias.fill_(bias)
        layers += [lin, act()]
        w = width
    layers.append(nn.Linear(w, 2))
    return nn.Sequential(*layers)


def train_monitored(model: nn.Module, steps: int = 25, lr: float = 0.1) -> GradientMonitor:
    """SGD on a learnable 2-class task (label = sign of the first input), monitored by hand."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    inputs, targets = ember.tensor(x), ember.tensor((x[:, 0] > 0).astype(np.int64))
    opt = optim.SGD(model.parameters(), lr=lr)
    monitor = GradientMonitor(model)
    for _ in range(steps):
        loss = F.cross_entropy(model(inputs), targets)
        opt.zero_grad()
        loss.backward()
        monitor.step(loss)
        opt.step()
    return monitor


def synthetic(
    layers: int = 5,
    steps: int = 40,
    rms: list[float] | None = None,
    losses: np.ndarray | None = None,
    update: float = 1e-3,
    epochs: dict[str, list[float]] | None = None,
) -> RunStats:
    """RunStats with weight layers of constant gradient RMS ``rms`` (default healthy)."""
    rms_arr = np.array(rms if rms is not None else [0.01] * layers, dtype=np.float64)
    n = len(rms_arr)
    rng = np.random.default_rng(0)
    noise = np.exp(0.1 * rng.standard_normal((steps, n)))
    numel = np.full(n, 100.0)
    if losses is None:
        losses = 2.0 * np.exp(-np.arange(steps) / 15) + 0.1 + 0.01 * rng.standard_normal(steps)
    return RunStats(
        param_names=[f"layer{i}.weight" for i in range(n)],
        param_numel=numel,
        param_ndim=np.full(n, 2),
        steps=np.arange(steps),
        grad_norm=rms_arr * noise * 10.0,
        weight_norm=np.ones((steps, n)),
        update_ratio=np.full((steps, n), update),
        loss_steps=np.arange(len(losses)),
        losses=np.asarray(losses, dtype=np.float64),
        epochs={k: np.array(v, dtype=np.float64) for k, v in (epochs or {}).items()},
    )
