"""Skip markers for tests that need a real data set, which a fresh machine may not have.

CI installs Debian's ``dataset-fashion-mnist`` (``.ci/run``), so these tests run there; on a
machine without the files they skip and say where ember looked and how to get the data.
"""

from __future__ import annotations

import functools

import pytest

from ember.data.datasets import IMAGE_DATASETS


@functools.cache
def missing_reason(name: str) -> str | None:
    """Why the real data set ``name`` cannot be loaded (both splits), or None when it can."""
    try:
        for train in (True, False):
            IMAGE_DATASETS[name](train=train)
    except FileNotFoundError as exc:
        return f"needs the real {name} data set: {exc}"
    return None


def needs_dataset(name: str) -> pytest.MarkDecorator:
    """``skipif`` marker: skip, naming where ember looked, when ``name``'s files are absent."""
    reason = missing_reason(name)
    return pytest.mark.skipif(reason is not None, reason=reason or "")
