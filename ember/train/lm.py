"""The ``ember train gpt|lstm`` / ``ember sample`` workflows: a language model on a text.

Flow: the text (``--text PATH`` or the standard-library default corpus) → a tokenizer fitted
on it → 90/10 train/val token split → ``iters`` steps on random (B, block_size) blocks with
gradient-norm clipping and (GPT) a linear-warmup + cosine learning-rate schedule → every
``eval_interval`` steps the train and val losses are estimated on ``eval_iters`` fixed
batches, logged and checkpointed.

A run directory holds ``checkpoint.safetensors`` (model, optimizer, RNG states, and in its
metadata the run config and the tokenizer, so ``sample`` needs nothing else),
``metrics.csv`` (iter, train_loss, val_loss, lr) and ``summary.json``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from pathlib import Path
from typing import Any

from ember import models, nn, optim
from ember.autograd import no_grad
from ember.creation import from_host
from ember.data.text import (
    BlockDataset,
    ByteBPETokenizer,
    CharTokenizer,
    default_corpus,
    load_text,
    tokenizer_from_dict,
    train_val_split,
)
from ember.io.safetensors import atomic_write_bytes
from ember.nn.utils import clip_grad_norm_
from ember.random import Generator, manual_seed
from ember.train import checkpoint

__all__ = [
    "LM_RECIPES",
    "train_lm",
    "sample",
    "lr_at",
    "lm_config",
    "fit_tokenizer",
    "model_spec",
    "lm_optimizer",
]

# The reference workloads' sizes (gpt: AdamW wd 0.1, betas (0.9, 0.99); lstm: Adam, clip 1.0).
LM_RECIPES: dict[str, dict[str, Any]] = {
    "gpt": {
        "layers": 4,
        "heads": 4,
        "width": 128,
        "block_size": 64,
        "batch_size": 12,
        "lr": 1e-3,
        "iters": 2000,
        "schedule": "cosine",
    },
    "lstm": {
        "layers": 2,
        "heads": None,
        "width": 256,
        "block_size": 64,
        "batch_size": 32,
        "lr": 2e-3,
        "iters": 2000,
        "schedule": "constant",
    },
}
GRAD_CLIP = 1.0
VAL_FRACTION = 0.1


def lm_config(model: str, text_path: str | Path | None, **given: Any) -> dict[str, Any]:
    """The run's settings: the model's recipe with the options given (None: the default)."""
    if model not in LM_RECIPES:
        raise ValueError(f"train: unknown language model {model!r}: expected gpt or lstm")
    cfg = {k: (given[k] if given.get(k) is not None else v) for k, v in LM_RECIPES[model].items()}
    if model == "lstm" and given.get("heads") is not None:
        raise ValueError("train: --heads applies to gpt only: lstm has no attention heads")
    iters = cfg["iters"]
    cfg.update(
        model=model,
        text=str(Path(text_path).resolve()) if text_path else None,
        tokenizer=given["tokenizer"],
        vocab_size=given.get("vocab_size"),
        eval_interval=given.get("eval_interval") or max(1, min(100, iters // 10)),
        eval_iters=given.get("eval_iters") or 20,
        warmup_iters=max(1, iters // 20),  # nanoGPT's 100 for 2000 iterations
        min_lr=cfg["lr"] / 10,
        grad_clip=GRAD_CLIP,
        seed=given["seed"],
    )
    return cfg


def lr_at(it: int, cfg: dict[str, Any]) -> float:
    """The learning rate of step ``it``: constant, or linear warmup then cosine to ``min_lr``."""
    if cfg["schedule"] == "constant":
        return cfg["lr"]
    warmup, total = cfg["warmup_iters"], cfg["iters"]
    if it < warmup:
        return cfg["lr"] * (it + 1) / warmup
    progress = min(1.0, (it - warmup) / max(1, total - warmup))
    return cfg["min_lr"] + 0.5 * (1.0 + math.cos(math.pi * progress)) * (cfg["lr"] - cfg["min_lr"])


def fit_tokenizer(cfg: dict[str, Any], text: str) -> CharTokenizer | ByteBPETokenizer:
    """The tokenizer the settings name, fitted on ``text``."""
    if cfg["tokenizer"] == "char":
        return CharTokenizer.fit(text)
    if cfg["tokenizer"] == "bpe":
        return ByteBPETokenizer.train(text, cfg["vocab_size"] or 512)
    raise ValueError(f"train: unknown tokenizer {cfg['tokenizer']!r}: expected char or bpe")


def model_spec(cfg: dict[str, Any], vocab_size: int) -> tuple[str, dict[str, Any]]:
    """The registry name and constructor overrides of the run's model."""
    if cfg["model"] == "gpt":
        return "gpt", {
            "vocab_size": vocab_size,
            "block_size": cfg["block_size"],
            "n_layer": cfg["layers"],
            "n_head": cfg["heads"],
            "n_embd": cfg["width"],
        }
    return "char_rnn", {
        "vocab_size": vocab_size,
        "n_embd": max(1, cfg["width"] // 2),  # 128 for the workload's 256 hidden units
        "hidden_size": cfg["width"],
        "num_layers": cfg["layers"],
        "block_size": cfg["block_size"],
    }


def lm_optimizer(cfg: dict[str, Any], net: nn.Module) -> optim.Optimizer:
    """GPT: AdamW decaying only the matrices; LSTM: Adam (both at the run's lr)."""
    if cfg["model"] == "gpt":
        return net.configure_optimizers(weight_decay=0.1, lr=cfg["lr"], betas=(0.9, 0.99))
    return optim.Adam(net.parameters(), lr=cfg["lr"])


@no_grad()
def _estimate_loss(net: nn.Module, data: BlockDataset, cfg: dict[str, Any]) -> float:
    """Mean loss over ``eval_iters`` batches that are the same at every evaluation."""
    net.eval()
    gen = Generator().manual_seed(cfg["seed"] + 1)
    losses = [
        net(*data.random_batch(cfg["batch_size"], gen))[1].item() for _ in range(cfg["eval_iters"])
    ]
    net.train()
    return sum(losses) / len(losses)


def _write_metrics(path: Path, rows: list[dict[str, Any]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["iter", "train_loss", "val_loss", "lr"])
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode())


def train_lm(
    model: str = "gpt",
    text_path: str | Path | None = None,
    *,
    layers: int | None = None,
    heads: int | None = None,
    width: int | None = None,
    block_size: int | None = None,
    batch_size: int | None = None,
    iters: int | None = None,
    lr: float | None = None,
    eval_interval: int | None = None,
    eval_iters: int | None = None,
    tokenizer: str = "char",
    vocab_size: int | None = None,
    out: str | Path | None = None,
    seed: int = 0,
    resume: bool = False,
    quiet: bool = False,
) -> dict[str, Any]:
    """Train a ``gpt`` or ``lstm`` language model, write the run directory, return the summary.

    With ``resume`` the run continues from ``out``'s checkpoint with its own settings; only
    ``iters`` may grow.
    """
    out = Path(out or f"runs/{model}-lm")
    ckpt_path = out / "checkpoint.safetensors"
    saved = checkpoint.read(ckpt_path) if resume and ckpt_path.exists() else None
    if resume and saved is None and not quiet:
        print(f"no checkpoint in {out}; starting a new run")
    if saved is not None:
        cfg = saved["extra"]["config"]
        cfg["iters"] = iters or cfg["iters"]
    else:
        cfg = lm_config(
            model, text_path, layers=layers, heads=heads, width=width, block_size=block_size,
            batch_size=batch_size, iters=iters, lr=lr, eval_interval=eval_interval,
            eval_iters=eval_iters, tokenizer=tokenizer, vocab_size=vocab_size, seed=seed,
        )  # fmt: skip

    manual_seed(cfg["seed"])
    text = load_text(cfg["text"]) if cfg["text"] else default_corpus()
    tok = tokenizer_from_dict(saved["extra"]["tokenizer"]) if saved else fit_tokenizer(cfg, text)
    train_ids, val_ids = train_val_split(tok.encode(text), VAL_FRACTION)
    if len(val_ids) <= cfg["block_size"]:
        raise ValueError(
            f"train: text too short: its last tenth (the validation split) has {len(val_ids)} "
            f"tokens vs at least {cfg['block_size'] + 1} for one block\n"
            "hint: use a longer text or a smaller --block-size"
        )
    train_set = BlockDataset(train_ids, cfg["block_size"])
    val_set = BlockDataset(val_ids, cfg["block_size"])
    registry, model_kwargs = model_spec(cfg, tok.vocab_size)
    cfg.update(registry=registry, model_kwargs=model_kwargs)
    net = models.create(registry, **model_kwargs)
    opt = lm_optimizer(cfg, net)
    batches = Generator().manual_seed(cfg["seed"])

    start, rows = 0, []
    if saved is not None:
        ckpt = checkpoint.load(ckpt_path, net, opt)
        start, rows = ckpt["epoch"], ckpt["extra"]["history"]
        batches.set_state(ckpt["extra"]["batch_rng"])

    def log(it: int) -> None:
        train_loss, val_loss = (
            _estimate_loss(net, train_set, cfg),
            _estimate_loss(net, val_set, cfg),
        )
        rows.append(
            {"iter": it, "train_loss": train_loss, "val_loss": val_loss, "lr": lr_at(it, cfg)}
        )
        _write_metrics(out / "metrics.csv", rows)
        extra = {
            "config": cfg,
            "tokenizer": tok.to_dict(),
            "history": rows,
            "batch_rng": batches.get_state(),
        }
        checkpoint.save(ckpt_path, net, opt, epoch=it, extra=extra)
        if not quiet:
            speed = tokens / train_time if train_time else 0.0
            print(
                f"iter {it}/{cfg['iters']}: train loss {train_loss:.4f}, val loss {val_loss:.4f}, "
                f"lr {lr_at(it, cfg):.2e}, {speed:,.0f} tok/s",
                flush=True,
            )

    out.mkdir(parents=True, exist_ok=True)
    wall_start = time.perf_counter()
    train_time, tokens = 0.0, 0
    if not quiet:
        n_params = sum(p.numel() for p in net.parameters())
        print(
            f"{cfg['model']}: {n_params:,} parameters, {tok.vocab_size} tokens "
            f"({cfg['tokenizer']}), {len(train_ids):,} train / {len(val_ids):,} val tokens",
            flush=True,
        )
    if start == 0:
        log(0)
    net.train()
    for it in range(start, cfg["iters"]):
        for group in opt.param_groups:
            group["lr"] = lr_at(it, cfg)
        x, y = train_set.random_batch(cfg["batch_size"], batches)
        t0 = time.perf_counter()
        _, loss = net(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        clip_grad_norm_(net.parameters(), cfg["grad_clip"])
        opt.step()
        loss.item()  # waits for the device, so the timing is honest
        train_time += time.perf_counter() - t0
        tokens += x.numel()
        if (it + 1) % cfg["eval_interval"] == 0 or it + 1 == cfg["iters"]:
            log(it + 1)
    wall = time.perf_counter() - wall_start

    final = rows[-1]
    summary = {
        "model": cfg["model"],
        "params": sum(p.numel() for p in net.parameters()),
        "iters": final["iter"],
        "final_train_loss": final["train_loss"],
        "final_val_loss": final["val_loss"],
        "best_val_loss": min(r["val_loss"] for r in rows),
        "wall_time_s": wall,
        "tokens_per_s": tokens / train_time if train_time else None,
        "vocab_size": tok.vocab_size,
        "config": cfg,
    }
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=2).encode())
    if not quiet:
        print(f"{cfg['model']}: val loss {final['val_loss']:.4f} in {wall:.1f}s → {out}")
    return summary


def sample(
    path: str | Path,
    prompt: str = "\n",
    tokens: int = 200,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int | None = None,
    jit: bool = False,
) -> str:
    """The prompt followed by ``tokens`` tokens generated by the model in an LM checkpoint
    (``jit``: GPT only, compiled decoding steps, see ``GPT.generate``)."""
    ckpt = checkpoint.read(path)
    extra = ckpt["extra"] or {}
    if "tokenizer" not in extra:
        raise ValueError(
            f"sample: {path} was not written by `ember train gpt|lstm` (no tokenizer inside)"
        )
    cfg = extra["config"]
    if jit and cfg["registry"] != "gpt":
        raise ValueError(f"sample: --jit compiles GPT decoding only: {cfg['registry']} vs gpt")
    net = models.create(cfg["registry"], **cfg["model_kwargs"])
    net.load_state_dict(ckpt["model"])
    net.eval()
    tok = tokenizer_from_dict(extra["tokenizer"])
    ids = tok.encode(prompt)
    if len(ids) == 0:
        raise ValueError("sample: the prompt is empty: the model needs at least one token")
    gen = Generator().manual_seed(seed) if seed is not None else None
    idx = from_host(ids.reshape(1, -1))
    options = {"jit": True} if jit else {}
    out = net.generate(
        idx, tokens, temperature=temperature, top_k=top_k, top_p=top_p, generator=gen, **options
    )
    return tok.decode(out[0])
