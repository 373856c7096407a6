"""Small GPT-2 checkpoint directories in Hugging Face's layout, made offline for the tests.

The tokenizer files hold all 256 byte symbols (in shuffled ids) and merges that ember's own
BPE trainer learns from a short text, written in GPT-2's byte alphabet; the model is a tiny
randomly initialised ``transformers`` GPT-2 whose weights are perturbed so that biases and
LayerNorm parameters matter.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

from ember.data.gpt2_bpe import _byte_alphabet
from ember.data.text import ByteBPETokenizer

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local: never ask the hub

TEXT = (
    "Hello world! It's 2024, and we're testing the tokenizer: naïve café, über-cool. "
    "They'll say I'd done it; you've seen 123 numbers and 4.56 more.\n\n  Indented   text\t"
    "with tabs, 東京 and emoji 🙂. "
) * 4


def write_tokenizer(directory: Path, merges: int = 200) -> int:
    """Write ``vocab.json`` and ``merges.txt``; returns the vocabulary size."""
    learned = ByteBPETokenizer.train(TEXT, 256 + merges)
    alphabet = _byte_alphabet()

    def spell(data: bytes) -> str:
        return "".join(alphabet[b] for b in data)

    tokens = [spell(bytes([b])) for b in range(256)]
    random.Random(0).shuffle(tokens)
    pairs = []
    for a, b in learned.merges:
        pairs.append((spell(learned.vocab[a]), spell(learned.vocab[b])))
        if pairs[-1][0] + pairs[-1][1] not in tokens:
            tokens.append(pairs[-1][0] + pairs[-1][1])
    tokens.append("<|endoftext|>")
    directory.mkdir(parents=True, exist_ok=True)
    vocab = {t: i for i, t in enumerate(tokens)}
    (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    merges_text = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in pairs)
    (directory / "merges.txt").write_text(merges_text, encoding="utf-8")
    return len(vocab)


def write_checkpoint(directory: Path, **config: Any) -> Any:
    """A tiny GPT-2 saved as safetensors with its tokenizer files; returns the torch model."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    vocab_size = write_tokenizer(directory)
    eot = vocab_size - 1
    settings = dict(n_layer=2, n_head=2, n_embd=32, n_positions=24, bos_token_id=eot)
    settings.update(eos_token_id=eot, **config)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=vocab_size, **settings)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.2)
    model.save_pretrained(directory, safe_serialization=True)
    return model
