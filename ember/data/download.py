"""Fetch files over HTTP(S) into a cache with checksum verification and atomic writes.

A download goes to a temporary file in the destination directory, is hashed while it streams,
and is renamed into place only when the checksum matches: an interrupted or corrupt download
never leaves a file that looks complete.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

__all__ = ["download_file", "file_digest", "DownloadError"]

_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """No mirror delivered a file with the expected checksum."""


def _parse_checksum(checksum: str) -> tuple[str, str]:
    """``"md5:abc…"`` / ``"sha256:abc…"`` (a bare 32-hex string is MD5, 64-hex SHA-256)."""
    if ":" in checksum:
        algo, digest = checksum.split(":", 1)
    else:
        algo, digest = ("md5" if len(checksum) == 32 else "sha256"), checksum
    if algo not in ("md5", "sha256"):
        raise ValueError(f"download: unsupported checksum algorithm {algo!r}: expected md5/sha256")
    return algo, digest.lower()


def file_digest(path: str | os.PathLike, algo: str = "sha256") -> str:
    """Hex digest of a file, read in chunks."""
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def download_file(
    urls: str | Sequence[str], dest: str | os.PathLike, checksum: str | None, timeout: float = 60.0
) -> Path:
    """Download the first mirror in ``urls`` whose content matches ``checksum`` to ``dest``."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    algo, expected = _parse_checksum(checksum) if checksum else ("sha256", None)
    errors = []
    for url in [urls] if isinstance(urls, str) else list(urls):
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".part-", suffix=dest.name)
        try:
            h = hashlib.new(algo)
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                for block in iter(lambda: resp.read(_CHUNK), b""):  # noqa: B023
                    h.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            if expected is not None and h.hexdigest() != expected:
                errors.append(f"{url}: {algo} mismatch: {h.hexdigest()} vs {expected}")
                continue
            os.replace(tmp, dest)
            return dest
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            errors.append(f"{url}: {exc}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    raise DownloadError(f"download: could not fetch {dest.name}:\n  " + "\n  ".join(errors))
