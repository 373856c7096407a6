"""``benchmarks/lm_compare``: identical starting logits, ``train_lm``'s batches, both curves.

No test asserts a timing.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import ember  # noqa: E402
from benchmarks import lm_compare  # noqa: E402
from ember.data.text import BlockDataset  # noqa: E402
from ember.random import Generator  # noqa: E402
from ember.train import lm as train_lm  # noqa: E402

TINY = {"vocab_size": 11, "block_size": 8, "n_layer": 1, "n_head": 2, "n_embd": 32}


def test_initial_logits_identical() -> None:
    net, twin = lm_compare.build_models(TINY, seed=3)
    assert list(net.state_dict()) == list(twin.state_dict())
    assert twin.lm_head.weight is twin.transformer.wte.weight  # tied like ember's
    idx = np.random.default_rng(0).integers(0, 11, (3, 8))
    with torch.no_grad():
        theirs = twin(torch.from_numpy(idx))[0].numpy()
    ours = net(ember.from_host(idx))[0].detach().numpy()
    assert ours.dtype == theirs.dtype == np.float32
    assert np.max(np.abs(ours - theirs)) < 1e-5
    other, _ = lm_compare.build_models(TINY, seed=4)  # the seed reaches ember's init
    assert np.max(np.abs(other(ember.from_host(idx))[0].detach().numpy() - theirs)) > 1e-3


def test_lstm_twin_starts_from_embers_weights() -> None:
    kwargs = {"vocab_size": 11, "n_embd": 8, "hidden_size": 16, "num_layers": 2, "block_size": 8}
    net, twin = lm_compare.build_models(kwargs, seed=3, registry="char_rnn")
    assert list(net.state_dict()) == list(twin.state_dict())
    idx = np.random.default_rng(0).integers(0, 11, (3, 8))
    targets = np.random.default_rng(1).integers(0, 11, (3, 8))
    ours, our_loss = net(ember.from_host(idx), ember.from_host(targets))
    theirs, their_loss = twin(torch.from_numpy(idx), torch.from_numpy(targets))
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), atol=1e-5)
    assert our_loss.item() == pytest.approx(their_loss.item(), rel=1e-5)


def test_offsets_are_train_lms_batches() -> None:
    data = BlockDataset(np.arange(200) % 7, 8)
    offsets = lm_compare._offsets(data, 4, 3, seed=5)
    gen = Generator().manual_seed(5)
    for rows in offsets:
        x, _ = data.random_batch(4, gen)
        np.testing.assert_array_equal(x.numpy(), data.get_batch(rows)[0].numpy())


def test_cli_reports_both_curves(tmp_path) -> None:
    out_json, out_md = tmp_path / "r.json", tmp_path / "r.md"
    argv = ["--iters", "6", "--eval-interval", "3", "--eval-iters", "2", "--layers", "1"]
    argv += ["--heads", "2", "--width", "32", "--block-size", "16", "--batch-size", "4"]
    lm_compare.main([*argv, "--json", str(out_json), "--markdown", str(out_md)])
    result = json.loads(out_json.read_text())
    assert result["initial_logits_max_abs_diff"] < 1e-5
    assert [r["iter"] for r in result["curve"]] == [0, 3, 6]
    for row in result["curve"]:
        for key in ("ember_train", "torch_train", "ember_val", "torch_val"):
            assert np.isfinite(row[key])
        assert row["ember_val"] == pytest.approx(row["torch_val"], rel=1e-3)
    first, last = result["curve"][0], result["curve"][-1]
    assert last["torch_train"] < first["torch_train"]  # the run trained
    s = result["summary"]
    assert s["within_3pct"] is True
    assert s["ember_ms_per_iter"] > 0 and s["torch_ms_per_iter"] > 0
    text = out_md.read_text()
    assert "| ember |" in text and "| torch |" in text and "within 3%: yes" in text
    assert result["meta"]["command"].startswith("python -m benchmarks.lm_compare --iters 6")


def test_lstm_cli_checkpoint_samples(tmp_path, capsys) -> None:
    ckpt = tmp_path / "lstm.safetensors"
    argv = ["lstm", "--iters", "4", "--eval-interval", "2", "--eval-iters", "1", "--layers", "1"]
    argv += ["--width", "16", "--block-size", "8", "--batch-size", "2", "--checkpoint", str(ckpt)]
    result = lm_compare.main(argv)
    assert result["config"]["model"] == "lstm" and result["config"]["schedule"] == "constant"
    assert [r["iter"] for r in result["curve"]] == [0, 2, 4]
    assert all(r["lr"] == 2e-3 for r in result["curve"])
    last = result["curve"][-1]
    assert last["ember_val"] == pytest.approx(last["torch_val"], rel=1e-4)
    assert "Adam lr 0.002 (constant)" in capsys.readouterr().out
    text = train_lm.sample(ckpt, prompt="def ", tokens=12, seed=0)
    assert text.startswith("def ") and len(text) == 16
