"""Command-line value types: numbers checked when the command line is parsed, so that a bad
count is a usage error naming the option, never a default taken in its place."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

__all__ = ["positive_int", "nonnegative_int", "positive_float", "fraction"]


def _number(kind: Callable[[str], Any], text: str, ok: Callable[[Any], bool], want: str) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {want}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"{text} is not {want}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer ≥ 1."""
    return _number(int, text, lambda v: v >= 1, "a positive integer")


def nonnegative_int(text: str) -> int:
    """An argparse type: an integer ≥ 0."""
    return _number(int, text, lambda v: v >= 0, "an integer ≥ 0")


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    return _number(float, text, lambda v: 0 < v < float("inf"), "a positive number")


def fraction(text: str) -> float:
    """An argparse type: a number in [0, 1)."""
    return _number(float, text, lambda v: 0 <= v < 1, "a number in [0, 1)")
