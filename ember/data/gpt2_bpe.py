"""GPT-2's byte-level BPE tokenizer, read from its ``vocab.json`` and ``merges.txt``.

How GPT-2 tokenizes, step by step:

1. Special tokens (``<|endoftext|>``) are cut out of the text and map to their ids directly.
2. The rest is split into pre-tokens by GPT-2's pattern: English contractions ('s 't 're 've
   'm 'll 'd), a run of letters, of numbers, or of other visible characters, each with an
   optional leading space, and runs of whitespace. Merges never cross pre-tokens. Unicode
   letter and number classes need the ``regex`` package (the ``pretrained`` extra).
3. Each pre-token's UTF-8 bytes become one symbol each, then the adjacent pair whose merge
   comes first in ``merges.txt`` is merged everywhere, again and again until no pair of the
   word is listed.
4. ``vocab.json`` names every symbol by a printable string: each byte is written as one
   character (``_byte_alphabet``), so a space is ``Ġ`` and a newline ``Ċ``.

Decoding joins the tokens' bytes and reads them as UTF-8.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ember.data.text import _as_ids, _check_range, _merge

__all__ = ["GPT2Tokenizer"]

_PATTERN = r"'(?:[stdm]|re|ve|ll)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"  # see step 2
_FILES = ("vocab.json", "merges.txt")


def _byte_alphabet() -> list[str]:
    """The character that stands for each byte in GPT-2's vocabulary: the byte's own Latin-1
    character where that is visible, else the next unused code point from U+0100 on."""
    visible = {*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)}
    spare = iter(range(0x100, 0x200))
    return [chr(b) if b in visible else chr(next(spare)) for b in range(256)]


def _pattern() -> Any:
    try:
        import regex
    except ImportError:
        raise ImportError(
            "GPT2Tokenizer: GPT-2's pre-tokenizer needs the regex package for its Unicode "
            "letter/number classes\nhint: pip install 'ember[pretrained]' (or pip install regex)"
        ) from None
    return regex.compile(_PATTERN)


class GPT2Tokenizer:
    """GPT-2's tokenizer over the token ids of ``vocab`` (token string → id) and the ranked
    ``merges`` (pairs of token strings, first = merged first)."""

    def __init__(
        self,
        vocab: dict[str, int],
        merges: Sequence[tuple[str, str]],
        special_tokens: Sequence[str] = ("<|endoftext|>",),
    ) -> None:
        self.vocab = dict(vocab)
        self._split = _pattern()
        alphabet = _byte_alphabet()
        absent = [repr(c) for c in alphabet if c not in self.vocab]
        if absent:
            raise ValueError(
                f"GPT2Tokenizer: the vocabulary lacks {len(absent)} byte symbols, e.g. "
                f"{', '.join(absent[:5])}: byte-level BPE needs all 256"
            )
        self._byte_ids = [self.vocab[c] for c in alphabet]
        self.ranks: dict[tuple[int, int], int] = {}
        self._merged: dict[tuple[int, int], int] = {}
        for rank, (a, b) in enumerate(merges):
            for token in (a, b, a + b):
                if token not in self.vocab:
                    raise ValueError(
                        f"GPT2Tokenizer: merge {a!r} {b!r} uses {token!r}, not in vocab"
                    )
            pair = (self.vocab[a], self.vocab[b])
            self.ranks.setdefault(pair, rank)
            self._merged[pair] = self.vocab[a + b]
        byte_of = {c: b for b, c in enumerate(alphabet)}
        self._bytes = [b""] * (max(self.vocab.values()) + 1)
        for token, i in self.vocab.items():  # a character outside the alphabet stands for itself
            self._bytes[i] = b"".join(
                bytes([byte_of[c]]) if c in byte_of else c.encode("utf-8") for c in token
            )
        self.special = {t: self.vocab[t] for t in special_tokens if t in self.vocab}
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def from_files(
        cls, vocab_file: str | os.PathLike, merges_file: str | os.PathLike
    ) -> GPT2Tokenizer:
        """Read ``vocab.json`` and ``merges.txt`` (a ``#version`` line first is skipped)."""
        vocab = json.loads(Path(vocab_file).read_text(encoding="utf-8"))
        lines = Path(merges_file).read_text(encoding="utf-8").splitlines()
        merges = []
        for n, line in enumerate(lines, 1):
            if not line.strip() or (n == 1 and line.startswith("#version")):
                continue
            parts = line.split(" ")
            if len(parts) != 2:
                raise ValueError(f"GPT2Tokenizer: {merges_file}:{n}: expected two tokens: {line!r}")
            merges.append((parts[0], parts[1]))
        return cls(vocab, merges)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> GPT2Tokenizer:
        """The tokenizer of a checkpoint directory holding ``vocab.json`` and ``merges.txt``."""
        paths = [Path(directory) / name for name in _FILES]
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"GPT2Tokenizer: {directory} has no {' or '.join(missing)}")
        return cls.from_files(*paths)

    @property
    def vocab_size(self) -> int:
        return len(self._bytes)

    def _encode_piece(self, piece: str) -> list[int]:
        ids = self._cache.get(piece)
        if ids is None:
            ids = [self._byte_ids[b] for b in piece.encode("utf-8")]
            while len(ids) > 1:
                pair = min(zip(ids, ids[1:]), key=lambda p: self.ranks.get(p, 1 << 62))
                if pair not in self.ranks:
                    break
                ids = _merge(ids, pair, self._merged[pair])
            self._cache[piece] = ids
        return ids

    def _encode_text(self, text: str) -> list[int]:
        out: list[int] = []
        for piece in self._split.findall(text):
            out += self._encode_piece(piece)
        return out

    def encode(self, text: str) -> np.ndarray:
        """Token ids (int64) of ``text``."""
        out: list[int] = []
        start = 0
        while self.special:
            found = [(text.find(t, start), t) for t in self.special]
            at, token = min(((i, t) for i, t in found if i >= 0), default=(-1, ""))
            if at < 0:
                break
            out += self._encode_text(text[start:at]) + [self.special[token]]
            start = at + len(token)
        out += self._encode_text(text[start:])
        return np.array(out, dtype=np.int64)

    def decode(self, ids: Any) -> str:
        """The text of token ids; an incomplete UTF-8 sequence (a cut sample) becomes U+FFFD."""
        arr = _as_ids(ids)
        _check_range(arr, self.vocab_size, "GPT2Tokenizer")
        return b"".join(self._bytes[i] for i in arr.tolist()).decode("utf-8", errors="replace")
