"""jit tests compile native kernels into a private cache, never the user's ~/.cache/ember."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="session")
def _kernel_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    before = os.environ.get("EMBER_CACHE_DIR")
    os.environ["EMBER_CACHE_DIR"] = str(tmp_path_factory.mktemp("ember-cache"))
    yield
    if before is None:
        del os.environ["EMBER_CACHE_DIR"]
    else:
        os.environ["EMBER_CACHE_DIR"] = before
