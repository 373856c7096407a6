"""``torch.utils.data`` spelled for ember: the datasets, samplers and DataLoader of
``ember.data`` (the same objects), so ``from torch.utils.data import DataLoader`` code runs."""

from __future__ import annotations

from ember.data import (
    BatchSampler,
    DistributedSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    default_collate,
    random_split,
)

__all__ = [
    "Dataset",
    "IterableDataset",
    "TensorDataset",
    "Subset",
    "ConcatDataset",
    "random_split",
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "BatchSampler",
    "DistributedSampler",
    "DataLoader",
    "default_collate",
    "get_worker_info",
]


def get_worker_info() -> None:
    """None: ember's DataLoader loads every batch in the calling process (``num_workers`` is
    accepted but starts no workers), which is what PyTorch returns outside a worker."""
    return None
