"""BLAS thread control."""

from __future__ import annotations

import pytest

import ember


def test_set_and_get_num_threads_round_trip() -> None:
    before = ember.get_num_threads()
    try:
        ember.set_num_threads(2)
        assert ember.get_num_threads() == 2
        ember.set_num_threads(1)
        assert ember.get_num_threads() == 1
    finally:
        ember.set_num_threads(before)
    assert ember.get_num_threads() == before


def test_set_num_threads_rejects_non_positive() -> None:
    with pytest.raises(ValueError, match="set_num_threads: expected a positive number"):
        ember.set_num_threads(0)
