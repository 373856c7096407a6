"""Shared test fixtures: a fixed seed for every test, torch as an optional oracle."""

from __future__ import annotations

import numpy as np
import pytest

import ember


@pytest.fixture(autouse=True)
def _seed() -> None:
    ember.manual_seed(0)
    np.random.seed(0)
