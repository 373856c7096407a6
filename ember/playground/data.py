"""The playground's 2-D data sets: two classes in the square [-1, 1]², with adjustable noise.

Each generator returns ``(points [n, 2] float32, labels [n] int64)`` drawn from its own NumPy
generator, so the same seed always gives the same data set.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["DATASETS", "make_dataset", "split"]


def _labels(n: int) -> np.ndarray:
    return (np.arange(n) % 2).astype(np.int64)


def _spiral(n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Two interleaved spirals of 1.75 turns: a boundary no straight cut can follow."""
    y = _labels(n)
    t = rng.uniform(0.05, 1.0, n)
    angle = 3.5 * np.pi * t + np.pi * y
    pts = np.stack([t * np.cos(angle), t * np.sin(angle)], 1)
    return pts + rng.normal(0.0, 0.1 * noise, (n, 2))


def _circles(n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """A disk (class 0) inside a ring (class 1)."""
    y = _labels(n)
    radius = np.where(y == 0, rng.uniform(0.0, 0.45, n), rng.uniform(0.65, 0.95, n))
    angle = rng.uniform(0.0, 2 * np.pi, n)
    pts = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
    return pts + rng.normal(0.0, 0.15 * noise, (n, 2))


def _xor(n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """The four quadrants; opposite quadrants share a class (class 1: x·y < 0)."""
    y = _labels(n)
    pts = rng.uniform(0.05, 0.95, (n, 2)) * rng.choice([-1.0, 1.0], (n, 1))
    pts[:, 1] *= np.where(y == 1, -1.0, 1.0)
    return pts + rng.normal(0.0, 0.2 * noise, (n, 2))


def _gaussian(n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Two Gaussian clusters; noise widens them until they overlap."""
    y = _labels(n)
    centres = np.where(y[:, None] == 0, -0.45, 0.45)
    return centres + rng.normal(0.0, 0.12 + 0.35 * noise, (n, 2))


DATASETS: dict[str, Callable[[int, float, np.random.Generator], np.ndarray]] = {
    "spiral": _spiral,
    "circles": _circles,
    "xor": _xor,
    "gaussian": _gaussian,
}


def make_dataset(name: str, n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` labelled points of data set ``name`` with ``noise`` in [0, 1], in shuffled order."""
    rng = np.random.default_rng(seed)
    points = DATASETS[name](n, noise, rng)
    labels = _labels(n)
    order = rng.permutation(n)
    return points[order].astype(np.float32), labels[order]


def split(
    points: np.ndarray, labels: np.ndarray, val_fraction: float
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The first ``1 - val_fraction`` of the (shuffled) points for training, the rest held out."""
    n_val = max(1, round(len(points) * val_fraction))
    n_train = len(points) - n_val
    return (points[:n_train], labels[:n_train]), (points[n_train:], labels[n_train:])
