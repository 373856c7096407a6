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


@pytest.mark.parametrize(("load", "expected"), [(0.0, 4), (1.2, 3), (3.6, 1), (9.0, 1)])
def test_free_cores_are_the_usable_cores_less_the_load(monkeypatch, load, expected) -> None:
    from ember.threads import free_cores

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(os, "getloadavg", lambda: (load, 0.0, 0.0))
    assert free_cores() == expected


def test_ember_train_defaults_to_the_free_cores_and_says_so(monkeypatch, capsys) -> None:
    from ember import cli

    chosen = []
    monkeypatch.setattr("ember.threads.free_cores", lambda: 1)
    monkeypatch.setattr("ember.threads.get_num_threads", lambda: 2)
    monkeypatch.setattr("ember.threads.set_num_threads", chosen.append)
    cli._set_threads(None, quiet=False)
    cli._set_threads(3, quiet=False)  # an explicit count is used as given
    assert chosen == [1, 3]
    assert capsys.readouterr().out == "threads: 1 (the cores not busy now; --threads N to choose)\n"
