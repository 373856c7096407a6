"""Small seeded teaching datasets (NumPy only): regression curves and 2-D classification toys.

Each returns a ``TensorDataset`` of float32 inputs and targets (int64 class labels for the
classification sets) so it plugs straight into a DataLoader.
"""

from __future__ import annotations

import numpy as np

from ember.creation import from_host
from ember.data.dataset import TensorDataset

__all__ = ["sine", "spirals", "moons", "circles", "gaussian_mixture", "swiss_roll"]


def _pack(x: np.ndarray, y: np.ndarray) -> TensorDataset:
    y = y.astype(np.int64) if y.dtype.kind in "iu" else y.astype(np.float32)
    return TensorDataset(from_host(x.astype(np.float32)), from_host(y))


def sine(n: int = 256, noise: float = 0.1, seed: int = 0) -> TensorDataset:
    """x uniform in [-π, π], y = sin(x) + Gaussian noise; shapes ``[n, 1]`` and ``[n, 1]``."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-np.pi, np.pi, size=(n, 1))
    return _pack(x, np.sin(x) + noise * rng.standard_normal((n, 1)))


def spirals(n: int = 200, noise: float = 0.2, turns: float = 1.5, seed: int = 0) -> TensorDataset:
    """Two interleaved spirals, ``n`` points each; labels 0/1."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0, 1, size=n)) * turns * 2 * np.pi
    arm = np.stack([t * np.cos(t), t * np.sin(t)], axis=1)
    x = np.concatenate([arm, -arm]) + noise * rng.standard_normal((2 * n, 2))
    return _pack(x, np.repeat([0, 1], n))


def moons(n: int = 200, noise: float = 0.1, seed: int = 0) -> TensorDataset:
    """Two interleaving half circles, ``n`` points each; labels 0/1."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0, np.pi, size=n), rng.uniform(0, np.pi, size=n)
    upper = np.stack([np.cos(a), np.sin(a)], axis=1)
    lower = np.stack([1 - np.cos(b), 0.5 - np.sin(b)], axis=1)
    x = np.concatenate([upper, lower]) + noise * rng.standard_normal((2 * n, 2))
    return _pack(x, np.repeat([0, 1], n))


def circles(n: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int = 0) -> TensorDataset:
    """An outer circle (label 0) around an inner one of radius ``factor`` (label 1)."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi, size=2 * n)
    radius = np.repeat([1.0, factor], n)
    x = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return _pack(x + noise * rng.standard_normal((2 * n, 2)), np.repeat([0, 1], n))


def gaussian_mixture(
    n: int = 300, centers: int = 3, dim: int = 2, spread: float = 1.0, seed: int = 0
) -> TensorDataset:
    """``n`` points drawn around ``centers`` random means (in [-5, 5]^dim); label = component."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(-5, 5, size=(centers, dim))
    labels = rng.integers(0, centers, size=n)
    return _pack(means[labels] + spread * rng.standard_normal((n, dim)), labels)


def swiss_roll(n: int = 500, noise: float = 0.05, seed: int = 0) -> TensorDataset:
    """3-D points on a rolled-up sheet; the target is the position ``t`` along the roll."""
    rng = np.random.default_rng(seed)
    t = 1.5 * np.pi * (1 + 2 * rng.uniform(size=n))
    height = 21 * rng.uniform(size=n)
    x = np.stack([t * np.cos(t), height, t * np.sin(t)], axis=1)
    return _pack(x + noise * rng.standard_normal((n, 3)), t[:, None])
