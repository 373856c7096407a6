"""``torch.utils.data.dataset``: ember's dataset classes and ``random_split``."""

from __future__ import annotations

from ember.data.dataset import (
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "Subset", "random_split"]
