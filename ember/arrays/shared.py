"""Host arrays in memory that other processes map: the storage of ``Tensor.share_memory_()``,
which ``ember.multiprocessing`` sends to other processes by name instead of by value.

A shared array lives in a file of its own under /dev/shm (the temporary directory where there
is none), mapped with MAP_SHARED: a process that maps the same file sees every write. The
process that created the file removes it when the array's mapping is garbage collected or at
exit; a process that has mapped it keeps its mapping after that.
"""

from __future__ import annotations

import mmap
import os
import tempfile
import weakref
from typing import Any, NamedTuple

import numpy as np

__all__ = ["Segment", "share", "moved_view", "segment_of", "attach"]

_DIR = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


class Segment(NamedTuple):
    """Where an array lies in a shared file: enough for another process to map it."""

    path: str
    offset: int  # bytes from the start of the file
    dtype: Any
    shape: tuple[int, ...]
    strides: tuple[int, ...]


# each shared mapping of this process -> (its file, its address)
_MAPPINGS: weakref.WeakKeyDictionary[mmap.mmap, tuple[str, int]] = weakref.WeakKeyDictionary()
_ATTACHED: weakref.WeakValueDictionary[str, mmap.mmap] = weakref.WeakValueDictionary()


def _address(mapping: mmap.mmap) -> int:
    return int(np.frombuffer(mapping, np.uint8, count=1).__array_interface__["data"][0])


def _unlink(path: str, creator: int) -> None:
    if os.getpid() == creator:  # not a forked child that inherited the finalizer
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _map(path: str) -> mmap.mmap:
    with open(path, "r+b") as f:
        mapping = mmap.mmap(f.fileno(), 0)
    _MAPPINGS[mapping] = (path, _address(mapping))
    return mapping


def share(array: np.ndarray) -> np.ndarray:
    """A copy of the host ``array`` in a new shared file (C order)."""
    fd, path = tempfile.mkstemp(prefix="ember-shared-", dir=_DIR)
    try:
        os.ftruncate(fd, max(array.nbytes, 1))
    finally:
        os.close(fd)
    mapping = _map(path)
    weakref.finalize(mapping, _unlink, path, os.getpid())
    out = np.ndarray(array.shape, array.dtype, buffer=mapping)
    out[...] = array
    return out


def moved_view(view: np.ndarray, old_base: np.ndarray, new_base: np.ndarray) -> np.ndarray:
    """``view``, an array over ``old_base``'s memory, rebuilt over ``new_base``, a C-ordered
    copy of ``old_base`` (``share``): the same elements, now in shared memory."""
    if not old_base.flags.c_contiguous:
        raise RuntimeError(
            "share_memory_: ember can only share a view of a contiguous tensor\nhint: share "
            "a contiguous copy, e.g. x.contiguous().share_memory_()"
        )
    delta = int(view.__array_interface__["data"][0]) - int(old_base.__array_interface__["data"][0])
    return np.ndarray(view.shape, view.dtype, buffer=new_base, offset=delta, strides=view.strides)


def segment_of(array: np.ndarray) -> Segment | None:
    """Where ``array`` lies in a shared file, or None when its memory is not shared."""
    owner: Any = array
    while owner is not None and not isinstance(owner, mmap.mmap):
        owner = owner.obj if isinstance(owner, memoryview) else getattr(owner, "base", None)
    found = _MAPPINGS.get(owner) if owner is not None else None
    if found is None:
        return None
    path, address = found
    offset = int(array.__array_interface__["data"][0]) - address
    return Segment(path, offset, array.dtype, tuple(array.shape), tuple(array.strides))


def attach(segment: Segment) -> np.ndarray:
    """The array ``segment`` describes, mapped in this process (writes are shared)."""
    mapping = _ATTACHED.get(segment.path)
    if mapping is None:
        try:
            mapping = _map(segment.path)
        except FileNotFoundError:
            raise RuntimeError(
                f"shared memory {segment.path} is gone: the process that shared the tensor "
                "freed it before this process received it\nhint: keep the shared tensor alive "
                "in the sending process until the receivers have it"
            ) from None
        _ATTACHED[segment.path] = mapping
    return np.ndarray(
        segment.shape,
        segment.dtype,
        buffer=mapping,
        offset=segment.offset,
        strides=segment.strides,
    )
