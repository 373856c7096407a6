"""Samplers: which indices, in which order; BatchSampler groups them into batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence, Sized

import numpy as np

from ember.random import Generator, default_generator

__all__ = [
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "BatchSampler",
    "DistributedSampler",
]

_CHUNK = 1 << 16  # indices drawn per chunk with replacement


class Sampler:
    """An iterable of dataset indices. ``index_chunks()``, when defined, yields them as arrays
    (by default ``index_array()``, all at once), which batching slices without a Python loop."""

    def __iter__(self) -> Iterator[int]:
        for chunk in self.index_chunks():
            yield from chunk.tolist()

    def index_chunks(self) -> Iterator[np.ndarray]:
        yield self.index_array()

    def index_array(self) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class SequentialSampler(Sampler):
    """0, 1, …, len(data_source) - 1."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def index_array(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation (or draws with replacement), fresh each epoch from ``generator``."""

    def __init__(
        self,
        data_source: Sized,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Generator | None = None,
    ) -> None:
        if num_samples is not None and (not isinstance(num_samples, int) or num_samples <= 0):
            raise ValueError(
                f"RandomSampler: num_samples should be a positive integer, got {num_samples!r}"
            )
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def index_chunks(self) -> Iterator[np.ndarray]:
        """Drawn lazily, one chunk (or permutation) at a time: ``num_samples`` may be huge
        (``replacement=True, num_samples=10**10``) and must not be allocated at once."""
        rng = (self.generator or default_generator).numpy
        n, left = len(self.data_source), self.num_samples
        while left > 0 and n:
            if self.replacement:
                chunk = rng.integers(0, n, size=min(left, _CHUNK), dtype=np.int64)
            else:
                chunk = rng.permutation(n)[:left].astype(np.int64)
            left -= len(chunk)
            yield chunk

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices = np.asarray(indices, dtype=np.int64)
        self.generator = generator

    def index_array(self) -> np.ndarray:
        return self.indices[(self.generator or default_generator).numpy.permutation(len(self))]

    def __len__(self) -> int:
        return len(self.indices)


class DistributedSampler(Sampler):
    """This rank's share of ``dataset``: every rank gets ``len(self)`` indices, disjoint from
    the others' except for padding (indices repeated from the start so that the ranks' shares
    have one length) or, with ``drop_last``, without the tail that does not divide evenly.
    The shuffled order depends only on ``seed`` and the epoch (``set_epoch``), so all ranks
    draw the same permutation; it is NumPy's, not PyTorch's, for the same seed."""

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None or rank is None:
            from ember import distributed

            num_replicas = distributed.get_world_size() if num_replicas is None else num_replicas
            rank = distributed.get_rank() if rank is None else rank
        if not 0 <= rank < num_replicas:
            raise ValueError(
                f"DistributedSampler: invalid rank {rank}, rank should be in the interval "
                f"[0, {num_replicas - 1}]"
            )
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        n = len(dataset)
        self.num_samples = n // num_replicas if drop_last else -(-n // num_replicas)
        self.total_size = self.num_samples * num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Shuffle differently in ``epoch`` (call it on every rank before each epoch)."""
        self.epoch = epoch

    def index_array(self) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(n)
        else:
            order = np.arange(n, dtype=np.int64)
        if self.total_size > n:
            order = np.concatenate([order, np.resize(order, self.total_size - n)])
        return order[self.rank : self.total_size : self.num_replicas].astype(np.int64)

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler`` (the last one shorter unless drop_last)."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(
                f"BatchSampler: batch_size should be a positive integer, got {batch_size!r}"
            )
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        if isinstance(self.sampler, Sampler):
            try:
                yield from self._array_batches(self.sampler.index_chunks())
                return
            except NotImplementedError:  # a Sampler that only defines __iter__
                pass
        batch: list[int] = []
        for idx in self.sampler:
            batch.append(int(idx))
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def _array_batches(self, chunks: Iterator[np.ndarray]) -> Iterator[list[int]]:
        """Batches sliced from index arrays, carrying a partial batch across chunk borders."""
        carry = np.zeros(0, np.int64)
        for chunk in chunks:
            order = np.concatenate([carry, chunk]) if len(carry) else chunk
            stop = len(order) - len(order) % self.batch_size
            for start in range(0, stop, self.batch_size):
                yield order[start : start + self.batch_size].tolist()
            carry = order[stop:]
        if len(carry) and not self.drop_last:
            yield carry.tolist()

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
