"""The safetensors format, written and read with NumPy alone.

Layout: an 8-byte little-endian header length N, then N bytes of JSON
(``{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
"__metadata__": {str: str}}``, padded with spaces to a multiple of 8), then the raw
little-endian bytes of every tensor, back to back.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["save", "load", "save_file", "load_file", "load_metadata", "atomic_write_bytes"]

_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"),
    "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_CODES = {dt: code for code, dt in _DTYPES.items()}
_MAX_HEADER = 100_000_000  # the reference implementation's limit; guards against garbage files


def _as_numpy(value: Any, name: str) -> np.ndarray:
    if hasattr(value, "_data") and hasattr(value, "detach"):  # an ember Tensor
        value = value.detach().numpy()
    arr = np.asarray(value)
    if arr.dtype.newbyteorder("=") not in _CODES:
        raise TypeError(
            f"safetensors: tensor {name!r} has unsupported dtype {arr.dtype}: "
            f"expected one of {sorted(_DTYPES)}"
        )
    return arr


def save(tensors: Mapping[str, Any], metadata: Mapping[str, str] | None = None) -> bytes:
    """Serialise a dict of tensors/arrays (and an optional str→str metadata map) to bytes."""
    header: dict[str, Any] = {}
    if metadata:
        bad = [k for k, v in metadata.items() if not (isinstance(k, str) and isinstance(v, str))]
        if bad:
            raise TypeError(f"safetensors: metadata must map str to str, bad keys: {bad}")
        header["__metadata__"] = dict(metadata)
    chunks, offset = [], 0
    for name, value in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"safetensors: invalid tensor name {name!r}")
        arr = _as_numpy(value, name)
        code = _CODES[arr.dtype.newbyteorder("=")]
        raw = np.ascontiguousarray(arr, dtype=_DTYPES[code]).tobytes()
        header[name] = {
            "dtype": code,
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def _parse_header(blob: bytes | memoryview, total: int, where: str) -> tuple[dict, int]:
    if total < 8:
        raise ValueError(f"safetensors: {where} is too short to hold a header ({total} bytes)")
    (n,) = struct.unpack("<Q", bytes(blob[:8]))
    if n > _MAX_HEADER or 8 + n > total:
        raise ValueError(
            f"safetensors: {where} has a corrupt header length: {n} vs at most {total - 8}"
        )
    try:
        header = json.loads(bytes(blob[8 : 8 + n]).decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"safetensors: {where} has an unreadable JSON header: {exc}") from None
    if not isinstance(header, dict):
        raise ValueError(f"safetensors: {where} header is not a JSON object")
    return header, 8 + n


def _decode(blob: bytes | memoryview, where: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    header, start = _parse_header(blob, len(blob), where)
    metadata = header.pop("__metadata__", None) or {}
    data_len = len(blob) - start
    out = {}
    for name, info in header.items():
        code = info.get("dtype")
        if code not in _DTYPES:
            raise ValueError(f"safetensors: {where}: tensor {name!r} has unknown dtype {code!r}")
        dt, shape = _DTYPES[code], tuple(int(s) for s in info["shape"])
        begin, end = (int(o) for o in info["data_offsets"])
        expected = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
        if not (0 <= begin <= end <= data_len) or end - begin != expected:
            raise ValueError(
                f"safetensors: {where}: tensor {name!r} has bad data offsets "
                f"[{begin}, {end}] vs {expected} bytes within a {data_len}-byte buffer"
            )
        arr = np.frombuffer(blob, dtype=dt, count=expected // dt.itemsize, offset=start + begin)
        out[name] = arr.reshape(shape).astype(dt.newbyteorder("="), copy=True)
    return out, dict(metadata)


def load(data: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parse safetensors bytes into (dict of NumPy arrays, metadata)."""
    return _decode(memoryview(data), "buffer")


def _mode_for(path: str) -> int:
    """Permission bits for a rewritten ``path``: its current ones, else 0666 & ~umask."""
    try:
        return os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def atomic_write_bytes(path: str | os.PathLike, payload: bytes) -> None:
    """Write ``payload`` to ``path`` so that readers see the old file or the new, never half.

    A temporary file in the same directory is written, fsynced and renamed over ``path``. The
    file keeps the mode of the one it replaces (a new one gets the umask's default), not
    ``mkstemp``'s private 0600.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        os.fchmod(fd, _mode_for(path))
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def save_file(
    tensors: Mapping[str, Any],
    filename: str | os.PathLike,
    metadata: Mapping[str, str] | None = None,
) -> None:
    """Write a dict of tensors to ``filename`` atomically."""
    atomic_write_bytes(filename, save(tensors, metadata))


def _read(filename: str | os.PathLike) -> bytes:
    try:
        with open(filename, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"safetensors: no such file: {os.fspath(filename)}") from None


def load_file(
    filename: str | os.PathLike, device: Any = None, *, numpy: bool = False
) -> dict[str, Any]:
    """Read a safetensors file into a dict of ember Tensors (or NumPy arrays)."""
    arrays, _ = _decode(memoryview(_read(filename)), os.fspath(filename))
    if numpy:
        return arrays
    from ember.creation import from_host

    return {k: from_host(v, device=device) for k, v in arrays.items()}


def load_metadata(filename: str | os.PathLike) -> dict[str, str]:
    """Only the ``__metadata__`` map of a safetensors file."""
    blob = _read(filename)
    header, _ = _parse_header(memoryview(blob), len(blob), os.fspath(filename))
    return dict(header.get("__metadata__") or {})
