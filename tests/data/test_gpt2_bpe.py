"""GPT2Tokenizer encodes and decodes as ``transformers``' GPT-2 tokenizer does."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("regex")

from ember.data.gpt2_bpe import GPT2Tokenizer, _byte_alphabet  # noqa: E402
from tests.gpt2_files import TEXT, write_tokenizer  # noqa: E402

SAMPLES = [
    TEXT,
    "Hello world! It's 2024, we're testing naïve café.",
    " leading space\n\nnew lines  \t tabs   ",
    "I'LL they'll don't 's x' '",
    "東京 ½ ² Ⅻ 42nd 3.14159",
    "def f(x):\n    return x**2  # comment<|endoftext|>next document<|endoftext|>",
    "emoji 🙂🙃, a\u00a0no-break space, \u3000ideographic,\u2028line separator \x1c\x1f",
    "",
]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tokenizer")
    write_tokenizer(directory)
    return directory


def test_byte_alphabet_is_gpt2s() -> None:
    alphabet = _byte_alphabet()
    assert len(set(alphabet)) == 256
    assert alphabet[ord(" ")] == "Ġ" and alphabet[ord("\n")] == "Ċ" and alphabet[ord("A")] == "A"


def test_encode_decode_match_transformers(files: Path) -> None:
    transformers = pytest.importorskip("transformers")
    theirs = transformers.GPT2Tokenizer.from_pretrained(str(files))
    ours = GPT2Tokenizer.from_pretrained(files)
    assert ours.vocab_size == len(theirs)
    for text in SAMPLES:
        ids = ours.encode(text)
        assert ids.tolist() == theirs.encode(text), text
        assert ours.decode(ids) == text == theirs.decode(ids.tolist())
    assert ours.encode(TEXT).size < len(TEXT.encode()) / 2  # the merges do apply


def test_cut_sample_decodes_with_replacement(files: Path) -> None:
    tok = GPT2Tokenizer.from_pretrained(files)
    ids = tok.encode("東")
    assert len(ids) > 1
    assert tok.decode(ids[:-1]).endswith("\ufffd")
    with pytest.raises(ValueError, match="token id out of range"):
        tok.decode([tok.vocab_size])


def test_bad_files_are_named(files: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="has no vocab.json or merges.txt"):
        GPT2Tokenizer.from_pretrained(tmp_path)
    vocab = json.loads((files / "vocab.json").read_text(encoding="utf-8"))
    del vocab["Ġ"]
    with pytest.raises(ValueError, match="lacks 1 byte symbols, e.g. 'Ġ'"):
        GPT2Tokenizer(vocab, [])
    with pytest.raises(ValueError, match="merge 'x' 'y' uses 'xy', not in vocab"):
        GPT2Tokenizer(json.loads((files / "vocab.json").read_text(encoding="utf-8")), [("x", "y")])
    (tmp_path / "merges.txt").write_text("a b c\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"merges.txt:1: expected two tokens"):
        GPT2Tokenizer.from_files(files / "vocab.json", tmp_path / "merges.txt")


def test_without_regex_the_error_says_what_to_install(
    files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "regex", None)
    with pytest.raises(ImportError, match=r"(?s)needs the regex package.*ember\[pretrained\]"):
        GPT2Tokenizer.from_pretrained(files)
