"""A decoder-only transformer language model (GPT-2 style, after nanoGPT).

The default config is exactly the ``gpt`` reference workload: vocab 65, block 64, 4 layers,
4 heads, width 128, pre-LayerNorm blocks, GELU MLP 4x, learned position embedding and an
output head tied to the token embedding (no bias). Generation keeps a key/value cache per
block, so each new token costs one position instead of the whole context.

Cache and the context window: the position embedding only covers ``block_size`` positions,
and cached keys/values were computed at their absolute positions. So while the sequence fits
in ``block_size`` each step feeds only the new token; once it is longer, every step recomputes
the last ``block_size`` tokens from scratch (refilling the cache), exactly what uncached
generation does. Cached and uncached generation therefore give the same logits at every step.

The model, its cache and sampling are written once for any framework (``gpt_family(torch)``,
see ``ember.models.neutral``), and so is ``decode_step``, which feeds one token into a
``StaticKVCache`` (fixed-size buffers, the position in a 0-d tensor): every step has the same
shapes, and the bench times this one algorithm on both sides. ember's ``GPT`` adds compiled
generation (``generate(..., jit=True)``): ``ember.jit`` compiles ``decode_step`` once; past
``block_size`` a compiled full-window forward (also one shape) takes over. The graphs live on
the model and are reused by later calls.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

import ember
from ember.autograd import no_grad
from ember.jit import JitFunction
from ember.models.neutral import family, publish
from ember.models.sampling import check_temperature, sampling
from ember.tensor import Tensor

__all__ = [
    "gpt",
    "GPTConfig",
    "GPT",
    "KVCache",
    "StaticKVCache",
    "filter_logits",
    "check_temperature",
    "sample_next",
    "gpt_family",
]


@dataclass
class GPTConfig:
    vocab_size: int = 65
    block_size: int = 64  # longest context (the number of learned positions)
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True  # biases in the Linear and LayerNorm layers
    # GPT-2's own checkpoints (ember.models.gpt2) need "tanh": its GELU is the tanh approximation
    gelu_approximate: str = "none"
    layer_norm_eps: float = 1e-5
    tie_weights: bool = True  # the output head shares the token embedding's matrix


@family
def gpt_family(torch: ModuleType) -> SimpleNamespace:
    """``KVCache``, ``CausalSelfAttention``, ``MLP``, ``Block`` and ``GPT`` for the framework
    ``torch`` (ember or torch)."""
    nn, F = torch.nn, torch.nn.functional
    Generation = sampling(torch).Generation

    class KVCache:
        """The keys and values one attention layer has already seen: (B, n_head, t, head_size)."""

        def __init__(self) -> None:
            self.k: Any = None
            self.v: Any = None

        def __len__(self) -> int:
            return 0 if self.k is None else self.k.shape[2]

        def update(self, k: Any, v: Any) -> tuple[Any, Any, Any]:
            """Add the new positions; all keys and values so far and the new queries' mask:
            query i (absolute position past + i) sees keys 0..past + i; one query sees all."""
            T, past = k.shape[2], len(self)
            mask = None
            if T > 1:
                mask = torch.ones(T, past + T, dtype=torch.bool, device=k.device).tril(past)
            self.k = k if self.k is None else torch.cat([self.k, k], dim=2)
            self.v = v if self.v is None else torch.cat([self.v, v], dim=2)
            return self.k, self.v, mask

        def clear(self) -> None:
            self.k = self.v = None

    class StaticKVCache:
        """Keys and values in fixed-size buffers (B, n_head, block_size, head_size), written at
        the position held in the 0-d int64 tensor ``pos`` (one tensor shared by all layers).

        Each step has the same shapes whatever the position, so ``ember.jit`` compiles decoding
        once; attention masks out the slots after ``pos``.
        """

        def __init__(self, k: Any, v: Any, pos: Any) -> None:
            self.k, self.v, self.pos = k, v, pos

        def update(self, k: Any, v: Any) -> tuple[Any, Any, Any]:
            """Write one position's key and value (B, n_head, 1, head_size) at ``pos``; all
            buffers and the (1, block_size) mask of the slots written so far."""
            if k.shape[2] != 1:
                raise ValueError(
                    f"GPT: a StaticKVCache takes one token per step: {k.shape[2]} vs 1\n"
                    "hint: feed the prompt one token at a time (generate(..., jit=True) does)"
                )
            slots = torch.arange(self.k.shape[2], device=k.device)
            here = (slots == self.pos).view(-1, 1)  # (block_size, 1): the slot to write
            self.k.copy_(torch.where(here, k, self.k))
            self.v.copy_(torch.where(here, v, self.v))
            return self.k, self.v, (slots <= self.pos).view(1, -1)

    class CausalSelfAttention(nn.Module):
        """Multi-head self-attention where position t attends to positions ≤ t."""

        def __init__(self, config: GPTConfig) -> None:
            super().__init__()
            if config.n_embd % config.n_head:
                raise ValueError(
                    f"GPT: n_embd must be a multiple of n_head: {config.n_embd} vs {config.n_head}"
                )
            self.n_head, self.n_embd, self.dropout = config.n_head, config.n_embd, config.dropout
            self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q,k,v
            self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
            self.resid_dropout = nn.Dropout(config.dropout)

        def forward(self, x: Any, cache: Any = None) -> Any:
            """``cache``: this layer's KVCache or StaticKVCache, extended here."""
            B, T, C = x.shape
            q, k, v = self.c_attn(x).split(C, dim=2)
            q, k, v = (
                t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v)
            )
            p = self.dropout if self.training else 0.0
            if cache is None:
                y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=T > 1)
            else:
                k, v, mask = cache.update(k, v)  # keys and values (B, nh, S, hs) seen so far
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
            y = y.transpose(1, 2).reshape(B, T, C)  # (B, nh, T, hs) → (B, T, C)
            return self.resid_dropout(self.c_proj(y))

    class MLP(nn.Module):
        """Position-wise feed-forward: C → 4C → GELU → C."""

        def __init__(self, config: GPTConfig) -> None:
            super().__init__()
            self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
            self.gelu = nn.GELU(approximate=config.gelu_approximate)
            self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
            self.dropout = nn.Dropout(config.dropout)

        def forward(self, x: Any) -> Any:
            return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))

    class Block(nn.Module):
        """Pre-LayerNorm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

        def __init__(self, config: GPTConfig) -> None:
            super().__init__()
            self.ln_1 = nn.LayerNorm(config.n_embd, config.layer_norm_eps, bias=config.bias)
            self.attn = CausalSelfAttention(config)
            self.ln_2 = nn.LayerNorm(config.n_embd, config.layer_norm_eps, bias=config.bias)
            self.mlp = MLP(config)

        def forward(self, x: Any, cache: Any = None) -> Any:
            x = x + self.attn(self.ln_1(x), cache)
            return x + self.mlp(self.ln_2(x))

    class GPT(Generation, nn.Module):
        """Token + position embedding → n_layer blocks → LayerNorm → tied linear head.

        ``gpt2_init=False`` keeps the framework's default initialisation (the ``gpt``
        workload's) instead of GPT-2's.
        """

        def __init__(self, config: GPTConfig | None = None, gpt2_init: bool = True) -> None:
            super().__init__()
            self.config = c = config or GPTConfig()
            self.transformer = nn.ModuleDict(
                {
                    "wte": nn.Embedding(c.vocab_size, c.n_embd),
                    "wpe": nn.Embedding(c.block_size, c.n_embd),
                    "drop": nn.Dropout(c.dropout),
                    "h": nn.ModuleList([Block(c) for _ in range(c.n_layer)]),
                    "ln_f": nn.LayerNorm(c.n_embd, c.layer_norm_eps, bias=c.bias),
                }
            )
            self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
            if c.tie_weights:  # (Press & Wolf, 2017): one (vocab, C) matrix embeds and un-embeds
                self.lm_head.weight = self.transformer.wte.weight
            if gpt2_init:
                self._init_gpt2()

        def _init_gpt2(self) -> None:
            """GPT-2 init: weights ~ N(0, 0.02), zero biases; the residual projections (two per
            block) scaled by 1/sqrt(2 * n_layer), so the residual stream's variance does not
            grow with depth."""

            def init(module: Any) -> None:
                if isinstance(module, (nn.Linear, nn.Embedding)):
                    nn.init.normal_(module.weight, mean=0.0, std=0.02)
                if isinstance(module, nn.Linear) and module.bias is not None:
                    nn.init.zeros_(module.bias)

            self.apply(init)
            for name, p in self.named_parameters():
                if name.endswith("c_proj.weight"):
                    nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * self.config.n_layer))

        def forward(
            self, idx: Any, targets: Any = None, cache: list[KVCache] | None = None
        ) -> tuple[Any, Any]:
            """Logits (B, T, vocab) and the mean cross-entropy against ``targets`` (B, T) if
            given. With ``cache`` (one KVCache per block, from ``new_cache``) ``idx`` holds only
            the positions after those already cached."""
            B, T = idx.shape
            past = len(cache[0]) if cache else 0
            if past + T > self.config.block_size:
                raise ValueError(
                    f"GPT: sequence longer than the block size: {past + T} vs "
                    f"{self.config.block_size}\n"
                    "hint: crop the context to its last block_size tokens"
                )
            logits = self._logits(idx, torch.arange(past, past + T, device=idx.device), cache)
            if targets is None:
                return logits, None
            loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T))
            return logits, loss

        def _logits(self, idx: Any, pos: Any, cache: list | None) -> Any:
            """Logits (B, T, vocab) of tokens ``idx`` (B, T) at positions ``pos`` (T,)."""
            tok_emb = self.transformer.wte(idx)  # (B, T, C)
            x = self.transformer.drop(tok_emb + self.transformer.wpe(pos))  # + (T, C)
            for i, block in enumerate(self.transformer.h):
                x = block(x, cache[i] if cache else None)
            return self.lm_head(self.transformer.ln_f(x))

        def new_cache(self) -> list[KVCache]:
            """An empty key/value cache, one per block."""
            return [KVCache() for _ in range(self.config.n_layer)]

        def next_token_logits(self, idx: Any, cache: list[KVCache] | None = None) -> Any:
            """Logits (B, vocab) of the token after ``idx`` (B, T), updating ``cache`` if given.

            With a cache only the tokens it has not seen are fed; past ``block_size`` the cache
            is rebuilt from the last ``block_size`` tokens (see the module docstring).
            """
            block = self.config.block_size
            if cache is None:
                return self(idx[:, -block:])[0][:, -1, :]
            seen = len(cache[0])
            if idx.shape[1] > block:
                for c in cache:
                    c.clear()
                new = idx[:, -block:]
            elif seen < idx.shape[1]:
                new = idx[:, seen:]
            else:
                raise RuntimeError(
                    f"GPT: the cache has seen as many tokens as idx holds: {seen} vs "
                    f"{idx.shape[1]}\nhint: pass the whole sequence so far, or a fresh cache "
                    "from new_cache()"
                )
            return self(new, cache=cache)[0][:, -1, :]

        def next_logits_fn(self, batch: int, use_cache: bool = True) -> Callable[[Any], Any]:
            """What ``generate`` calls with the sequence so far for the next token's logits:
            ``next_token_logits`` with a fresh cache (or, ``use_cache=False``, none)."""
            cache = self.new_cache() if use_cache else None
            return functools.partial(self.next_token_logits, cache=cache)

        def new_static_cache(self, batch: int) -> list[StaticKVCache]:
            """Zeroed fixed-size caches for ``decode_step``, one per block, at position 0."""
            c, weight = self.config, self.lm_head.weight
            shape = (batch, c.n_head, c.block_size, c.n_embd // c.n_head)
            pos = torch.zeros((), dtype=torch.int64, device=weight.device)

            def buffer() -> Any:
                return torch.zeros(shape, dtype=weight.dtype, device=weight.device)

            return [StaticKVCache(buffer(), buffer(), pos) for _ in range(c.n_layer)]

        def decode_step(self, token: Any, cache: list[StaticKVCache]) -> Any:
            """Logits (B, vocab) of the token after ``token`` (B, 1) at position
            ``cache[0].pos``, which it advances by one. The caller keeps the position below
            ``block_size``."""
            pos = cache[0].pos
            logits = self._logits(token, pos.view(1), cache)[:, -1, :]
            pos.add_(1)
            return logits

        def configure_optimizers(
            self, weight_decay: float, lr: float, betas: tuple[float, float]
        ) -> Any:
            """AdamW that decays the matrices (matmul and embedding weights), not biases/norms."""
            params = [p for p in self.parameters() if p.requires_grad]  # the tied weight once
            groups = [
                {"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
                {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
            ]
            return torch.optim.AdamW(groups, lr=lr, betas=betas)

    return SimpleNamespace(
        KVCache=KVCache,
        StaticKVCache=StaticKVCache,
        CausalSelfAttention=CausalSelfAttention,
        MLP=MLP,
        Block=Block,
        GPT=GPT,
    )


_gpt = gpt_family(ember)
KVCache, StaticKVCache, CausalSelfAttention, MLP, Block = publish(
    __name__, _gpt.KVCache, _gpt.StaticKVCache, _gpt.CausalSelfAttention, _gpt.MLP, _gpt.Block
)
filter_logits, sample_next = sampling(ember).filter_logits, sampling(ember).sample_next


class GPT(_gpt.GPT):
    """ember's GPT: the neutral model plus compiled generation (``generate(..., jit=True)``)."""

    def __init__(self, config: GPTConfig | None = None, gpt2_init: bool = True) -> None:
        super().__init__(config, gpt2_init)
        self._decoding: CompiledDecoding | None = None  # generate(jit=True)'s compiled steps

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, device: Any = None) -> GPT:
        """A GPT-2 checkpoint directory in Hugging Face's layout (``config.json`` and
        ``model.safetensors``): see ``ember.models.gpt2.from_pretrained``."""
        from ember.models.gpt2 import from_pretrained

        return from_pretrained(path, device)

    def __getstate__(self) -> dict[str, Any]:
        """Copies and pickles leave the compiled decoding behind: it holds loaded kernels and
        this model's caches, and a copy compiles its own on first use."""
        return {**self.__dict__, "_decoding": None}

    def next_logits_fn(
        self, batch: int, use_cache: bool = True, jit: bool = False
    ) -> Callable[[Tensor], Tensor]:
        """``jit=True``: ``generate`` runs each step as a compiled graph (see the module
        docstring; ``use_cache`` does not apply)."""
        if not jit:
            return super().next_logits_fn(batch, use_cache)
        if self._decoding is None:
            self._decoding = CompiledDecoding(self)
        return self._decoding.start(batch)


class CompiledDecoding:
    """The compiled steps of ``GPT.generate(..., jit=True)``: ``decode_step`` over a static
    cache while the sequence fits in ``block_size``, then the full-window forward. Kept on the
    model, so later calls reuse the graphs and the caches (one per batch size)."""

    def __init__(self, model: GPT) -> None:
        self.model = model
        self.step = JitFunction(model.decode_step)
        self.window = JitFunction(model.next_token_logits)
        self.caches: dict[tuple, list[StaticKVCache]] = {}
        self.cache: list[StaticKVCache] = []
        self.seen = 0  # tokens fed to the static cache

    def start(self, batch: int) -> Callable[[Tensor], Tensor]:
        """Reset for a new sequence of ``batch`` rows; returns ``next_token_logits``."""
        weight = self.model.lm_head.weight
        key = (batch, weight.dtype, weight.device)
        if key not in self.caches:
            self.caches[key] = self.model.new_static_cache(batch)
        self.cache = self.caches[key]
        for c in self.cache:
            c.k.zero_()
            c.v.zero_()
        self.cache[0].pos.zero_()
        self.seen = 0
        return self.next_token_logits

    @no_grad()
    def next_token_logits(self, idx: Tensor) -> Tensor:
        """Logits (B, vocab) of the token after ``idx`` (B, T), the sequence so far."""
        block = self.model.config.block_size
        T = idx.shape[1]
        if T > block:
            return self.window(idx[:, -block:])
        if T <= self.seen:
            raise RuntimeError(
                f"GPT: the compiled decoder has seen as many tokens as idx holds: {self.seen} "
                f"vs {T}\nhint: pass the whole sequence so far, after start()"
            )
        for t in range(self.seen, T):
            logits = self.step(idx[:, t : t + 1], self.cache)
        self.seen = T
        return logits


def gpt(**overrides: Any) -> GPT:
    """A GPT with the default config changed by ``overrides``."""
    return GPT(GPTConfig(**overrides))
