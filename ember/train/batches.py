"""Batch plans: where a training run's batches come from, resumable to the exact batch.

The ``Trainer`` asks a plan for the length of each epoch, calls ``begin`` when an epoch
starts, ``get(i)`` for each batch and ``end`` when it is over. ``state_dict`` is what a
checkpoint stores so that a resumed run (at an epoch boundary or in the middle of an epoch)
draws exactly the batches the uninterrupted run would have drawn.

``shard(rank, world)`` makes a plan data-parallel (``ember train --distributed``): every rank
builds the same plan, seeded alike, draws the same global batches and keeps its slice of each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from ember.random import Generator

__all__ = ["BatchPlan", "ShuffledBatches", "RandomBatches", "LoaderBatches"]


class BatchPlan:
    """The interface the ``Trainer`` uses (see the module docstring)."""

    rank, world = 0, 1

    def shard(self, rank: int, world: int) -> None:
        """From now on, ``get`` returns rank ``rank``'s share of each global batch."""
        self.rank, self.world = rank, world

    def take(self, rows: Any) -> Any:
        """This rank's equal share of the global batch ``rows`` (an index array, a tensor, or
        a tuple/list of them, split along the first axis). A batch that does not split evenly
        (an epoch's short last batch) is first padded by repeating its rows from the start,
        as ``DistributedSampler`` pads an epoch, so that every rank's share weighs the same."""
        if self.world == 1:
            return rows
        if isinstance(rows, (tuple, list)):
            return type(rows)(self.take(part) for part in rows)
        n = len(rows)
        share = -(-n // self.world)
        if n % self.world:
            rows = rows[np.resize(np.arange(n), share * self.world)]
        return rows[self.rank * share : (self.rank + 1) * share]

    def epoch_length(self, epoch: int, step: int) -> int:
        """Batches in ``epoch``, which starts at global step ``step``."""
        raise NotImplementedError

    def begin(self, epoch: int) -> None:
        pass

    def get(self, index: int) -> Any:
        raise NotImplementedError

    def end(self) -> None:
        pass

    def state_dict(self) -> dict[str, Any] | None:
        """What to store so ``begin`` of the epoch to resume replays the same batches."""
        return None

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        pass


class ShuffledBatches(BatchPlan):
    """A fresh permutation of ``n`` samples each epoch from a dedicated generator, cut into
    batches; ``fetch(indices)`` turns one batch of indices into the batch."""

    def __init__(
        self,
        fetch: Callable[[np.ndarray], Any],
        n: int,
        batch_size: int,
        generator: Generator,
        drop_last: bool = False,
    ) -> None:
        if n < (batch_size if drop_last else 1):
            raise ValueError(
                f"train: {n} training samples vs at least {batch_size if drop_last else 1} "
                "for one batch\nhint: a smaller --batch-size or a larger --limit"
            )
        self.fetch, self.n, self.batch_size, self.drop_last = fetch, n, batch_size, drop_last
        self.generator = generator
        self._start: Any = None  # the generator state the current epoch began with
        self._order: np.ndarray | None = None

    def epoch_length(self, epoch: int, step: int) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def begin(self, epoch: int) -> None:
        self._start = self.generator.get_state()
        self._order = self.generator.numpy.permutation(self.n)

    def get(self, index: int) -> Any:
        assert self._order is not None, "ShuffledBatches.get before begin"
        b = self.batch_size
        return self.fetch(self.take(self._order[index * b : (index + 1) * b]))

    def end(self) -> None:
        self._start, self._order = None, None

    def state_dict(self) -> dict[str, Any]:
        # inside an epoch: its start (begin redraws the same order); between epochs: now
        return {"generator": self._start if self._start is not None else self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if state is not None:
            self.generator.set_state(state["generator"])


class RandomBatches(BatchPlan):
    """Independent random batches (``draw(generator)``), ``per_epoch`` of them per epoch, for
    ``total`` steps in all: the language models' random blocks."""

    def __init__(
        self, draw: Callable[[Generator], Any], per_epoch: int, total: int, generator: Generator
    ) -> None:
        self.draw, self.per_epoch, self.total, self.generator = draw, per_epoch, total, generator

    def epoch_length(self, epoch: int, step: int) -> int:
        return max(0, min(self.per_epoch, self.total - step))

    def get(self, index: int) -> Any:
        return self.take(self.draw(self.generator))

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if state is not None:
            self.generator.set_state(state["generator"])


class LoaderBatches(BatchPlan):
    """Any iterable of batches (a ``DataLoader``), for ``fit``: resumable at epoch boundaries
    only, since the loader's order is its own."""

    def __init__(self, loader: Iterable[Any]) -> None:
        self.loader = loader
        self._it: Iterator[Any] | None = None

    def epoch_length(self, epoch: int, step: int) -> int:
        if not hasattr(self.loader, "__len__"):
            raise TypeError("fit: train_loader must have a length (a DataLoader or a list)")
        return len(self.loader)  # type: ignore[arg-type]

    def begin(self, epoch: int) -> None:
        self._it = iter(self.loader)

    def get(self, index: int) -> Any:
        assert self._it is not None, "LoaderBatches.get before begin"
        return self.take(next(self._it))

    def end(self) -> None:
        self._it = None
