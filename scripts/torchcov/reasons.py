"""The table of PyTorch names left out of the measure, each with its reason.

The TOML file has one section per namespace; a key is a name or an ``fnmatch`` pattern
(``"quantize_*"``), its value the reason. An exact name wins over patterns, and the first
matching pattern in file order wins over later ones.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

import tomllib


class Reasons:
    """Looks up why a name is left out; None means it counts."""

    def __init__(self, table: dict[str, dict[str, str]]) -> None:
        for section, entries in table.items():
            for key, reason in entries.items():
                if not isinstance(reason, str) or not reason.strip():
                    raise ValueError(f"[{section}] {key!r}: the reason must be a non-empty string")
        self._table = table

    @classmethod
    def load(cls, path: Path) -> Reasons:
        with open(path, "rb") as f:
            return cls(tomllib.load(f))

    def reason(self, namespace: str, name: str) -> str | None:
        entries = self._table.get(namespace, {})
        if name in entries:
            return entries[name]
        for pattern, why in entries.items():
            if fnmatch.fnmatchcase(name, pattern):
                return why
        return None
