"""``ember.allocator.keep_freed_memory``: glibc keeps large freed blocks; opt-out; the CLI."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

import numpy as np
import pytest

import ember
from ember import allocator, cli


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (malloc.h): ``hblkhd`` is the bytes held in mmap'd blocks."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks")
        + ("uordblks", "fordblks", "keepcost")
    ]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_glibc_recycles_a_freed_large_block() -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.mallinfo2.restype = _MallInfo2
    assert allocator.keep_freed_memory()
    mapped = libc.mallinfo2().hblkhd
    first = np.empty(64 << 20, np.uint8)  # 64 MiB: above glibc's largest adaptive threshold
    assert libc.mallinfo2().hblkhd == mapped  # from the heap, not a fresh mapping
    address = first.ctypes.data
    del first
    assert libc.mallinfo2().fordblks >= 64 << 20  # freed into the heap, kept in the process
    again = np.empty(64 << 20, np.uint8)
    assert again.ctypes.data == address  # the same heap block, not a fresh mapping


def test_opt_out_leaves_malloc_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: pytest.fail("malloc was touched"))
    assert allocator.keep_freed_memory(False) is False
    with ember.config.override(keep_freed_memory=False):
        assert allocator.keep_freed_memory() is False


def test_no_c_library_is_not_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator.ctypes.util, "find_library", lambda name: None)
    assert allocator.keep_freed_memory() is False


@pytest.mark.parametrize("command,expected", [("bench", True), ("eval", False)])
def test_the_cli_keeps_freed_memory_for_long_runs(
    command: str, expected: bool, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[bool] = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append(True))
    missing = str(tmp_path / "missing")
    argv = ["bench", "mlp", "--update", missing] if command == "bench" else ["eval", missing]
    assert cli.main(argv) == 1  # both fail on the missing file, after the allocator choice
    assert calls == ([True] if expected else [])
