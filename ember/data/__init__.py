"""Data loading: datasets → samplers → DataLoader batches.

Flow: a ``Dataset`` gives samples (array-backed ones give whole batches via ``get_batch``), a
``Sampler`` orders the indices, ``BatchSampler`` groups them and ``DataLoader`` yields collated
batches. ``ember.data.datasets`` reads the MNIST family; ``ember.data.synthetic`` makes toys.
"""

from __future__ import annotations

from ember.data import synthetic, transforms
from ember.data.dataloader import DataLoader, default_collate
from ember.data.dataset import (
    ConcatDataset,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
from ember.data.datasets import KMNIST, MNIST, FashionMNIST
from ember.data.sampler import (
    BatchSampler,
    DistributedSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
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
    "MNIST",
    "FashionMNIST",
    "KMNIST",
    "synthetic",
    "transforms",
]
