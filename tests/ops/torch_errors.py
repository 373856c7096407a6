"""The check that ember refuses a call as PyTorch does: the same exception type, and a
message that starts with PyTorch's words."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

import ember


def assert_raises_like_torch(call: Callable[[Any], Any]) -> None:
    """``call(torch)`` raises; ``call(ember)`` raises the same type with torch's opening words
    (its message up to the first comma or parenthesis)."""
    with pytest.raises(Exception) as expected:
        call(torch)
    with pytest.raises(type(expected.value)) as got:
        call(ember)
    first_words = str(expected.value).split(",")[0].split("(")[0][:25]
    assert first_words.lower() in str(got.value).lower(), (str(got.value), str(expected.value))
