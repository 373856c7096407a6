"""The GPT model: the workload's parameter count, forward/loss/gradients vs the PyTorch peer
model, GPT-2 init, weight tying, training, and KV-cached generation vs uncached."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from torch import nn as tnn

import ember
from ember.models.gpt import GPT, GPTConfig, filter_logits, gpt, gpt_family

TINY = {"vocab_size": 11, "block_size": 8, "n_layer": 2, "n_head": 2, "n_embd": 16}


# The PyTorch peer model of the benchmarks (bench/peers/torch_bench.py), sizes as arguments.
class PeerBlock(tnn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.H = H
        self.ln1, self.ln2 = tnn.LayerNorm(C), tnn.LayerNorm(C)
        self.attn, self.proj = tnn.Linear(C, 3 * C), tnn.Linear(C, C)
        self.fc, self.fc2 = tnn.Linear(C, 4 * C), tnn.Linear(4 * C, C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.attn(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.H, C // self.H).transpose(1, 2) for t in (q, k, v))
        y = TF.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.fc2(TF.gelu(self.fc(self.ln2(x))))


class PeerGPT(tnn.Module):
    def __init__(self, V=65, T=64, C=128, L=4, H=4):
        super().__init__()
        self.wte, self.wpe = tnn.Embedding(V, C), tnn.Embedding(T, C)
        self.blocks = tnn.ModuleList([PeerBlock(C, H) for _ in range(L)])
        self.lnf = tnn.LayerNorm(C)

    def forward(self, tok):
        x = self.wte(tok) + self.wpe(torch.arange(tok.shape[1]))
        for b in self.blocks:
            x = b(x)
        return self.lnf(x) @ self.wte.weight.t()


PEER_NAMES = [
    ("transformer.h.", "blocks."),
    ("transformer.", ""),
    ("ln_1", "ln1"),
    ("ln_2", "ln2"),
    ("ln_f", "lnf"),
    ("attn.c_attn", "attn"),
    ("attn.c_proj", "proj"),
    ("mlp.c_fc", "fc"),
    ("mlp.c_proj", "fc2"),
]


def peer_name(name: str) -> str:
    for ours, theirs in PEER_NAMES:
        name = name.replace(ours, theirs)
    return name


def tiny_pair(dtype: str = "float64") -> tuple[GPT, PeerGPT]:
    """A tiny ember GPT and the peer model holding the same weights."""
    ember.manual_seed(0)
    model = gpt(**TINY).to(getattr(ember, dtype))
    c = model.config
    peer = PeerGPT(c.vocab_size, c.block_size, c.n_embd, c.n_layer, c.n_head)
    peer = peer.to(getattr(torch, dtype))
    ours = dict(model.named_parameters())
    assert sorted(peer_name(n) for n in ours) == sorted(n for n, _ in peer.named_parameters())
    with torch.no_grad():
        for name, p in ours.items():
            peer.get_parameter(peer_name(name)).copy_(torch.from_numpy(p.detach().numpy()))
    return model, peer


def tokens(*shape: int, vocab: int = TINY["vocab_size"], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, vocab, size=shape)


def test_parameter_count_matches_the_torch_peer():
    ours = sum(p.numel() for p in gpt().parameters())
    assert ours == sum(p.numel() for p in PeerGPT().parameters()) == 809_856


def test_forward_loss_and_gradients_match_the_peer():
    model, peer = tiny_pair()
    idx, tgt = tokens(3, 8), tokens(3, 8, seed=1)
    logits, loss = model(ember.tensor(idx), ember.tensor(tgt))
    t_logits = peer(torch.tensor(idx))
    t_loss = TF.cross_entropy(t_logits.reshape(-1, t_logits.shape[-1]), torch.tensor(tgt).view(-1))
    np.testing.assert_allclose(logits.detach().numpy(), t_logits.detach().numpy(), rtol=1e-9)
    np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=1e-12)
    loss.backward()
    t_loss.backward()
    for name, p in model.named_parameters():
        np.testing.assert_allclose(
            p.grad.numpy(),
            peer.get_parameter(peer_name(name)).grad.numpy(),
            rtol=1e-8,
            atol=1e-12,
            err_msg=name,
        )
    assert model(ember.tensor(idx))[1] is None


def test_gpt2_init_and_weight_tying():
    ember.manual_seed(0)
    model = gpt()
    assert model.lm_head.weight is model.transformer.wte.weight
    params = dict(model.named_parameters())
    assert "lm_head.weight" not in params  # listed once, under the embedding
    assert "lm_head.weight" in model.state_dict()
    for name, p in params.items():
        a = p.detach().numpy()
        if name.endswith("c_proj.weight"):
            assert a.std() == pytest.approx(0.02 / np.sqrt(2 * 4), rel=0.05), name
        elif name.endswith(".weight") and "ln" not in name:
            assert a.std() == pytest.approx(0.02, rel=0.05), name
        elif "ln" in name and name.endswith(".weight"):
            np.testing.assert_array_equal(a, 1.0)
        else:
            np.testing.assert_array_equal(a, 0.0)  # biases


def test_training_reduces_the_loss_and_keeps_the_tie():
    ember.manual_seed(0)
    model = gpt(**TINY)
    opt = model.configure_optimizers(weight_decay=0.1, lr=1e-2, betas=(0.9, 0.99))
    assert isinstance(opt, ember.optim.AdamW)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"]) and all(
        p.dim() == 1 for p in no_decay["params"]
    )
    n_params = len(list(model.parameters()))
    assert len(decay["params"]) + len(no_decay["params"]) == n_params
    assert len(decay["params"]) == 2 + 4 * TINY["n_layer"]  # wte (tied), wpe, 4 per block
    idx, tgt = ember.tensor(tokens(4, 8)), ember.tensor(tokens(4, 8, seed=1))
    losses = []
    for _ in range(8):
        _, loss = model(idx, tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.5
    assert model.lm_head.weight is model.transformer.wte.weight


def feed_lengths(model: GPT) -> list[int]:
    """Records how many positions each forward pass embeds."""
    seen: list[int] = []
    model.transformer.wte.register_forward_hook(lambda m, args, out: seen.append(out.shape[1]))
    return seen


def test_cached_and_uncached_logits_agree_at_every_step_and_past_the_block():
    model, _ = tiny_pair("float32")
    fed = feed_lengths(model)
    block = model.config.block_size
    idx = ember.tensor(tokens(2, 3))
    cache = model.new_cache()
    with ember.no_grad():
        for step in range(2 * block):
            cached = model.next_token_logits(idx, cache)
            full = model.next_token_logits(idx)
            np.testing.assert_allclose(
                cached.numpy(), full.numpy(), rtol=1e-5, atol=1e-5, err_msg=f"step {step}"
            )
            assert len(cache[0]) == min(idx.shape[1], block)
            idx = ember.cat([idx, cached.argmax(dim=-1, keepdim=True)], dim=1)
    # Cached: the prompt, then one position per token until the window is full, then the
    # whole window again; uncached: the whole (cropped) context every step.
    steps = range(3, 3 + 2 * block)
    assert fed[0::2] == [3] + [1] * (block - 3) + [block] * (block + 2)
    assert fed[1::2] == [min(t, block) for t in steps]


def test_generate_cached_equals_uncached_greedy_and_sampled():
    model, _ = tiny_pair("float32")
    prompt = ember.tensor(tokens(2, 2))
    n = 3 * model.config.block_size  # well past the context window
    greedy = model.generate(prompt, n, top_k=1)
    assert tuple(greedy.shape) == (2, 2 + n)
    np.testing.assert_array_equal(
        greedy.numpy(), model.generate(prompt, n, top_k=1, use_cache=False).numpy()
    )
    # Greedy is the argmax of the (uncached) next-token logits at every step.
    with ember.no_grad():
        for t in range(2, 2 + n):
            expect = model.next_token_logits(greedy[:, :t]).argmax(dim=-1)
            np.testing.assert_array_equal(greedy[:, t].numpy(), expect.numpy())

    def sample(use_cache: bool) -> np.ndarray:
        g = ember.Generator()
        g.manual_seed(123)
        out = model.generate(
            prompt, n, temperature=1.5, top_k=6, top_p=0.9, use_cache=use_cache, generator=g
        )
        return out.numpy()

    first = sample(True)
    np.testing.assert_array_equal(first, sample(False))
    assert len(np.unique(first[:, 2:])) > 1  # really sampled
    grad_modes: list[bool] = []
    model.lm_head.register_forward_hook(lambda m, a, o: grad_modes.append(o.requires_grad))
    model.generate(prompt, 2)
    assert grad_modes == [False, False]  # generation records no graph


def test_temperature_scales_the_logits():
    model, _ = tiny_pair("float32")
    prompt = ember.tensor(tokens(1, 4))
    g1, g2 = ember.Generator(), ember.Generator()
    g1.manual_seed(5)
    g2.manual_seed(5)
    # A tiny temperature makes sampling greedy.
    cold = model.generate(prompt, 10, temperature=1e-4, generator=g1)
    np.testing.assert_array_equal(
        cold.numpy(), model.generate(prompt, 10, top_k=1, generator=g2).numpy()
    )


def _reference_filter(logits: np.ndarray, top_k: int | None, top_p: float | None) -> np.ndarray:
    """Per row: the kept token set, by sorting in plain Python."""
    keep = np.ones_like(logits, dtype=bool)
    for r, row in enumerate(logits):
        order = sorted(range(len(row)), key=lambda i: -row[i])
        if top_k is not None:
            keep[r, order[top_k:]] = False
        if top_p is not None:
            kept = [i for i in order if keep[r, i]]
            z = np.exp(row[kept] - row[kept].max())
            p = z / z.sum()
            total = 0.0
            for i, pi in zip(kept, p):
                if total >= top_p:
                    keep[r, i] = False
                total += pi
    return keep


@pytest.mark.parametrize(
    "top_k, top_p",
    [(1, None), (3, None), (50, None), (None, 0.5), (None, 1e-6), (None, 1.0), (4, 0.7)],
)
def test_filter_logits_matches_a_reference(top_k, top_p):
    logits = np.random.default_rng(3).standard_normal((5, 9)) * 2
    out = filter_logits(ember.tensor(logits), top_k, top_p).numpy()
    keep = _reference_filter(logits, top_k, top_p)
    np.testing.assert_array_equal(np.isfinite(out), keep)
    np.testing.assert_array_equal(out[keep], logits[keep])
    assert keep.any(axis=1).all()


def test_top_p_keeps_the_smallest_nucleus():
    logits = ember.tensor(np.log([[0.05, 0.5, 0.15, 0.3]]))
    for top_p, kept in [(0.49, [1]), (0.51, [1, 3]), (0.79, [1, 3]), (0.81, [1, 2, 3])]:
        out = filter_logits(logits, top_p=top_p).numpy()
        np.testing.assert_array_equal(np.flatnonzero(np.isfinite(out)), kept, err_msg=str(top_p))


def test_errors():
    model = gpt(**TINY)
    with pytest.raises(ValueError, match="GPT: sequence longer than the block size: 9 vs 8"):
        model(ember.tensor(tokens(1, 9)))
    with pytest.raises(ValueError, match="temperature must be positive: 0"):
        model.generate(ember.tensor(tokens(1, 2)), 1, temperature=0)
    with pytest.raises(ValueError, match="top_k must be at least 1: 0"):
        model.generate(ember.tensor(tokens(1, 2)), 1, top_k=0)
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\]: 1.5"):
        model.generate(ember.tensor(tokens(1, 2)), 1, top_p=1.5)
    with pytest.raises(ValueError, match="n_embd must be a multiple of n_head: 10 vs 4"):
        GPT(GPTConfig(n_embd=10))
    cache = model.new_cache()
    idx = ember.tensor(tokens(1, 3))
    with ember.no_grad():
        model.next_token_logits(idx, cache)
        with pytest.raises(RuntimeError, match="the cache has seen as many tokens as idx holds: 3"):
            model.next_token_logits(idx, cache)


def test_dropout_is_active_only_in_training():
    ember.manual_seed(0)
    model = gpt(**TINY, dropout=0.5)
    idx = ember.tensor(tokens(2, 8))
    with ember.no_grad():
        a, b = model(idx)[0].numpy(), model(idx)[0].numpy()
        assert not np.allclose(a, b)
        model.eval()
        np.testing.assert_array_equal(model(idx)[0].numpy(), model(idx)[0].numpy())
    greedy = model.generate(ember.tensor(tokens(1, 2)), 4, top_k=1)
    np.testing.assert_array_equal(
        greedy.numpy(), model.generate(ember.tensor(tokens(1, 2)), 4, top_k=1).numpy()
    )


def test_decode_step_over_a_static_cache_gives_the_full_forward_logits():
    model, _ = tiny_pair("float64")
    block = model.config.block_size
    idx = ember.tensor(tokens(2, block))
    cache = model.new_static_cache(2)
    with ember.no_grad():
        full = model(idx)[0]  # (2, block, vocab)
        for t in range(block):
            step = model.decode_step(idx[:, t : t + 1], cache)
            np.testing.assert_allclose(step.numpy(), full[:, t].numpy(), rtol=1e-10, atol=1e-12)
    assert cache[0].pos.item() == block and all(c.pos is cache[0].pos for c in cache)
    assert tuple(cache[0].k.shape) == (2, 2, block, 8)
    with pytest.raises(ValueError, match="a StaticKVCache takes one token per step: 2 vs 1"):
        model.decode_step(idx[:, :2], model.new_static_cache(2))


def test_compiled_generation_equals_eager_and_compiles_once():
    model, _ = tiny_pair("float32")
    model.eval()
    prompt = ember.tensor(tokens(2, 3))
    n = 3 * model.config.block_size  # the static cache fills, then the full-window step runs
    eager = model.generate(prompt, n, top_k=1)
    np.testing.assert_array_equal(model.generate(prompt, n, top_k=1, jit=True).numpy(), eager)

    def sample(jit: bool) -> np.ndarray:
        g = ember.Generator()
        g.manual_seed(7)
        return model.generate(prompt, n, temperature=1.5, top_k=6, generator=g, jit=jit).numpy()

    np.testing.assert_array_equal(sample(True), sample(False))
    decoding = model._decoding
    assert (decoding.step.traces, decoding.window.traces) == (1, 1)  # reused across calls
    one = model.generate(prompt[:1], 4, top_k=1, jit=True)  # another batch size: its own graph
    np.testing.assert_array_equal(one.numpy(), eager[:1, :7])
    assert decoding.step.traces == 2 and len(decoding.caches) == 2
    with pytest.raises(RuntimeError, match="compiled decoder has seen as many tokens as idx"):
        step = decoding.start(1)
        step(one[:, :2])
        step(one[:, :2])


def test_copies_of_a_model_drop_its_compiled_decoding():
    model, _ = tiny_pair("float32")
    model.eval()
    prompt = ember.tensor(tokens(1, 2))
    first = model.generate(prompt, 5, top_k=1, jit=True).numpy()
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert clone._decoding is None and model._decoding is not None
        np.testing.assert_array_equal(clone.generate(prompt, 5, top_k=1, jit=True).numpy(), first)
        assert clone._decoding.model is clone


def twin_pair() -> tuple[GPT, tnn.Module]:
    """A tiny float32 ember GPT and its PyTorch twin (``gpt_family(torch)``), same weights."""
    model, _ = tiny_pair("float32")
    model.eval()
    twin = gpt_family(torch).GPT(model.config)
    twin.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in model.state_dict().items()})
    return model, twin.eval()


def test_cached_decoding_equals_the_torch_twin():
    model, twin = twin_pair()
    block = model.config.block_size
    idx = tokens(2, block)
    ours, theirs = model.new_static_cache(2), twin.new_static_cache(2)
    with ember.no_grad(), torch.no_grad():
        full = twin(torch.from_numpy(idx))[0]
        for t in range(block):
            step = model.decode_step(ember.tensor(idx[:, t : t + 1]), ours)
            twin_step = twin.decode_step(torch.from_numpy(idx[:, t : t + 1]), theirs)
            np.testing.assert_allclose(step.numpy(), twin_step.numpy(), rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(step.numpy(), full[:, t].numpy(), rtol=1e-5, atol=1e-5)
    assert theirs[0].pos.item() == block
    prompt = tokens(2, 2)
    n = 2 * block  # past the context window
    greedy = model.generate(ember.tensor(prompt), n, top_k=1).numpy()
    for use_cache in (True, False):
        out = twin.generate(torch.from_numpy(prompt), n, top_k=1, use_cache=use_cache)
        np.testing.assert_array_equal(out.numpy(), greedy, err_msg=f"use_cache={use_cache}")
