"""Text for language modelling: tokenizers, contiguous blocks and an offline default corpus.

Flow: ``load_text(path)`` (or ``default_corpus()``) → a tokenizer fitted on the text
(``CharTokenizer.fit`` or ``ByteBPETokenizer.train``) → ``encode`` to an int64 array →
``train_val_split`` (first 90 % / last 10 %) → ``BlockDataset(tokens, block_size)`` whose
``random_batch`` gives (x, y) blocks with y shifted one token to the right.

Tokenizers serialise to a small JSON-able dict (``to_dict`` / ``tokenizer_from_dict``), which
is how checkpoints carry them.
"""

from __future__ import annotations

import heapq
import json
import os
import re
import sysconfig
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ember import dtypes
from ember.creation import from_host
from ember.data.dataset import Dataset
from ember.random import Generator, randint
from ember.tensor import Tensor

__all__ = [
    "CharTokenizer",
    "ByteBPETokenizer",
    "tokenizer_from_dict",
    "load_tokenizer",
    "BlockDataset",
    "train_val_split",
    "load_text",
    "default_corpus",
    "DEFAULT_CORPUS_CHARS",
]

DEFAULT_CORPUS_CHARS = 1_000_000


def _as_ids(ids: Any) -> np.ndarray:
    """Token ids from a list, array or Tensor as a flat int64 array."""
    if isinstance(ids, Tensor):
        ids = ids.detach().cpu().numpy()
    return np.asarray(ids, dtype=np.int64).reshape(-1)


def _check_range(ids: np.ndarray, vocab_size: int, who: str) -> None:
    if ids.size and (ids.min() < 0 or ids.max() >= vocab_size):
        bad = ids[(ids < 0) | (ids >= vocab_size)][0]
        raise ValueError(f"{who}.decode: token id out of range: {bad} vs [0, {vocab_size})")


class _Tokenizer:
    """Shared JSON file round trip; subclasses give ``to_dict`` / ``from_dict``."""

    def save(self, path: str | os.PathLike) -> None:
        """Write the tokenizer as JSON."""
        Path(path).write_text(json.dumps(self.to_dict()), encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Any:
        """Read a tokenizer written by ``save``."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        raise NotImplementedError


class CharTokenizer(_Tokenizer):
    """One token per distinct character of the text it was fitted on (sorted by code point).

    >>> tok = CharTokenizer.fit("hello")
    >>> tok.vocab_size, tok.encode("hole").tolist(), tok.decode(tok.encode("hole"))
    (4, [1, 3, 2, 0], 'hole')
    """

    def __init__(self, chars: Sequence[str]) -> None:
        self.chars = list(chars)
        if len(set(self.chars)) != len(self.chars) or any(len(c) != 1 for c in self.chars):
            raise ValueError("CharTokenizer: chars must be distinct single characters")
        self._codes = np.array([ord(c) for c in self.chars], dtype=np.int64)
        self._order = np.argsort(self._codes)
        self._sorted = self._codes[self._order]
        self._table = np.array(self.chars + [""], dtype=object)

    @classmethod
    def fit(cls, text: str) -> CharTokenizer:
        """The vocabulary of ``text``."""
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """Token ids (int64) of ``text``; every character must be in the vocabulary."""
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        pos = np.searchsorted(self._sorted, codes).clip(0, len(self._sorted) - 1)
        unknown = self._sorted[pos] != codes if len(self._sorted) else np.ones(len(codes), bool)
        if unknown.any():
            i = int(np.flatnonzero(unknown)[0])
            raise ValueError(
                f"CharTokenizer.encode: character {text[i]!r} at position {i} is not in the "
                f"vocabulary of {self.vocab_size} characters\nhint: the tokenizer only knows "
                "the characters of the text it was fitted on"
            )
        return self._order[pos]

    def decode(self, ids: Any) -> str:
        """The text of token ids (list, array or Tensor)."""
        arr = _as_ids(ids)
        _check_range(arr, self.vocab_size, "CharTokenizer")
        return "".join(self._table[arr])

    def to_dict(self) -> dict[str, Any]:
        return {"type": "char", "chars": "".join(self.chars)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CharTokenizer:
        return cls(list(d["chars"]))


# GPT-2 style pre-tokenization: merges never cross word/space/punctuation boundaries, which
# keeps training fast (BPE runs over distinct chunks) and the tokens meaningful. The four
# alternatives cover every character, so the chunks concatenate back to the text.
_CHUNK = re.compile(r" ?[^\W\d_]+| ?\d+| ?[^\s\w]+|\s+(?!\S)|\s+|_+")


class ByteBPETokenizer(_Tokenizer):
    """Byte-level byte-pair encoding: tokens 0-255 are bytes, each later token merges two.

    Any UTF-8 text encodes (no unknown tokens) and decodes back exactly.

    >>> tok = ByteBPETokenizer.train("low lower lowest " * 20, vocab_size=260)
    >>> ids = tok.encode("lowest")
    >>> len(ids) < len(b"lowest"), tok.decode(ids)
    (True, 'lowest')
    """

    def __init__(self, merges: Sequence[tuple[int, int]] = ()) -> None:
        self.merges = [(int(a), int(b)) for a, b in merges]
        self.ranks = {pair: 256 + i for i, pair in enumerate(self.merges)}
        self.vocab = [bytes([i]) for i in range(256)]
        for a, b in self.merges:
            if a >= len(self.vocab) or b >= len(self.vocab):
                raise ValueError(f"ByteBPETokenizer: merge ({a}, {b}) uses a later token")
            self.vocab.append(self.vocab[a] + self.vocab[b])
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @classmethod
    def train(cls, text: str, vocab_size: int) -> ByteBPETokenizer:
        """Learn ``vocab_size - 256`` merges from ``text``, most frequent pair first.

        Pair counts are kept incrementally: a merge only revisits the distinct chunks that
        contain the merged pair, and a lazy max-heap finds the next most frequent pair
        (ties go to the smaller pair, so training is deterministic).
        """
        if vocab_size < 256:
            raise ValueError(f"ByteBPETokenizer.train: vocab_size must be >= 256: {vocab_size}")
        chunks = Counter(_CHUNK.findall(text))
        words = [list(w.encode("utf-8")) for w in chunks]
        freqs = list(chunks.values())
        counts: Counter[tuple[int, int]] = Counter()
        where: dict[tuple[int, int], set[int]] = {}
        for i, (w, f) in enumerate(zip(words, freqs)):
            for pair in zip(w, w[1:]):
                counts[pair] += f
                where.setdefault(pair, set()).add(i)
        heap = [(-c, p) for p, c in counts.items()]
        heapq.heapify(heap)
        merges: list[tuple[int, int]] = []
        while len(merges) < vocab_size - 256 and heap:
            neg, pair = heapq.heappop(heap)
            if counts.get(pair, 0) != -neg:
                continue  # stale entry; the current count was pushed separately
            if -neg < 2:
                break  # nothing repeats any more
            new = 256 + len(merges)
            merges.append(pair)
            changed: set[tuple[int, int]] = set()
            for i in where.pop(pair):
                w, f = words[i], freqs[i]
                for p in zip(w, w[1:]):
                    counts[p] -= f
                    changed.add(p)
                words[i] = w = _merge(w, pair, new)
                for p in zip(w, w[1:]):
                    counts[p] += f
                    changed.add(p)
                    where.setdefault(p, set()).add(i)
            for p in changed:
                if counts[p] > 0:
                    heapq.heappush(heap, (-counts[p], p))
                else:
                    del counts[p]
        return cls(merges)

    def _encode_chunk(self, chunk: str) -> list[int]:
        ids = self._cache.get(chunk)
        if ids is None:
            ids = list(chunk.encode("utf-8"))
            while len(ids) > 1:
                best = min(zip(ids, ids[1:]), key=lambda p: self.ranks.get(p, 1 << 62))
                if best not in self.ranks:
                    break
                ids = _merge(ids, best, self.ranks[best])
            self._cache[chunk] = ids
        return ids

    def encode(self, text: str) -> np.ndarray:
        """Token ids (int64) of ``text``."""
        out: list[int] = []
        for chunk in _CHUNK.findall(text):
            out += self._encode_chunk(chunk)
        return np.array(out, dtype=np.int64)

    def decode(self, ids: Any) -> str:
        """The text of token ids; an incomplete UTF-8 sequence (a cut sample) becomes U+FFFD."""
        arr = _as_ids(ids)
        _check_range(arr, self.vocab_size, "ByteBPETokenizer")
        return b"".join(self.vocab[i] for i in arr.tolist()).decode("utf-8", errors="replace")

    def to_dict(self) -> dict[str, Any]:
        return {"type": "bpe", "merges": [list(m) for m in self.merges]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ByteBPETokenizer:
        return cls([tuple(m) for m in d["merges"]])


def _merge(ids: list[int], pair: tuple[int, int], new: int) -> list[int]:
    """``ids`` with every non-overlapping occurrence of ``pair`` (left to right) → ``new``."""
    out, i, n = [], 0, len(ids)
    a, b = pair
    while i < n:
        if i + 1 < n and ids[i] == a and ids[i + 1] == b:
            out.append(new)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


_TOKENIZERS = {"char": CharTokenizer, "bpe": ByteBPETokenizer}


def tokenizer_from_dict(d: dict[str, Any]) -> CharTokenizer | ByteBPETokenizer:
    """Rebuild a tokenizer from its ``to_dict`` form (as stored in checkpoints)."""
    kind = d.get("type")
    if kind not in _TOKENIZERS:
        raise ValueError(f"tokenizer: unknown type {kind!r}: expected one of {sorted(_TOKENIZERS)}")
    return _TOKENIZERS[kind].from_dict(d)


def load_tokenizer(path: str | os.PathLike) -> CharTokenizer | ByteBPETokenizer:
    """Read a tokenizer JSON file of either kind."""
    return tokenizer_from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


class BlockDataset(Dataset):
    """Every window of ``block_size + 1`` consecutive tokens as (x, y) with y = x shifted by one.

    Shape: item i → x = tokens[i : i+block_size], y = tokens[i+1 : i+block_size+1], int64.

    >>> ds = BlockDataset(list(range(10)), block_size=4)
    >>> len(ds), [t.tolist() for t in ds[2]]
    (6, [[2, 3, 4, 5], [3, 4, 5, 6]])
    """

    def __init__(self, tokens: Any, block_size: int) -> None:
        self.tokens = _as_ids(tokens)
        self.block_size = int(block_size)
        if self.block_size < 1:
            raise ValueError(f"BlockDataset: block_size must be positive: {block_size}")
        if len(self.tokens) <= self.block_size:
            raise ValueError(
                f"BlockDataset: too few tokens for one block: {len(self.tokens)} vs at least "
                f"{self.block_size + 1}\nhint: use a longer text or a smaller block size"
            )
        self._window = np.arange(self.block_size + 1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.tokens) - self.block_size

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        x, y = self.get_batch([index])
        return x[0], y[0]

    def get_batch(self, indices: Sequence[int] | np.ndarray) -> list[Tensor]:
        """(x, y), each (B, block_size), for the windows starting at ``indices``: one gather."""
        start = np.asarray(indices, dtype=np.int64).reshape(-1, 1)
        if start.size and (start.min() < -len(self) or start.max() >= len(self)):
            raise IndexError(f"BlockDataset: index out of range for {len(self)} windows")
        blocks = self.tokens[start % len(self) + self._window]  # (B, block_size + 1)
        return [
            from_host(blocks[:, :-1], dtype=dtypes.int64),
            from_host(blocks[:, 1:], dtype=dtypes.int64),
        ]

    def random_batch(self, batch_size: int, generator: Generator | None = None) -> list[Tensor]:
        """(x, y) for ``batch_size`` windows at uniformly random offsets."""
        offsets = randint(0, len(self), (batch_size,), generator=generator)
        return self.get_batch(offsets.numpy())


def train_val_split(tokens: Any, val_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """The first ``1 - val_fraction`` of the tokens for training, the rest for validation."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"train_val_split: val_fraction must be in (0, 1): {val_fraction}")
    ids = _as_ids(tokens)
    n = int(round(len(ids) * (1.0 - val_fraction)))
    return ids[:n], ids[n:]


def load_text(path: str | os.PathLike) -> str:
    """The contents of a UTF-8 text file; a clear error for empty or non-UTF-8 files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_text: no such file: {path}")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"load_text: {path} is not UTF-8 text: byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start} ({exc.reason})\nhint: convert it first, e.g. "
            f"`iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8.txt`"
        ) from None
    if not text.strip():
        raise ValueError(f"load_text: {path} is empty: {len(raw)} bytes and no text to train on")
    return text


def _stdlib_files() -> list[Path]:
    """The standard library's top-level ``.py`` files, sorted by name."""
    return sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py"), key=lambda p: p.name)


def default_corpus(max_chars: int = DEFAULT_CORPUS_CHARS) -> str:
    """The running Python's own standard-library sources (first files by name), ≤ max_chars.

    Available offline everywhere and deterministic for a given Python version.
    """
    parts: list[str] = []
    size = 0
    for path in _stdlib_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # an unreadable file is skipped rather than failing the whole corpus
        parts.append(text)
        size += len(text)
        if size >= max_chars:
            break
    if not parts:
        raise RuntimeError(
            f"default_corpus: no readable .py files in {sysconfig.get_paths()['stdlib']}\n"
            "hint: pass a text file with --text PATH"
        )
    return "".join(parts)[:max_chars]
