from __future__ import annotations

import pytest

from tests.data.idx_helpers import make_idx_dataset


@pytest.fixture
def tiny_fashion(tmp_path, monkeypatch):
    root = tmp_path / "data"
    make_idx_dataset(root / "fashion-mnist")
    monkeypatch.setenv("EMBER_DATA", str(root))
    return root / "fashion-mnist"
