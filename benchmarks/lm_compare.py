"""Train an ``ember train gpt|lstm`` language model with ember and with PyTorch and compare.

Run: ``python -m benchmarks.lm_compare [gpt|lstm] [--iters N] [--eval-interval N]
[--threads N] [--json FILE] [--markdown FILE]`` (plus
``--layers/--heads/--width/--block-size/--batch-size`` to shrink the model). Both frameworks
get the recipe of ``ember/train/lm.py``: the char tokenizer fitted on the text (default:
``ember.data.text.default_corpus()``), the 90/10 split, gradient-norm clipping at 1.0 and the
model's optimizer and schedule (``ember.train.lm.lr_at``): gpt: AdamW (wd 0.1 on matrices
only, betas (0.9, 0.99)), linear warmup then cosine to lr/10; lstm: Adam at a constant lr.
The PyTorch twins are ``ember.models.gpt``'s and ``ember.models.char_rnn``'s definitions built
with torch (equal parameter names and shapes, GPT's tied embedding) and start from ember's
seeded initial weights. The
batch offsets of every iteration come from one seeded generator (ember's NumPy-backed
``Generator``, the stream ``train_lm`` draws), and the train and val losses are estimated on
the same fixed batches as ``train_lm`` (``eval_iters`` of each, from seed + 1). Training
alternates between the frameworks, ``eval_interval`` iterations at a time, so that a change
in machine load hits both; only the training step is timed (forward, loss, backward,
clipping, optimizer step, ``loss.item()``).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn as tnn

import ember
from benchmarks.train_compare import load_twin, parse_common, run_meta, write_report
from ember import models
from ember.data.text import BlockDataset, default_corpus, train_val_split
from ember.nn.utils import clip_grad_norm_
from ember.random import Generator, randint
from ember.train import checkpoint
from ember.train.lm import (
    VAL_FRACTION,
    fit_tokenizer,
    lm_config,
    lm_optimizer,
    lr_at,
    model_spec,
)

__all__ = ["build_models", "prepare", "compare", "to_markdown", "main"]

TOLERANCE = 0.03  # ember's final val loss must be within 3% of PyTorch's


# ----------------------------------------------------------------------------- models
def build_models(
    model_kwargs: dict[str, Any], seed: int = 0, registry: str = "gpt"
) -> tuple[ember.nn.Module, tnn.Module]:
    """ember's seeded ``registry`` model and its PyTorch twin holding the same initial weights."""
    ember.manual_seed(seed)
    net = models.create(registry, **model_kwargs)
    return net, load_twin(net, registry)


# ----------------------------------------------------------------------------- data
def _offsets(data: BlockDataset, batch_size: int, count: int, seed: int) -> np.ndarray:
    """(count, batch_size) window offsets: ``count`` draws of ``BlockDataset.random_batch``."""
    gen = Generator().manual_seed(seed)
    return np.stack(
        [randint(0, len(data), (batch_size,), generator=gen).numpy() for _ in range(count)]
    )


def prepare(cfg: dict[str, Any]) -> dict[str, Any]:
    """Tokenizer, splits, the training offsets of every iteration and the fixed eval offsets."""
    text = default_corpus()
    tok = fit_tokenizer(cfg, text)
    train_ids, val_ids = train_val_split(tok.encode(text), VAL_FRACTION)
    sets = {
        "train": BlockDataset(train_ids, cfg["block_size"]),
        "val": BlockDataset(val_ids, cfg["block_size"]),
    }
    b, n_eval, seed = cfg["batch_size"], cfg["eval_iters"], cfg["seed"]
    return {
        "tokenizer": tok,
        "sets": sets,
        "train_offsets": _offsets(sets["train"], b, cfg["iters"], seed),
        "eval_offsets": {k: _offsets(d, b, n_eval, seed + 1) for k, d in sets.items()},
        "tokens": {"train": len(train_ids), "val": len(val_ids)},
    }


# ----------------------------------------------------------------------------- training
class _Side:
    """One framework's model and optimizer: timed training steps and the fixed-batch losses."""

    def __init__(self, lib: Any, net: Any, cfg: dict[str, Any]) -> None:
        self.lib, self.net, self.cfg = lib, net, cfg
        if lib is torch:
            self.opt = (
                net.configure_optimizers(weight_decay=0.1, lr=cfg["lr"], betas=(0.9, 0.99))
                if cfg["model"] == "gpt"
                else torch.optim.Adam(net.parameters(), lr=cfg["lr"])
            )
            self.clip = torch.nn.utils.clip_grad_norm_
        else:
            self.opt, self.clip = lm_optimizer(cfg, net), clip_grad_norm_
        self.step_ms: list[float] = []

    def batch(self, data: BlockDataset, offsets: np.ndarray) -> tuple[Any, Any]:
        x, y = data.get_batch(offsets)
        if self.lib is torch:
            return torch.from_numpy(x.numpy()), torch.from_numpy(y.numpy())
        return x, y

    def train(self, data: BlockDataset, offsets: np.ndarray, start: int) -> None:
        """Steps ``start`` … ``start + len(offsets) - 1``, one per row of ``offsets``."""
        self.net.train()
        for i, rows in enumerate(offsets):
            for group in self.opt.param_groups:
                group["lr"] = lr_at(start + i, self.cfg)
            x, y = self.batch(data, rows)
            t0 = time.perf_counter()
            _, loss = self.net(x, y)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.clip(self.net.parameters(), self.cfg["grad_clip"])
            self.opt.step()
            loss.item()
            self.step_ms.append(1e3 * (time.perf_counter() - t0))

    def loss(self, data: BlockDataset, offsets: np.ndarray) -> float:
        """Mean loss over the fixed batches ``offsets`` in eval mode without gradients."""
        self.net.eval()
        with self.lib.no_grad():
            losses = [self.net(*self.batch(data, rows))[1].item() for rows in offsets]
        self.net.train()
        return sum(losses) / len(losses)

    def logits(self, data: BlockDataset, rows: np.ndarray) -> np.ndarray:
        with self.lib.no_grad():
            return self.net(self.batch(data, rows)[0])[0].numpy()


def compare(
    model: str = "gpt",
    iters: int | None = None,
    eval_interval: int | None = None,
    seed: int = 0,
    quiet: bool = False,
    checkpoint_path: str | Path | None = None,
    **sizes: Any,
) -> dict[str, Any]:
    """Train the ``model`` (gpt or lstm) recipe in both frameworks, alternating chunks.

    Returns every number. ``sizes`` overrides the recipe's layers, heads, width, block_size,
    batch_size, lr, eval_iters. With ``checkpoint_path`` ember's trained model is saved as
    ``ember train`` saves it, so ``ember sample`` can generate from it.
    """
    given = {"iters": iters, "eval_interval": eval_interval, "seed": seed, **sizes}
    cfg = lm_config(model, given)
    data = prepare(cfg)
    registry, model_kwargs = model_spec(cfg, data["tokenizer"].vocab_size)
    cfg.update(registry=registry, model_kwargs=model_kwargs)
    net, twin = build_models(model_kwargs, seed, registry)
    sides = {"ember": _Side(ember, net, cfg), "torch": _Side(torch, twin, cfg)}
    train_set, val_set = data["sets"]["train"], data["sets"]["val"]
    probe = data["eval_offsets"]["val"][0]
    initial_diff = float(
        np.max(
            np.abs(sides["ember"].logits(val_set, probe) - sides["torch"].logits(val_set, probe))
        )
    )

    curve: list[dict[str, Any]] = []

    def evaluate(it: int) -> None:
        row: dict[str, Any] = {"iter": it, "lr": lr_at(it, cfg)}
        for name, side in sides.items():
            for split, d in data["sets"].items():
                row[f"{name}_{split}"] = side.loss(d, data["eval_offsets"][split])
        curve.append(row)
        if not quiet:
            ms = {n: statistics.median(s.step_ms) if s.step_ms else 0.0 for n, s in sides.items()}
            print(
                f"iter {it}/{cfg['iters']}: val ember {row['ember_val']:.4f} torch "
                f"{row['torch_val']:.4f} · train ember {row['ember_train']:.4f} torch "
                f"{row['torch_train']:.4f} · ms/iter ember {ms['ember']:.1f} torch "
                f"{ms['torch']:.1f}",
                flush=True,
            )

    evaluate(0)
    step = cfg["eval_interval"]
    for start in range(0, cfg["iters"], step):
        chunk = data["train_offsets"][start : start + step]
        for side in sides.values():
            side.train(train_set, chunk, start)
        evaluate(start + len(chunk))

    if checkpoint_path is not None:
        cfg["tokenizer_state"] = data["tokenizer"].to_dict()
        extra = {"config": cfg, "history": curve}
        checkpoint.save(checkpoint_path, net, sides["ember"].opt, epoch=cfg["iters"], extra=extra)

    final = curve[-1]
    ms = {
        n: {"mean": statistics.fmean(s.step_ms), "median": statistics.median(s.step_ms)}
        for n, s in sides.items()
    }
    rel = final["ember_val"] / final["torch_val"] - 1.0
    return {
        "layout": "ember-lm-compare/1",
        "meta": run_meta(),
        "config": {
            **{k: cfg[k] for k in ("model", "iters", "eval_interval", "eval_iters", "batch_size")},
            **{k: cfg[k] for k in ("lr", "schedule", "warmup_iters", "min_lr", "grad_clip")},
            "seed": cfg["seed"],
            "model_kwargs": model_kwargs,
            "params": sum(p.numel() for p in net.parameters()),
            "tokens": data["tokens"],
        },
        "initial_logits_max_abs_diff": initial_diff,
        "curve": curve,
        "summary": {
            **{f"{n}_final_{s}": final[f"{n}_{s}"] for n in sides for s in ("train", "val")},
            **{f"{n}_ms_per_iter": v["mean"] for n, v in ms.items()},
            **{f"{n}_ms_per_iter_median": v["median"] for n, v in ms.items()},
            "ratio": ms["ember"]["mean"] / ms["torch"]["mean"],
            "val_rel_diff": rel,
            "within_3pct": bool(math.isfinite(rel) and abs(rel) <= TOLERANCE),
        },
    }


def _describe(c: dict[str, Any]) -> str:
    """The model, its optimizer and schedule in words, for the report's header."""
    k = c["model_kwargs"]
    if c["model"] == "gpt":
        return (
            f"gpt {k['n_layer']} layers, {k['n_head']} heads, width {k['n_embd']}, block "
            f"{k['block_size']}, vocab {k['vocab_size']} ({c['params']:,} params) · batch "
            f"{c['batch_size']}, {c['iters']} iters, AdamW lr {c['lr']} (warmup "
            f"{c['warmup_iters']}, cosine to {c['min_lr']:g})"
        )
    return (
        f"lstm Embedding({k['vocab_size']},{k['n_embd']})-LSTM({k['n_embd']},"
        f"{k['hidden_size']}, {k['num_layers']} layers)-Linear({k['hidden_size']},"
        f"{k['vocab_size']}), block {k['block_size']} ({c['params']:,} params) · batch "
        f"{c['batch_size']}, {c['iters']} iters, Adam lr {c['lr']} (constant)"
    )


def to_markdown(result: dict[str, Any]) -> str:
    """The summary table and the loss-curve table of one ``compare`` result."""
    m, c, s = result["meta"], result["config"], result["summary"]
    head = (
        f"{m['date']} · {m['cpu']} · threads torch {m['threads']['torch']}, NumPy BLAS "
        f"{m['threads']['numpy_blas']} · {_describe(c)}, clip {c['grad_clip']} · "
        f"{c['tokens']['train']:,} train / {c['tokens']['val']:,} val tokens · losses over "
        f"{c['eval_iters']} fixed batches · ember {m['versions']['ember']}, NumPy "
        f"{m['versions']['numpy']}, PyTorch {m['versions']['torch']}\n"
    )
    if "command" in m:
        head += f"\n`{m['command']}`\n"
    verdict = "yes" if s["within_3pct"] else "**no**"
    lines = [
        "| framework | final train loss | final val loss | ms/iter (mean) | ms/iter (median) |",
        "|---|---|---|---|---|",
    ]
    for n in ("ember", "torch"):
        lines.append(
            f"| {n} | {s[f'{n}_final_train']:.4f} | {s[f'{n}_final_val']:.4f} "
            f"| {s[f'{n}_ms_per_iter']:.1f} | {s[f'{n}_ms_per_iter_median']:.1f} |"
        )
    lines += [
        "",
        f"ember/torch ms/iter: **{s['ratio']:.2f}×** · ember val loss vs torch: "
        f"{100 * s['val_rel_diff']:+.2f}% · within 3%: {verdict} · initial logits max "
        f"|ember − torch| = {result['initial_logits_max_abs_diff']:.2g}",
        "",
        "| iter | lr | ember train | torch train | ember val | torch val |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["curve"]:
        lines.append(
            f"| {r['iter']} | {r['lr']:.2e} | {r['ember_train']:.4f} | {r['torch_train']:.4f} "
            f"| {r['ember_val']:.4f} | {r['torch_val']:.4f} |"
        )
    return head + "\n" + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="gpt", choices=("gpt", "lstm"))
    parser.add_argument("--iters", type=int, help="training iterations (default: the recipe's)")
    parser.add_argument("--eval-interval", type=int, help="iterations between loss estimates")
    parser.add_argument("--eval-iters", type=int, help="batches per loss estimate (default 20)")
    parser.add_argument("--layers", type=int)
    parser.add_argument("--heads", type=int)
    parser.add_argument("--width", type=int)
    parser.add_argument("--block-size", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--checkpoint", help="save ember's trained model here (for ember sample)")
    args = parse_common(parser, argv)
    result = compare(
        args.model, args.iters, args.eval_interval, args.seed, checkpoint_path=args.checkpoint,
        eval_iters=args.eval_iters,
        layers=args.layers, heads=args.heads, width=args.width, block_size=args.block_size,
        batch_size=args.batch_size,
    )  # fmt: skip
    return write_report(result, "lm_compare", argv, args, to_markdown)


if __name__ == "__main__":
    main()
