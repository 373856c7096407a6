"""DistributedSampler: each epoch is partitioned exactly across the ranks, like PyTorch's."""

from __future__ import annotations

import numpy as np
import pytest
import torch.utils.data as tud

import ember.utils.data as eud
from ember.data import DistributedSampler


def shares(n: int, replicas: int, **kw: object) -> list[list[int]]:
    return [list(DistributedSampler(range(n), replicas, r, **kw)) for r in range(replicas)]


@pytest.mark.parametrize("n", [1, 7, 12, 13, 100])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_an_epoch_is_partitioned_exactly(n: int, replicas: int, drop_last: bool) -> None:
    if drop_last and n < replicas:
        return
    parts = shares(n, replicas, seed=3, drop_last=drop_last)
    lengths = {len(p) for p in parts}
    assert len(lengths) == 1 and lengths == {len(DistributedSampler(range(n), replicas, 0))
                                             if not drop_last else n // replicas}  # fmt: skip
    flat = [i for p in parts for i in p]
    if drop_last:  # n // replicas * replicas distinct indices, none repeated
        assert len(set(flat)) == len(flat) == n // replicas * replicas
    else:  # every index at least once; the padding repeats the fewest possible
        assert set(flat) == set(range(n)) and len(flat) == -(-n // replicas) * replicas
    torch_lengths = [len(tud.DistributedSampler(range(n), replicas, r, drop_last=drop_last))
                     for r in range(replicas)]  # fmt: skip
    assert [len(p) for p in parts] == torch_lengths


@pytest.mark.parametrize("drop_last", [False, True])
def test_unshuffled_shares_equal_torchs(drop_last: bool) -> None:
    for n, replicas in [(10, 3), (13, 4), (3, 2), (2, 5)]:
        for r in range(replicas):
            ours = DistributedSampler(range(n), replicas, r, shuffle=False, drop_last=drop_last)
            theirs = tud.DistributedSampler(range(n), replicas, r, False, drop_last=drop_last)
            assert list(ours) == list(theirs)


def test_epochs_reshuffle_the_same_way_on_every_rank() -> None:
    a, b = DistributedSampler(range(50), 2, 0, seed=1), DistributedSampler(range(50), 2, 1, seed=1)
    first = list(a) + list(b)
    assert list(a) + list(b) == first  # same epoch, same order
    a.set_epoch(1), b.set_epoch(1)
    second = list(a) + list(b)
    assert sorted(second) == sorted(first) == list(range(50)) and second != first
    assert np.array_equal(DistributedSampler(range(50), 2, 0, seed=2).index_array(),
                          DistributedSampler(range(50), 2, 0, seed=2).index_array())  # fmt: skip


def test_errors_and_aliases() -> None:
    with pytest.raises(ValueError, match="invalid rank 2"):
        DistributedSampler(range(4), 2, 2)
    with pytest.raises(ValueError, match="not initialized"):
        DistributedSampler(range(4))
    assert eud.DistributedSampler is DistributedSampler
