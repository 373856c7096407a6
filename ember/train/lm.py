"""The ``ember train gpt|lstm`` / ``ember sample`` workflows: a language model on a text.

Flow: the text (``--text PATH`` or the standard-library default corpus) → a tokenizer fitted
on it → 90/10 train/val token split → ``iters`` steps on random (B, block_size) blocks with
gradient-norm clipping and (GPT) a linear-warmup + cosine learning-rate schedule → every
``eval_interval`` steps the train and val losses are estimated on ``eval_iters`` fixed
batches, logged and checkpointed.

A run directory holds ``checkpoint.safetensors`` (model, optimizer, RNG states, and in its
metadata the run config with the tokenizer, so ``sample`` needs nothing else),
``metrics.csv`` (iter, loss, train_loss, val_loss, lr, time) and ``summary.json``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ember import models, nn, optim
from ember.autograd import no_grad
from ember.creation import from_host
from ember.data.gpt2_bpe import GPT2Tokenizer
from ember.data.text import (
    BlockDataset,
    ByteBPETokenizer,
    CharTokenizer,
    default_corpus,
    load_text,
    tokenizer_from_dict,
    train_val_split,
)
from ember.models import gpt2
from ember.nn.utils import clip_grad_norm_
from ember.random import Generator
from ember.train import checkpoint
from ember.train.batches import RandomBatches
from ember.train.callbacks import FitState, History
from ember.train.family import (
    Family,
    Job,
    Option,
    apply_schedule,
    positive_float,
    positive_int,
)
from ember.train.parallel import data_parallel

__all__ = [
    "LM_RECIPES",
    "LANGUAGE_MODELS",
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


def lm_config(model: str, given: dict[str, Any]) -> dict[str, Any]:
    """The run's settings: ``model``'s recipe with the options ``given`` (by dest; None or
    absent: the recipe's)."""
    given = {k: v for k, v in given.items() if v is not None}
    if model == "lstm" and "heads" in given:
        raise ValueError("train: --heads applies to gpt only: lstm has no attention heads")
    cfg = {k: given.get(k, v) for k, v in LM_RECIPES[model].items()}
    iters = cfg["iters"]
    text = given.get("text")
    cfg.update(
        model=model,
        text=str(Path(text).resolve()) if text else None,
        tokenizer=given.get("tokenizer", "char"),
        vocab_size=given.get("vocab_size", 512),
        eval_interval=given.get("eval_interval", max(1, min(100, iters // 10))),
        eval_iters=given.get("eval_iters", 20),
        warmup_iters=max(1, iters // 20),  # nanoGPT's 100 for 2000 iterations
        min_lr=cfg["lr"] / 10,
        grad_clip=GRAD_CLIP,
        seed=given.get("seed", 0),
    )
    if cfg["tokenizer"] == "char" and "vocab_size" in given:
        raise ValueError("train: --vocab-size applies to --tokenizer bpe only")
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
        return ByteBPETokenizer.train(text, cfg["vocab_size"])
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


def _build(cfg: dict[str, Any], out: Path, quiet: bool) -> Job:
    """The language model's Job: ``eval_interval`` steps per epoch on random blocks, the
    learning rate set per step, train/val loss estimates after each epoch (and before the
    first), gradient-norm clipping."""
    text = load_text(cfg["text"]) if cfg["text"] else default_corpus()
    tok = tokenizer_from_dict(cfg["tokenizer_state"]) if "tokenizer_state" in cfg else None
    if tok is None:
        tok = fit_tokenizer(cfg, text)
        cfg["tokenizer_state"] = tok.to_dict()
    train_ids, val_ids = train_val_split(tok.encode(text), VAL_FRACTION)
    if len(val_ids) <= cfg["block_size"]:
        raise ValueError(
            f"train: text too short: its last tenth (the validation split) has {len(val_ids)} "
            f"tokens vs at least {cfg['block_size'] + 1} for one block; "
            "hint: use a longer text or a smaller --block-size"
        )
    train_set = BlockDataset(train_ids, cfg["block_size"])
    val_set = BlockDataset(val_ids, cfg["block_size"])
    registry, model_kwargs = model_spec(cfg, tok.vocab_size)
    cfg.update(registry=registry, model_kwargs=model_kwargs)
    net = models.create(registry, **model_kwargs)
    replica = data_parallel(net)  # what the step calls: the model itself unless --distributed
    opt = lm_optimizer(cfg, net)
    sched = optim.lr_scheduler.LambdaLR(opt, lambda it: lr_at(it, cfg) / cfg["lr"])
    net.train()
    if not quiet:
        n_params = sum(p.numel() for p in net.parameters())
        print(
            f"{cfg['model']}: {n_params:,} parameters, {tok.vocab_size} tokens "
            f"({cfg['tokenizer']}), {len(train_ids):,} train / {len(val_ids):,} val tokens",
            flush=True,
        )

    def step(batch: Any) -> dict[str, Any]:
        _, loss = replica(*batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        clip_grad_norm_(net.parameters(), cfg["grad_clip"])
        opt.step()
        return {"loss": loss.detach()}

    def estimate() -> dict[str, float]:
        return {
            "train_loss": _estimate_loss(net, train_set, cfg),
            "val_loss": _estimate_loss(net, val_set, cfg),
        }

    state = FitState(net, opt, sched, History())
    state.history.append({"iter": 0, **estimate(), "lr": lr_at(0, cfg)})

    def summarize(history: History) -> dict[str, Any]:
        return {
            "final_train_loss": history.last["train_loss"],
            "final_val_loss": history.last["val_loss"],
            "best_val_loss": min(history["val_loss"]),
            "vocab_size": tok.vocab_size,
        }

    plan = RandomBatches(
        lambda gen: train_set.random_batch(cfg["batch_size"], gen),
        cfg["eval_interval"],
        cfg["iters"],
        Generator().manual_seed(cfg["seed"]),
    )
    return Job(
        step,
        plan,
        state,
        cfg["iters"],  # an upper bound: the plan ends the run after ``iters`` steps
        evaluate=estimate,
        scheduler_interval="step",
        unit="iter",
        after_resume=lambda: apply_schedule(sched),  # a stretched schedule's lr now
        summarize=summarize,
    )


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
    """The prompt followed by ``tokens`` tokens generated by the model in an LM checkpoint, or
    in a GPT-2 directory in Hugging Face's layout (``jit``: GPT only, compiled decoding steps,
    see ``GPT.generate``)."""
    net, tok = _language_model(path, jit)
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


def _language_model(path: str | Path, jit: bool) -> tuple[nn.Module, Any]:
    """The model in eval mode and the tokenizer of an ``ember train`` LM checkpoint or of a
    GPT-2 checkpoint directory (``config.json``, weights, ``vocab.json``, ``merges.txt``)."""
    if gpt2.is_hf_checkpoint(path):
        return gpt2.from_pretrained(path), GPT2Tokenizer.from_pretrained(path)
    ckpt = checkpoint.read(path)
    cfg = (ckpt["extra"] or {}).get("config") or {}
    if "tokenizer_state" not in cfg:
        raise ValueError(
            f"sample: {path} was not written by `ember train` for a language model (no "
            "tokenizer inside) or a generative model; `ember sample` draws from those"
        )
    if jit and cfg["registry"] != "gpt":
        raise ValueError(f"sample: --jit compiles GPT decoding only: {cfg['registry']} vs gpt")
    net = models.create(cfg["registry"], **cfg["model_kwargs"])
    net.load_state_dict(ckpt["model"])
    return net.eval(), tokenizer_from_dict(cfg["tokenizer_state"])


LANGUAGE_MODELS = Family(
    name="language models",
    models=tuple(LM_RECIPES),
    options=(
        Option("--text", "UTF-8 training text (default: Python standard-library sources)"),
        Option("--iters", "training steps (default 2000)", positive_int),
        Option("--batch-size", "default: the model's recipe", positive_int),
        Option("--lr", "peak learning rate (default: the model's recipe)", positive_float),
        Option("--seed", "random seed (default 0)", int),
        Option("--layers", "default: gpt 4, lstm 2", positive_int),
        Option("--heads", "attention heads (default 4)", positive_int, models=("gpt",)),
        Option("--width", "gpt: embedding width (128); lstm: hidden units (256)", positive_int),
        Option("--block-size", "context length in tokens (default 64)", positive_int),
        Option("--eval-interval", "steps between loss estimates (default iters/10)", positive_int),
        Option("--eval-iters", "batches per loss estimate (default 20)", positive_int),
        Option("--tokenizer", "default: char", choices=("char", "bpe")),
        Option("--vocab-size", "BPE vocabulary size (default 512)", positive_int),
    ),
    length="iters",
    config=lm_config,
    build=_build,
    description="a character/BPE language model; reports validation loss",
    default_out=lambda cfg: f"runs/{cfg['model']}-lm",
)
