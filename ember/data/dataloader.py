"""DataLoader: batches from a dataset, with a vectorised path for array-backed datasets."""

from __future__ import annotations

import collections.abc as cabc
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ember.arrays import backend_of
from ember.creation import from_host, tensor
from ember.data.dataset import Dataset, IterableDataset
from ember.data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from ember.random import Generator
from ember.tensor import Tensor

__all__ = ["DataLoader", "default_collate"]


def default_collate(batch: list[Any]) -> Any:
    """Stack a list of samples into a batch, keeping the structure (PyTorch's rules).

    Tensors and arrays are stacked along a new dim 0, ints → int64, floats → float64,
    bools → bool, strings stay a list; tuples/lists/dicts are collated field by field.
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        shapes = {tuple(t.shape) for t in batch}
        if len(shapes) > 1:
            raise RuntimeError(
                f"default_collate: stack expects each tensor to be equal size, got {sorted(shapes)}"
            )
        return Tensor._wrap(backend_of(elem._data).xp.stack([t._data for t in batch]))
    if isinstance(elem, np.ndarray) and elem.dtype.kind in "biuf":
        return from_host(np.stack(batch))
    if isinstance(elem, (bool, np.bool_)):
        return tensor(list(batch))
    if isinstance(elem, (int, np.integer)):
        return from_host(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, (float, np.floating)):
        return from_host(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, cabc.Mapping):
        return type(elem)({k: default_collate([d[k] for d in batch]) for k in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, cabc.Sequence):
        if any(len(s) != len(elem) for s in batch):
            raise RuntimeError(
                "default_collate: each element in list of batch should be equal size"
            )
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(
        f"default_collate: batch must contain tensors, arrays, numbers, dicts or lists; "
        f"found {type(elem).__name__}"
    )


class DataLoader:
    """Iterate over ``dataset`` in batches.

    Array-backed datasets (those with ``get_batch(indices)``, like TensorDataset and the IDX
    image datasets) are batched with one fancy-index per batch when no ``collate_fn`` is given.
    ``num_workers`` and ``pin_memory`` are accepted for PyTorch compatibility; loading always
    happens in this process.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int | None = 1,
        shuffle: bool | None = False,
        sampler: Sampler | Iterable[int] | None = None,
        batch_sampler: Iterable[list[int]] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        generator: Generator | None = None,
    ) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.generator = generator
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable and (shuffle or sampler is not None or batch_sampler is not None):
            raise ValueError(
                "DataLoader: an IterableDataset cannot take shuffle, sampler or batch_sampler"
            )
        if batch_sampler is not None and (
            batch_size != 1 or shuffle or sampler is not None or drop_last
        ):
            raise ValueError(
                "DataLoader: batch_sampler option is mutually exclusive with "
                "batch_size, shuffle, sampler, and drop_last"
            )
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if sampler is None and not self._iterable:
            sampler = (
                RandomSampler(dataset, generator=generator)
                if shuffle
                else SequentialSampler(dataset)
            )
        if batch_sampler is None and batch_size is not None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)  # type: ignore[arg-type]
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.collate_fn = collate_fn
        self._fast = collate_fn is None and hasattr(dataset, "get_batch")

    def __iter__(self) -> Iterator[Any]:
        collate = self.collate_fn or default_collate
        if self._iterable:
            yield from self._iter_stream(collate)
        elif self.batch_sampler is None:  # batch_size=None: samples one by one, uncollated
            for i in self.sampler:  # type: ignore[union-attr]
                yield self.dataset[i] if self.collate_fn is None else collate(self.dataset[i])
        elif self._fast:
            for indices in self.batch_sampler:
                yield self.dataset.get_batch(indices)  # type: ignore[attr-defined]
        else:
            for indices in self.batch_sampler:
                yield collate([self.dataset[i] for i in indices])

    def _iter_stream(self, collate: Callable[[list[Any]], Any]) -> Iterator[Any]:
        if self.batch_size is None:
            yield from iter(self.dataset)  # type: ignore[call-overload]
            return
        batch: list[Any] = []
        for sample in self.dataset:  # type: ignore[attr-defined]
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield collate(batch)
                batch = []
        if batch and not self.drop_last:
            yield collate(batch)

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # type: ignore[arg-type]
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is None:
            return len(self.sampler)  # type: ignore[arg-type]
        return len(self.batch_sampler)  # type: ignore[arg-type]
