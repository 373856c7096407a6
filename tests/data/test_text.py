"""Text data: tokenizers round-trip any Unicode, BPE compresses, blocks are shifted windows."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
from ember.data import DataLoader
from ember.data.text import (
    BlockDataset,
    ByteBPETokenizer,
    CharTokenizer,
    default_corpus,
    load_text,
    load_tokenizer,
    tokenizer_from_dict,
    train_val_split,
)

SAMPLES = [
    "plain ASCII text, with punctuation!\n\tand tabs",
    "multi-byte: héllo wörld, naïve café, Ελληνικά, русский, 日本語のテキスト",
    "emoji: 😀🚀 family 👨‍👩‍👧 flags 🇯🇵 and combining e\u0301",
    "  leading/trailing spaces   \n\n\r\n  x__y_z 123abc 4.5e-3 \x00 end",
]
CORPUS = "\n".join(SAMPLES) * 3 + "def foo(self, x):\n    return self.bar(x) + 1\n" * 40


@pytest.fixture(scope="module")
def bpe() -> ByteBPETokenizer:
    return ByteBPETokenizer.train(CORPUS, vocab_size=320)


@pytest.mark.parametrize("text", SAMPLES)
def test_char_round_trip(text):
    tok = CharTokenizer.fit(CORPUS)
    ids = tok.encode(text)
    assert ids.dtype == np.int64 and len(ids) == len(text)
    assert tok.decode(ids) == text
    assert tok.decode(ember.tensor(ids)) == text  # tensors decode too
    assert tok.chars == sorted(set(CORPUS)) and tok.vocab_size == len(set(CORPUS))


def test_char_unknown_character_and_bad_id():
    tok = CharTokenizer.fit("abc")
    with pytest.raises(ValueError, match=r"character 'z' at position 1 is not in the vocabulary"):
        tok.encode("az")
    with pytest.raises(ValueError, match=r"token id out of range: 3 vs \[0, 3\)"):
        tok.decode([0, 3])


@pytest.mark.parametrize("text", SAMPLES)
def test_bpe_round_trip(bpe, text):
    ids = bpe.encode(text)
    assert ids.dtype == np.int64 and ids.min() >= 0 and ids.max() < bpe.vocab_size
    assert bpe.decode(ids) == text


SMALL_BPE = ByteBPETokenizer.train(CORPUS[:400], vocab_size=280)


@settings(max_examples=40, deadline=None)
@given(st.text())
def test_bpe_and_char_lossless_on_arbitrary_unicode(text):
    bpe = SMALL_BPE
    text = text.encode("utf-8", errors="surrogatepass").decode("utf-8", errors="replace")
    assert bpe.decode(bpe.encode(text)) == text
    if text:
        tok = CharTokenizer.fit(text)
        assert tok.decode(tok.encode(text)) == text


def test_bpe_compresses_and_learns_frequent_pairs(bpe):
    ids = bpe.encode(CORPUS)
    assert len(ids) < 0.6 * len(CORPUS.encode("utf-8"))
    assert bpe.vocab_size == 320 and len(bpe.merges) == 64
    # every merged token is the concatenation of its two parts, and "self" is learned whole
    for new, (a, b) in enumerate(bpe.merges, start=256):
        assert bpe.vocab[new] == bpe.vocab[a] + bpe.vocab[b]
    assert b"self" in bpe.vocab or b" self" in bpe.vocab or b"(self" in bpe.vocab


def test_bpe_merge_order_is_frequency_order():
    # "ab" occurs 3x, "cd" 2x: (a, b) is merged first, then (c, d); nothing repeats after that
    tok = ByteBPETokenizer.train("ab\nab\nab\ncd\ncd", vocab_size=300)
    assert tok.merges == [(ord("a"), ord("b")), (ord("c"), ord("d"))]
    assert tok.encode("ab").tolist() == [256]


def test_bpe_is_deterministic_and_serialises(bpe, tmp_path):
    again = ByteBPETokenizer.train(CORPUS, vocab_size=320)
    assert again.merges == bpe.merges
    path = tmp_path / "tok.json"
    bpe.save(path)
    loaded = load_tokenizer(path)
    assert isinstance(loaded, ByteBPETokenizer) and loaded.merges == bpe.merges
    assert loaded.encode(CORPUS).tolist() == bpe.encode(CORPUS).tolist()
    char = CharTokenizer.fit(CORPUS)
    restored = tokenizer_from_dict(json.loads(json.dumps(char.to_dict())))
    assert restored.chars == char.chars
    with pytest.raises(ValueError, match="unknown type 'wordpiece'"):
        tokenizer_from_dict({"type": "wordpiece"})
    with pytest.raises(ValueError, match="vocab_size must be >= 256: 100"):
        ByteBPETokenizer.train("abc", vocab_size=100)


def test_bpe_trains_a_megabyte_quickly():
    import time

    text = default_corpus()
    start = time.perf_counter()
    tok = ByteBPETokenizer.train(text, vocab_size=512)
    ids = tok.encode(text)
    assert time.perf_counter() - start < 20  # ~1.5 s unloaded
    assert len(ids) < 0.5 * len(text.encode("utf-8"))
    assert tok.decode(ids) == text


def test_block_dataset_windows_and_batches():
    tokens = np.arange(100, 200)
    ds = BlockDataset(tokens, block_size=8)
    assert len(ds) == 92
    x, y = ds[5]
    assert x.tolist() == list(range(105, 113)) and y.tolist() == list(range(106, 114))
    xb, yb = ds.get_batch([0, 91, 7])
    assert xb.shape == (3, 8) and yb.shape == (3, 8) and xb.dtype == ember.int64
    np.testing.assert_array_equal(yb.numpy()[:, :-1], xb.numpy()[:, 1:])
    assert xb.numpy()[1, 0] == 191 and yb.numpy()[1, -1] == 199  # the last window ends the data
    g1, g2 = ember.Generator().manual_seed(3), ember.Generator().manual_seed(3)
    a, b = ds.random_batch(16, g1), ds.random_batch(16, g2)
    assert a[0].shape == (16, 8)
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())  # same seed, same batch
    np.testing.assert_array_equal(a[1].numpy() - a[0].numpy(), 1)
    loader_x, loader_y = next(iter(DataLoader(ds, batch_size=4)))  # DataLoader uses get_batch
    assert loader_x.shape == (4, 8) and loader_y.numpy()[0, 0] == 101
    with pytest.raises(IndexError, match="out of range for 92 windows"):
        ds.get_batch([92])
    with pytest.raises(ValueError, match="too few tokens for one block: 8 vs at least 9"):
        BlockDataset(np.arange(8), block_size=8)


def test_train_val_split():
    train, val = train_val_split(np.arange(1000))
    assert len(train) == 900 and len(val) == 100 and val[0] == 900
    with pytest.raises(ValueError, match=r"val_fraction must be in \(0, 1\): 1.5"):
        train_val_split(np.arange(10), 1.5)


def test_default_corpus_is_deterministic_and_bounded():
    a, b = default_corpus(), default_corpus()
    assert a == b and 500_000 <= len(a) <= 1_000_000
    assert "def " in a and "import " in a
    assert default_corpus(max_chars=1000) == a[:1000]


def test_load_text_errors(tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("héllo 😀\n", encoding="utf-8")
    assert load_text(good) == "héllo 😀\n"
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("abc café".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin1.txt is not UTF-8 text: byte 0xe9 at offset 7"):
        load_text(latin)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty.txt is empty"):
        load_text(empty)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_text(tmp_path / "missing.txt")
