"""``torch.utils.data`` spelled for ember: the datasets, samplers and DataLoader of
``ember.data`` (the same objects), so ``from torch.utils.data import DataLoader`` code runs,
and so do imports from torch's submodules (``torch.utils.data.dataloader``, ``.dataset``,
``.sampler``, ``.distributed``)."""

from __future__ import annotations

from ember.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    DistributedSampler,
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
from ember.utils.data import dataloader, dataset, distributed, sampler  # noqa: F401 (attributes, as in torch)
from ember.utils.data.dataloader import get_worker_info

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
