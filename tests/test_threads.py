"""Thread control: BLAS and the OpenMP runtime of ember.jit's compiled kernels."""

from __future__ import annotations

import os

import pytest

import ember

threadpoolctl = pytest.importorskip("threadpoolctl")


def test_set_and_get_num_threads_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)  # restored after the test
    before = ember.get_num_threads()
    try:
        ember.set_num_threads(2)
        assert ember.get_num_threads() == 2
        ember.set_num_threads(1)
        assert ember.get_num_threads() == 1
        assert os.environ["OMP_NUM_THREADS"] == "1"  # read by an OpenMP runtime loaded later
        loaded = [lib for lib in threadpoolctl.threadpool_info() if lib["user_api"] == "openmp"]
        assert all(lib["num_threads"] == 1 for lib in loaded)
    finally:
        ember.set_num_threads(before)
    assert ember.get_num_threads() == before


def test_set_num_threads_rejects_non_positive() -> None:
    with pytest.raises(ValueError, match="set_num_threads: expected a positive number"):
        ember.set_num_threads(0)
