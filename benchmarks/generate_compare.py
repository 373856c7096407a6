"""Time GPT generation (the ``gpt-generate`` workload): ember and PyTorch, KV cache on and off,
and ember's compiled generation (``jit=True``).

Run: ``python -m benchmarks.generate_compare [--tokens N] [--repeats N] [--threads N]
[--json FILE] [--markdown FILE]``. The model is the ``gpt`` workload's (``GPTConfig()``:
vocab 65, block 64, 4 layers, 4 heads, width 128) with ember's seeded GPT-2 initial weights,
loaded into its PyTorch twin (``lm_compare.build_models``: the same definition built with torch;
speed does not depend on training). Batch 1, a 1-token prompt, ``tokens`` new tokens sampled
with temperature 1.0 and top-k 10, in eval mode without gradients.

Both frameworks run the one ``GPT.generate`` (so one cache policy and one sampler): with the
cache each step feeds only the new token while the sequence fits in ``block_size``; past it, the
positions shift, so each step recomputes the last ``block_size`` tokens (refilling the cache),
as uncached generation does at every step. ember's ``jit`` variant runs the same policy as
compiled graphs: a single-token step over a fixed-size cache, then a full-window step (compiled
by the warm-up round, which is not timed). Before timing, greedy decoding (top-k 1) must give
the same tokens in all variants. Each repeat runs the variants one after another (so a change
in machine load hits all of them); ms/token is the median over repeats of the run's time /
``tokens``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
import torch
from torch import nn as tnn

import ember
from benchmarks.lm_compare import build_models
from benchmarks.train_compare import parse_common, run_meta, write_report
from ember.models.gpt import GPTConfig

__all__ = ["greedy_agree", "compare", "to_markdown", "main"]

VARIANTS = (
    ("ember", "cache"),
    ("ember", "nocache"),
    ("ember", "jit"),
    ("torch", "cache"),
    ("torch", "nocache"),
)
STEPS = {"cache": "KV cache", "nocache": "no cache", "jit": "jit, static KV cache"}


def _generate(
    name: str, net: Any, twin: tnn.Module, tokens: int, mode: str, top_k: int, seed: int
) -> np.ndarray:
    """The sequence (1, 1 + tokens) that one variant (``mode`` a key of STEPS) generates from
    the prompt token 0."""
    lib, model, jit = (ember, net, {"jit": mode == "jit"}) if name == "ember" else (torch, twin, {})
    out = model.generate(
        lib.zeros(1, 1, dtype=lib.int64),
        tokens,
        top_k=top_k,
        use_cache=mode != "nocache",
        generator=lib.Generator().manual_seed(seed),
        **jit,
    )
    return out.numpy()


def greedy_agree(net: Any, twin: tnn.Module, tokens: int) -> bool:
    """Whether greedy decoding gives the same ``tokens`` new tokens in all variants."""
    seqs = [_generate(n, net, twin, tokens, c, 1, 0) for n, c in VARIANTS]
    return all(np.array_equal(seqs[0], s) for s in seqs[1:])


def compare(tokens: int = 200, repeats: int = 5, top_k: int = 10, seed: int = 0) -> dict:
    """Time every variant ``repeats`` times (after one warm-up run each); return the numbers."""
    net, twin = build_models({}, seed)
    net.eval()
    twin.eval()
    config = GPTConfig()
    agree = greedy_agree(net, twin, min(tokens, config.block_size + 16))
    ms: dict[str, list[float]] = {f"{name}_{mode}": [] for name, mode in VARIANTS}
    for rep in range(repeats + 1):
        for (name, mode), key in zip(VARIANTS, ms):
            t0 = time.perf_counter()
            _generate(name, net, twin, tokens, mode, top_k, seed + rep)
            if rep:  # the first round warms caches and allocators up
                ms[key].append(1e3 * (time.perf_counter() - t0) / tokens)
    med = {k: statistics.median(v) for k, v in ms.items()}
    return {
        "layout": "ember-generate-compare/1",
        "meta": run_meta(),
        "config": {
            "tokens": tokens,
            "repeats": repeats,
            "top_k": top_k,
            "temperature": 1.0,
            "seed": seed,
            "model": {
                k: getattr(config, k)
                for k in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd")
            },
            "params": sum(p.numel() for p in net.parameters()),
        },
        "greedy_sequences_identical": agree,
        "ms_per_token": ms,
        "summary": {
            **{f"{k}_ms_per_token": v for k, v in med.items()},
            "ember_cache_speedup": med["ember_nocache"] / med["ember_cache"],
            "ember_jit_speedup": med["ember_cache"] / med["ember_jit"],
            "ember_jit_vs_torch_cache": med["ember_jit"] / med["torch_cache"],
            "torch_cache_speedup": med["torch_nocache"] / med["torch_cache"],
            "ember_vs_torch_cache": med["ember_cache"] / med["torch_cache"],
            "ember_vs_torch_nocache": med["ember_nocache"] / med["torch_nocache"],
        },
    }


def to_markdown(result: dict[str, Any]) -> str:
    """One table: ms/token (median and range over repeats) of each variant."""
    m, c, s = result["meta"], result["config"], result["summary"]
    k = c["model"]
    head = (
        f"{m['date']} · {m['cpu']} · threads torch {m['threads']['torch']}, NumPy BLAS "
        f"{m['threads']['numpy_blas']} · gpt {k['n_layer']} layers, {k['n_head']} heads, width "
        f"{k['n_embd']}, block {k['block_size']}, vocab {k['vocab_size']} ({c['params']:,} "
        f"params) · batch 1, 1-token prompt, {c['tokens']} new tokens, temperature "
        f"{c['temperature']}, top-k {c['top_k']} · median of {c['repeats']} runs · ember "
        f"{m['versions']['ember']}, PyTorch {m['versions']['torch']}\n"
    )
    if "command" in m:
        head += f"\n`{m['command']}`\n"
    lines = ["| framework | step | ms/token (median) | min – max |", "|---|---|---|---|"]
    for key, values in result["ms_per_token"].items():
        name, mode = key.split("_")
        lines.append(
            f"| {name} | {STEPS[mode]} "
            f"| {s[f'{key}_ms_per_token']:.2f} | {min(values):.2f} – {max(values):.2f} |"
        )
    lines += [
        "",
        f"cache speed-up: ember **{s['ember_cache_speedup']:.2f}×**, torch "
        f"{s['torch_cache_speedup']:.2f}× · ember/torch: with cache "
        f"**{s['ember_vs_torch_cache']:.2f}×**, without {s['ember_vs_torch_nocache']:.2f}× · "
        f"ember jit vs its KV cache: **{s['ember_jit_speedup']:.2f}×** faster, jit/torch with "
        f"cache {s['ember_jit_vs_torch_cache']:.2f}× · greedy sequences identical in all: "
        f"{'yes' if result['greedy_sequences_identical'] else '**no**'}",
    ]
    return head + "\n" + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=200, help="new tokens per run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per variant")
    parser.add_argument("--top-k", type=int, default=10)
    args = parse_common(parser, argv)
    result = compare(args.tokens, args.repeats, args.top_k, args.seed)
    return write_report(result, "generate_compare", argv, args, to_markdown)


if __name__ == "__main__":
    main()
