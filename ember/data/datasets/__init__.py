"""Ready-made datasets: the MNIST family read from IDX files."""

from __future__ import annotations

from ember.data.datasets.idx import (
    IMAGE_DATASETS,
    KMNIST,
    MNIST,
    FashionMNIST,
    fetch,
    read_idx,
    write_idx,
)

__all__ = ["MNIST", "FashionMNIST", "KMNIST", "IMAGE_DATASETS", "read_idx", "write_idx", "fetch"]
