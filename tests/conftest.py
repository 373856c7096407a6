"""Shared test fixtures: a fixed seed for every test, one BLAS thread per test process, and a
private ember.jit kernel cache (tests never write to the user's ~/.cache/ember)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import threadpoolctl

import ember

# pytest-xdist runs one process per core: multi-threaded OpenBLAS in each of them
# oversubscribes the cores, and its spinning threads then make large-K matrix products up to
# 50x slower. One BLAS thread per process (and per torch) keeps the suite fast and steady.
threadpoolctl.threadpool_limits(limits=1, user_api="blas")


@pytest.fixture(autouse=True)
def _seed() -> None:
    ember.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(autouse=True, scope="session")
def _torch_threads() -> None:
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


@pytest.fixture(autouse=True, scope="session")
def _kernel_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with ember.config.override(jit_cache_dir=tmp_path_factory.mktemp("ember-jit-cache")):
        yield
