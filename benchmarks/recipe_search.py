"""Try variants of an ``ember train`` recipe quickly, with PyTorch as a stand-in, to pick defaults.

Run: ``python -m benchmarks.recipe_search MODEL [--device cuda] [--jobs N] [--seeds 0 1]
[--json FILE] VARIANT…`` where each VARIANT is ``name:field=value,field=value`` over the
``Recipe`` fields (``epochs``, ``lr``, ``optimizer``, ``batch_size``, ``augment``,
``weight_decay``) and ``model.KEY=value`` for the model's constructor; ``base`` alone is the
recipe unchanged. Values are Python literals (``model.widths=(24,48,96)``).

Each run trains the PyTorch twin of ember's model (``benchmarks.train_compare``: same
layers, same initial weights, same batches and augmentation, same optimizer and cosine
schedule), so a GPU can try a dozen recipes in minutes. ``train_compare`` shows that ember
and PyTorch reach the same accuracy on the same recipe; the chosen recipe is then confirmed
with ember itself (``ember train MODEL``). Runs go to a pool of ``--jobs`` processes.
"""

from __future__ import annotations

import argparse
import ast
import json
import multiprocessing
import sys
import time
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from benchmarks.train_compare import build_models, epoch_arrays, load_data, torch_optimizer
from ember.random import Generator
from ember.train.classifier import RECIPES, Recipe

__all__ = ["parse_variant", "train_variant", "main"]


def parse_variant(model: str, text: str) -> tuple[str, Recipe]:
    """``name:field=value,…`` → (name, the model's recipe with those fields changed)."""
    name, _, body = text.partition(":")
    recipe = RECIPES[model]
    fields: dict[str, Any] = {}
    kwargs = dict(recipe.model_kwargs)
    for item in filter(None, _split_top(body)):
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"recipe_search: {item!r} in variant {text!r} is not field=value")
        parsed = ast.literal_eval(value)
        if key.startswith("model."):
            kwargs[key[len("model.") :]] = parsed
        elif key in Recipe.__dataclass_fields__:
            fields[key] = parsed
        else:
            raise ValueError(
                f"recipe_search: unknown field {key!r} in variant {text!r}; expected one of "
                f"{sorted(Recipe.__dataclass_fields__)} or model.KEY"
            )
    return name, replace(recipe, model_kwargs=kwargs, **fields)


def _split_top(body: str) -> list[str]:
    """Split on commas that are not inside brackets (so tuples survive)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(body):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(body[start:i])
            start = i + 1
    parts.append(body[start:])
    return parts


def train_variant(job: tuple[str, str, Recipe, int, str, int | None]) -> dict[str, Any]:
    """Train one (name, model, recipe, seed, device, limit) with PyTorch; the test numbers."""
    name, model, recipe, seed, device, limit = job
    torch.set_num_threads(1)
    data = load_data(limit)
    _, twin = build_models(model, seed, recipe.model_kwargs)
    twin.to(device)
    opt = torch_optimizer(recipe, twin.parameters(), recipe.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=recipe.epochs)
    gen = Generator().manual_seed(seed)
    loss_fn = torch.nn.functional.cross_entropy
    start, history = time.perf_counter(), []
    for _ in range(recipe.epochs):
        x, y = epoch_arrays(data, gen, recipe.augment)
        x, y = torch.from_numpy(x).to(device), torch.from_numpy(np.asarray(y)).to(device)
        twin.train()
        total = torch.zeros((), device=device)
        for i in range(0, len(x), recipe.batch_size):
            loss = loss_fn(twin(x[i : i + recipe.batch_size]), y[i : i + recipe.batch_size])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.detach() * len(y[i : i + recipe.batch_size])
        sched.step()
        history.append(round(float(total) / len(x), 4))
    twin.eval()
    with torch.no_grad():
        tx = torch.from_numpy(data["test_x"]).to(device)
        ty = torch.from_numpy(np.asarray(data["test_y"])).to(device)
        pred = torch.cat([twin(tx[i : i + 1000]).argmax(1) for i in range(0, len(tx), 1000)])
        accuracy = float((pred == ty).float().mean())
    return {
        "variant": name,
        "seed": seed,
        "recipe": {**recipe.__dict__},
        "params": sum(p.numel() for p in twin.parameters()),
        "test_accuracy": accuracy,
        "train_loss": history,
        "wall_s": round(time.perf_counter() - start, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="recipe_search", description=__doc__.splitlines()[0])
    p.add_argument("model", choices=sorted(RECIPES))
    p.add_argument("variants", nargs="+", help="name:field=value,… (see the module docstring)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--limit", type=int, help="use only the first N training samples")
    p.add_argument("--json", help="write every run's numbers here")
    opts = p.parse_args(argv)
    jobs = [(*parse_variant(opts.model, v), seed) for v in opts.variants for seed in opts.seeds]
    jobs = [
        (name, opts.model, recipe, seed, opts.device, opts.limit) for name, recipe, seed in jobs
    ]
    ctx = multiprocessing.get_context("spawn")
    results = []
    with ctx.Pool(opts.jobs) as pool:
        for r in pool.imap_unordered(train_variant, jobs):
            results.append(r)
            print(
                f"{r['variant']:>16} seed {r['seed']}: test accuracy {r['test_accuracy']:.4f} "
                f"({r['params']:,} params, {r['wall_s']} s)",
                flush=True,
            )
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(results, f, indent=1)
    by_name: dict[str, list[float]] = {}
    for r in results:
        by_name.setdefault(r["variant"], []).append(r["test_accuracy"])
    for name, accs in sorted(by_name.items(), key=lambda kv: -sum(kv[1]) / len(kv[1])):
        print(f"{name:>16}: mean {sum(accs) / len(accs):.4f} over {len(accs)} seeds {accs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
