"""Language-model training and sampling: losses fall, run files, exact resume, CharRNN state."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

import ember
from ember import models
from ember.io import safetensors
from ember.train import checkpoint
from ember.train.lm import lr_at, sample
from ember.train.session import train

TEXT = (
    "the quick brown fox jumps over the lazy dog.\n"
    "a stitch in time saves nine; all that glitters is not gold.\n"
) * 30
TINY = {"layers": 1, "width": 32, "block_size": 16, "batch_size": 8, "eval_iters": 2, "lr": 1e-2}


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def train_lm(model, text=None, out=None, quiet=False, resume=False, **options):
    """``ember train MODEL`` with ``options`` (eager steps, as the resume tests compare bits)."""
    given = {"text": str(text), **options} if text else options
    return train(model, given, out=out, quiet=quiet, resume=resume, jit=False)


def _rows(out):
    """(iter, train_loss, val_loss, lr) of each metrics.csv row."""
    rows = list(csv.DictReader((out / "metrics.csv").read_text().splitlines()))
    return [[float(r[k]) for k in ("iter", "train_loss", "val_loss", "lr")] for r in rows]


@pytest.mark.parametrize("model", ["gpt", "lstm"])
def test_train_lm_loss_decreases_and_writes_run(model, text_file, tmp_path, capsys):
    out = tmp_path / model
    extra = {"heads": 2} if model == "gpt" else {}
    summary = train_lm(model, text_file, iters=20, eval_interval=10, out=out, **TINY, **extra)
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint.safetensors",
        "metrics.csv",
        "summary.json",
    ]
    rows = _rows(out)
    assert [r[0] for r in rows] == [0, 10, 20]
    assert rows[0][1] == pytest.approx(math.log(len(set(TEXT))), abs=0.3)  # ~uniform at init
    assert rows[-1][1] < rows[0][1] - 0.5 and rows[-1][2] < rows[0][2] - 0.5
    saved = json.loads((out / "summary.json").read_text())
    assert saved == json.loads(json.dumps(summary))
    assert saved["final_val_loss"] == pytest.approx(rows[-1][2]) and saved["iters"] == 20
    assert saved["wall_time_s"] > 0 and saved["train_time_s"] > 0
    assert saved["vocab_size"] == len(set(TEXT))
    ckpt = checkpoint.read(out / "checkpoint.safetensors")
    assert ckpt["extra"]["position"]["step"] == 20
    assert ckpt["extra"]["config"]["tokenizer_state"]["type"] == "char"
    assert ckpt["extra"]["config"]["grad_clip"] == 1.0
    printed = capsys.readouterr().out
    assert "iter 10/20  loss " in printed and "val_loss " in printed


def test_resume_continues_exactly(text_file, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    kw = {"eval_interval": 5, "quiet": True, "seed": 4, **TINY}
    train_lm("lstm", text_file, iters=15, out=straight, **kw)
    train_lm("lstm", text_file, iters=10, out=resumed, **kw)
    summary = train_lm("lstm", iters=15, out=resumed, resume=True, quiet=True)
    assert summary["iters"] == 15
    assert _rows(resumed) == _rows(straight)
    a = safetensors.load_file(straight / "checkpoint.safetensors", numpy=True)
    b = safetensors.load_file(resumed / "checkpoint.safetensors", numpy=True)
    for name in (n for n in a if n.startswith(("model.", "optimizer."))):
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_gpt_with_bpe_tokenizer_and_sampling(text_file, tmp_path):
    out = tmp_path / "bpe"
    summary = train_lm(
        "gpt", text_file, iters=4, eval_interval=2, heads=2, tokenizer="bpe", vocab_size=300,
        out=out, quiet=True, **TINY,
    )  # fmt: skip
    assert summary["vocab_size"] == 300
    text = sample(out / "checkpoint.safetensors", prompt="the ", tokens=10, seed=0)
    assert text.startswith("the ") and len(text) > len("the ")


def test_lr_schedule():
    cfg = {"schedule": "cosine", "lr": 1e-3, "min_lr": 1e-4, "warmup_iters": 10, "iters": 110}
    assert lr_at(0, cfg) == pytest.approx(1e-4) and lr_at(9, cfg) == pytest.approx(1e-3)
    assert lr_at(60, cfg) == pytest.approx(5.5e-4)  # half-way down the cosine
    assert lr_at(110, cfg) == pytest.approx(1e-4) and lr_at(500, cfg) == pytest.approx(1e-4)
    lrs = [lr_at(i, cfg) for i in range(10, 110)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    assert lr_at(50, {**cfg, "schedule": "constant"}) == 1e-3


def test_sample_from_checkpoint(text_file, tmp_path):
    out = tmp_path / "gpt"
    train_lm("gpt", text_file, iters=30, heads=2, eval_interval=30, out=out, quiet=True, **TINY)
    path = out / "checkpoint.safetensors"
    text = sample(path, prompt="the ", tokens=40, top_k=5, seed=1)
    assert len(text) == 44 and text.startswith("the ") and set(text) <= set(TEXT)
    assert sample(path, prompt="the ", tokens=40, top_k=5, seed=1) == text  # seeded
    assert sample(path, prompt="the ", tokens=40, top_k=5, seed=1, jit=True) == text
    greedy = sample(path, prompt="the qu", tokens=3, top_k=1)
    assert greedy == sample(path, prompt="the qu", tokens=3, top_k=1, seed=9)
    with pytest.raises(ValueError, match="character 'Z' at position 0 is not in the vocabulary"):
        sample(path, prompt="Z")
    with pytest.raises(ValueError, match="the prompt is empty"):
        sample(path, prompt="")


def test_errors(text_file, tmp_path):
    with pytest.raises(ValueError, match="--heads applies to gpt only"):
        train_lm("lstm", text_file, heads=2, out=tmp_path / "x", quiet=True)
    with pytest.raises(ValueError, match="unknown model 'rnn'"):
        train_lm("rnn", text_file, out=tmp_path / "x")
    short = tmp_path / "short.txt"
    short.write_text("abcdefghij" * 10)
    with pytest.raises(
        ValueError, match=r"text too short: .* has 10 tokens vs at least 65 for one block"
    ):
        train_lm("gpt", short, out=tmp_path / "x", quiet=True)
    other = tmp_path / "other.safetensors"
    checkpoint.save(other, models.create("mlp"), extra={"config": {}})
    with pytest.raises(ValueError, match="was not written by `ember train` for a language model"):
        sample(other)
    lstm = tmp_path / "lstm.safetensors"
    extra = {"config": {"registry": "lstm", "tokenizer_state": {}}}
    checkpoint.save(lstm, models.create("mlp"), extra=extra)
    with pytest.raises(ValueError, match="--jit compiles GPT decoding only: lstm vs gpt"):
        sample(lstm, jit=True)


def test_char_rnn_state_carries_over():
    net = models.create("char_rnn", vocab_size=11, n_embd=8, hidden_size=12, num_layers=2)
    idx = ember.randint(0, 11, (3, 7))
    with ember.no_grad():
        full, _ = net.step(idx)
        first, state = net.step(idx[:, :4])
        rest, _ = net.step(idx[:, 4:], state)
    np.testing.assert_allclose(full.numpy()[:, 4:], rest.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(full.numpy()[:, :4], first.numpy(), rtol=1e-5, atol=1e-6)
    logits, loss = net(idx, idx)
    assert logits.shape == (3, 7, 11) and loss.shape == ()
    # greedy generation (one LSTM step per token) picks the argmax of the full recomputation
    out = net.generate(idx[:1, :3], 5, top_k=1)
    assert out.shape == (1, 8) and out.numpy()[0, :3].tolist() == idx.numpy()[0, :3].tolist()
    for t in range(3, 8):
        expected = net.step(out[:, :t])[0].detach().numpy()[0, -1].argmax()
        assert out.numpy()[0, t] == expected
    with pytest.raises(ValueError, match="temperature must be positive"):
        net.generate(idx, 1, temperature=0.0)


def test_char_rnn_workload_size():
    net = models.create("char_rnn")  # Embedding(65,128)-LSTM(128,256,2)-Linear(256,65)
    expected = 65 * 128 + 4 * 256 * (128 + 256 + 2) + 4 * 256 * (256 + 256 + 2) + 256 * 65 + 65
    assert sum(p.numel() for p in net.parameters()) == expected
