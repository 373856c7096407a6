"""Operand addresses remembered between calls of a compiled step.

``a.ctypes.data`` builds a ctypes helper object on every read (about 1 µs), and a native
step passes every operand's address at every call. Most operands are the same arrays at every
call (pooled buffers, parameters, optimizer state), so each position remembers the
C-contiguous array it last saw, through a weak reference, with its address: the same live
array object keeps its memory and layout (ember never reallocates or reshapes an array in
place).
"""

from __future__ import annotations

import ctypes
import weakref
from typing import Any

__all__ = ["Operands"]


def _gone() -> None:
    return None


class Operands:
    """The addresses of the arrays at ``n`` fixed operand positions, in ``table`` (a ctypes
    array of pointers, passed whole or unpacked to a kernel)."""

    __slots__ = ("refs", "table")

    def __init__(self, n: int) -> None:
        self.refs: list[Any] = [_gone] * n  # a weak reference to the array each position had
        self.table = (ctypes.c_void_p * n)()

    def see(self, k: int, a: Any) -> bool:
        """Put ``a``'s address at position ``k``; False (and nothing noted) when ``a`` is not
        C-contiguous."""
        if self.refs[k]() is a:
            return True
        if not a.flags.c_contiguous:
            return False
        self.refs[k] = weakref.ref(a)
        self.table[k] = a.ctypes.data
        return True


class NativeCall:
    """A compiled step calling ``kernel(table)``: ``run(env, **params)`` gathers the
    operands' addresses (and copies, allocates or falls back where it must); ``last`` holds the
    arrays of ``slots`` at its last call that needed nothing but the call, so that the step's
    loop (``step_code``) may call ``kernel(table)`` directly while they are the same arrays."""

    __slots__ = ("run", "kernel", "table", "slots", "last")

    def __init__(self, run: Any, kernel: Any, table: Any, slots: tuple[int, ...]) -> None:
        self.run, self.kernel, self.table, self.slots = run, kernel, table, slots
        self.last: tuple | None = None

    def __call__(self, env: list[Any], **params: Any) -> None:
        self.run(env, **params)
