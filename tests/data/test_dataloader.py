from __future__ import annotations

from collections import namedtuple

import numpy as np
import pytest

import ember
from ember.data import (
    BatchSampler,
    ConcatDataset,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    default_collate,
    random_split,
)


def _ds(n=10):
    x = ember.arange(n * 2, dtype=ember.float32).reshape(n, 2)
    return TensorDataset(x, ember.arange(n))


class Dicts(Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        return {"x": np.full(3, i, dtype=np.float32), "y": i, "name": f"s{i}"}


def test_batching_sizes_and_len():
    loader = DataLoader(_ds(10), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [len(b[1]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(batches[0][0].numpy(), np.arange(8).reshape(4, 2))
    np.testing.assert_array_equal(batches[2][1].numpy(), [8, 9])
    assert len(DataLoader(_ds(10), batch_size=4, drop_last=True)) == 2
    assert [len(b[1]) for b in DataLoader(_ds(10), batch_size=4, drop_last=True)] == [4, 4]


def test_fast_path_matches_per_sample_collate():
    ds = _ds(9)
    fast = list(
        DataLoader(ds, batch_size=4, shuffle=True, generator=ember.Generator().manual_seed(3))
    )
    slow = list(
        DataLoader(
            ds,
            batch_size=4,
            shuffle=True,
            generator=ember.Generator().manual_seed(3),
            collate_fn=default_collate,
        )
    )
    for (a, b), (c, d) in zip(fast, slow):
        np.testing.assert_array_equal(a.numpy(), c.numpy())
        np.testing.assert_array_equal(b.numpy(), d.numpy())


def test_shuffle_is_reproducible_and_a_permutation():
    def order(seed):
        g = ember.Generator().manual_seed(seed)
        return np.concatenate(
            [b[1].numpy() for b in DataLoader(_ds(20), 6, shuffle=True, generator=g)]
        )

    assert sorted(order(0).tolist()) == list(range(20))
    np.testing.assert_array_equal(order(0), order(0))
    assert not np.array_equal(order(0), order(1))
    ember.manual_seed(5)
    a = [b[1].numpy() for b in DataLoader(_ds(20), 20, shuffle=True)][0]
    ember.manual_seed(5)
    b = [b[1].numpy() for b in DataLoader(_ds(20), 20, shuffle=True)][0]
    np.testing.assert_array_equal(a, b)


def test_collate_dicts_tuples_numbers():
    batch = next(iter(DataLoader(Dicts(), batch_size=3)))
    assert set(batch) == {"x", "y", "name"}
    assert batch["x"].shape == (3, 3) and batch["y"].dtype == ember.int64
    assert batch["name"] == ["s0", "s1", "s2"]
    out = default_collate([(1, 2.0, True), (3, 4.0, False)])
    assert isinstance(out, list) and out[0].dtype == ember.int64
    assert out[1].dtype == ember.float64 and out[2].dtype == ember.bool
    Point = namedtuple("Point", "a b")
    pts = default_collate([Point(1, 2), Point(3, 4)])
    assert isinstance(pts, Point) and pts.b.tolist() == [2, 4]
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([ember.zeros(2), ember.zeros(3)])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object()])


def test_batch_size_none_yields_samples():
    samples = list(DataLoader(_ds(3), batch_size=None))
    assert len(samples) == 3 and samples[1][1].item() == 1


def test_iterable_dataset():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(7))

    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    with pytest.raises(ValueError, match="IterableDataset"):
        DataLoader(Stream(), shuffle=True)


def test_option_conflicts():
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(_ds(), batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="mutually exclusive with shuffle"):
        DataLoader(_ds(), sampler=[0, 1], shuffle=True)


def test_custom_sampler_and_batch_sampler():
    loader = DataLoader(_ds(6), batch_size=2, sampler=[5, 4, 3, 2, 1, 0])
    assert [b[1].tolist() for b in loader] == [[5, 4], [3, 2], [1, 0]]
    loader = DataLoader(_ds(6), batch_sampler=[[0, 5], [1]])
    assert [b[1].tolist() for b in loader] == [[0, 5], [1]] and len(loader) == 2


def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    g = ember.Generator().manual_seed(0)
    perm = list(RandomSampler(range(5), generator=g))
    assert sorted(perm) == list(range(5))
    draws = list(RandomSampler(range(3), replacement=True, num_samples=12, generator=g))
    assert len(draws) == 12 and set(draws) <= {0, 1, 2}
    assert len(list(RandomSampler(range(3), num_samples=7, generator=g))) == 7
    sub = list(SubsetRandomSampler([10, 20, 30], generator=g))
    assert sorted(sub) == [10, 20, 30]
    assert list(BatchSampler(range(5), 2, drop_last=False)) == [[0, 1], [2, 3], [4]]
    assert list(BatchSampler(SequentialSampler(range(5)), 2, drop_last=True)) == [[0, 1], [2, 3]]
    assert len(BatchSampler(range(5), 2, drop_last=True)) == 2
    with pytest.raises(ValueError, match="positive integer"):
        BatchSampler(range(5), 0, drop_last=False)
    with pytest.raises(ValueError, match="positive integer"):
        RandomSampler(range(5), num_samples=0)


def test_random_split_lengths_fractions_and_seed():
    ds = _ds(10)
    a, b = random_split(ds, [7, 3], generator=ember.Generator().manual_seed(1))
    assert len(a) == 7 and len(b) == 3
    ids = sorted(int(a[i][1]) for i in range(7)) + sorted(int(b[i][1]) for i in range(3))
    assert sorted(ids) == list(range(10))
    c, d = random_split(ds, [7, 3], generator=ember.Generator().manual_seed(1))
    np.testing.assert_array_equal(a.indices, c.indices)
    parts = random_split(ds, [0.5, 0.3, 0.2], generator=ember.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [5, 3, 2]
    assert [len(p) for p in random_split(_ds(11), [0.5, 0.5])] == [6, 5]
    with pytest.raises(ValueError, match="sum of input lengths"):
        random_split(ds, [3, 3])
    # Subset keeps the vectorised path
    xb, yb = next(iter(DataLoader(a, batch_size=7)))
    np.testing.assert_array_equal(yb.numpy(), a.indices)


def test_subset_and_concat():
    ds = _ds(4)
    sub = Subset(ds, [3, 1])
    assert int(sub[0][1]) == 3 and len(sub) == 2
    cat = ConcatDataset([ds, _ds(2)])
    assert len(cat) == 6 and int(cat[5][1]) == 1 and int(cat[-1][1]) == 1
    assert len(ds + ds) == 8
    assert not hasattr(Subset(Dicts(), [0]), "get_batch")
    with pytest.raises(IndexError, match="out of range"):
        cat[6]
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(ember.zeros(3), ember.zeros(4))


def test_random_sampler_with_huge_num_samples_draws_lazily():
    """num_samples=10**10 with replacement must not allocate 80 GB of indices up front."""
    g = ember.Generator().manual_seed(0)
    sampler = RandomSampler(range(7), replacement=True, num_samples=10**10, generator=g)
    assert len(sampler) == 10**10
    it = iter(sampler)
    first = [next(it) for _ in range(100_000)]  # crosses a chunk border
    assert set(first) == set(range(7))
    batches = iter(BatchSampler(sampler, 3, drop_last=False))
    assert [len(next(batches)) for _ in range(30_000)] == [3] * 30_000
    assert len(BatchSampler(sampler, 3, drop_last=False)) == -(-(10**10) // 3)


@pytest.mark.parametrize("replacement", [True, False])
@pytest.mark.parametrize("drop_last", [True, False])
def test_chunked_batches_equal_the_flat_draws(replacement: bool, drop_last: bool):
    """Batches carry a partial batch across chunk borders: same indices as iterating."""

    def sampler():
        g = ember.Generator().manual_seed(3)
        return RandomSampler(range(10), replacement, num_samples=(1 << 16) + 25, generator=g)

    flat = list(sampler())
    batches = list(BatchSampler(sampler(), 7, drop_last))
    assert [i for b in batches for i in b] == flat[
        : len(flat) - len(flat) % 7 if drop_last else None
    ]
    assert len(batches) == len(BatchSampler(sampler(), 7, drop_last))
    if not replacement:  # every run of 10 is a permutation
        assert all(sorted(flat[i : i + 10]) == list(range(10)) for i in range(0, 60, 10))
