"""``benchmarks/generate_compare``: the PyTorch twin's KV cache gives the uncached logits, and
all four variants decode the same greedy tokens, past the block size too. No timing asserted."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from benchmarks import generate_compare, lm_compare  # noqa: E402

TINY = {"vocab_size": 11, "block_size": 8, "n_layer": 2, "n_head": 2, "n_embd": 16}


def test_torch_cache_gives_uncached_logits() -> None:
    _, twin = lm_compare.build_models(TINY, seed=1)
    idx = torch.from_numpy(np.random.default_rng(0).integers(0, 11, (2, 8)))
    with torch.no_grad():
        full = twin(idx)[0]
        cache = twin.new_cache()
        parts = [twin(idx[:, :3], cache=cache)[0]]  # a prompt, then one token at a time
        parts += [twin(idx[:, t : t + 1], cache=cache)[0] for t in range(3, 8)]
    torch.testing.assert_close(torch.cat(parts, dim=1), full, rtol=1e-5, atol=1e-6)
    assert cache[0].k.shape == (2, 2, 8, 8)


def test_greedy_tokens_agree_past_the_block() -> None:
    net, twin = lm_compare.build_models(TINY, seed=2)
    net.eval()
    assert generate_compare.greedy_agree(net, twin, tokens=20)
    seq = generate_compare._generate("torch", net, twin, 20, "cache", 1, 0)
    assert seq.shape == (1, 21) and seq[0, 0] == 0


def test_sampling_follows_the_generator() -> None:
    _, twin = lm_compare.build_models(TINY, seed=2)
    prompt = torch.zeros(1, 1, dtype=torch.int64)

    def run(seed: int) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed)
        return twin.generate(prompt, 12, top_k=3, generator=gen)

    assert torch.equal(run(0), run(0)) and not torch.equal(run(0), run(1))


def test_cli_reports_five_variants(tmp_path) -> None:
    out_json, out_md = tmp_path / "g.json", tmp_path / "g.md"
    argv = ["--tokens", "3", "--repeats", "1", "--json", str(out_json), "--markdown", str(out_md)]
    generate_compare.main(argv)
    result = json.loads(out_json.read_text())
    assert result["greedy_sequences_identical"] is True
    assert set(result["ms_per_token"]) == {
        "ember_cache", "ember_nocache", "ember_jit", "torch_cache", "torch_nocache"
    }  # fmt: skip
    assert all(len(v) == 1 and v[0] > 0 for v in result["ms_per_token"].values())
    text = out_md.read_text()
    assert text.count("| ember |") == 3 and text.count("| torch |") == 2
    assert "| ember | jit, static KV cache |" in text
    assert "greedy sequences identical in all: yes" in text
