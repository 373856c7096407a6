"""``ember.allocator.keep_freed_memory``: glibc keeps large freed blocks; opt-out; the CLI."""

from __future__ import annotations

import ctypes
import platform

import numpy as np
import pytest

from ember import allocator, cli


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_recycles_a_freed_large_block() -> None:
    assert allocator.keep_freed_memory()
    first = np.empty(8 << 20, np.uint8)  # 8 MiB: above glibc's default mmap threshold
    address = first.ctypes.data
    del first
    again = np.empty(8 << 20, np.uint8)
    assert again.ctypes.data == address  # the same heap block, not a fresh mapping


def test_opt_out_leaves_malloc_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EMBER_KEEP_FREED_MEMORY", "0")
    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: pytest.fail("malloc was touched"))
    assert allocator.keep_freed_memory() is False


def test_no_c_library_is_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator.ctypes.util, "find_library", lambda name: None)
    assert allocator.keep_freed_memory() is False


@pytest.mark.parametrize(
    "argv,expected", [(["bench", "--help"], True), (["eval", "--help"], False)]
)
def test_the_cli_keeps_freed_memory_for_long_runs(
    argv: list[str], expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bool] = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append(True))
    with pytest.raises(SystemExit):
        cli.main(argv)
    assert calls == ([True] if expected else [])
