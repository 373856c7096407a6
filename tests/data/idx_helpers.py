"""Tiny generated IDX datasets for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ember.data.datasets import write_idx


def make_idx_dataset(folder: Path, n_train: int = 64, n_test: int = 32, seed: int = 0) -> Path:
    """Four tiny gzip IDX files in ``folder``: 28x28 uint8 images whose label is recoverable."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        images = rng.integers(0, 60, size=(n, 28, 28)).astype(np.uint8)
        images[np.arange(n), labels, :] = 255  # a bright row at the label: learnable
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder


def fake_fashion_mnist(tmp_path: Path, monkeypatch: Any, n_train: int, n_test: int) -> Path:
    """A tiny Fashion-MNIST under ``tmp_path/data``, where ``ember train`` finds it (EMBER_DATA
    for this test only); returns that data root."""
    root = tmp_path / "data"
    make_idx_dataset(root / "fashion-mnist", n_train=n_train, n_test=n_test)
    monkeypatch.setenv("EMBER_DATA", str(root))
    return root
