"""How PyTorch complains, for the comparisons: the check that ember refuses a call as PyTorch
does (the same exception type, a message that starts with PyTorch's words), and a wrapper that
silences PyTorch's own deprecation and beta warnings."""

from __future__ import annotations

import warnings
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


def quiet(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with UserWarnings ignored: torch warns that torch.qr is deprecated and that
    index_reduce is in beta, and the tests turn warnings into errors."""

    def call(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return fn(*args, **kwargs)

    return call
