"""Time to a validation loss: ``ember train gpt`` against nanoGPT's ``train.py`` on the CPU.

Run: ``python -m benchmarks.gpt_time_to_loss --nanogpt DIR --text FILE [--target LOSS …]
[--iters N] [--eval-interval N] [--eval-iters N] [--threads N] [--frameworks ember,nanogpt]
[--json FILE] [--markdown FILE]``, with DIR a checkout of https://github.com/karpathy/nanoGPT
and FILE the Tiny Shakespeare text (``data/tinyshakespeare/input.txt`` of
https://github.com/karpathy/char-rnn).

Both programs run as they are, as subprocesses one after the other, at the same thread count
(nanoGPT: ``torch.set_num_threads`` before its ``train.py`` starts, ``OMP_NUM_THREADS``;
ember: ``--threads``), on the recipe of nanoGPT's README CPU example ("baby" GPT on
characters): 4 layers, 4 heads, width 128, block 64, batch 12, AdamW lr 1e-3 with 100 warmup
iterations and cosine decay to 1e-4 at the last iteration, weight decay 0.1 on the matrices,
betas (0.9, 0.99), gradient clipping at 1.0, dropout 0, biases in the Linear and LayerNorm
layers (ember's GPT has them and ``ember train gpt`` has no option to drop them). nanoGPT's
data (train.bin, val.bin, meta.pkl) is written to a temporary directory from the same text
with ember's character tokenizer and 90/10 split, so both train on the same tokens.

Each side's validation-loss estimates are read from its log as it prints them, stamped with
the wall time since the process started (imports, data preparation, ember's step
compilation and the evaluations included). Both estimate the loss every ``eval_interval``
iterations as the mean over ``eval_iters`` batches of (batch, block) windows of each split;
nanoGPT draws fresh random windows at each estimate, ember uses the same fixed windows every
time, so nanoGPT's estimates are noisier from one evaluation to the next. For each target
loss (default 1.886) the report gives the first evaluation at or below it; a target near the
final loss is decided by that noise, so several targets (``--target 2.0 1.95 1.9 1.886``)
show the speed more reliably.
"""

from __future__ import annotations

import argparse
import csv
import os
import pickle
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import ember
from benchmarks.train_compare import parse_common, run_meta, write_report
from ember.data.text import CharTokenizer, load_text, train_val_split
from ember.train.lm import LM_RECIPES, VAL_FRACTION, lm_config

__all__ = [
    "RECIPE",
    "prepare_nanogpt_data",
    "nanogpt_command",
    "ember_command",
    "run_logged",
    "parse_nanogpt",
    "parse_ember",
    "first_at_or_below",
    "compare",
    "to_markdown",
    "main",
]

TARGET = 1.886  # nanoGPT's validation loss after the README CPU example's 2,000 iterations
FRAMEWORKS = ("nanogpt", "ember")
# The settings ``ember train gpt`` fixes (ember.train.lm), given to nanoGPT explicitly.
RECIPE: dict[str, Any] = {
    "weight_decay": 0.1,
    "beta1": 0.9,
    "beta2": 0.99,
    "grad_clip": 1.0,
    "dropout": 0.0,
    "bias": True,
}
# Runs nanoGPT's train.py in its checkout with the thread count given as first argument.
_LAUNCH = (
    "import runpy, sys, torch; torch.set_num_threads(int(sys.argv.pop(1))); "
    "sys.argv[0] = 'train.py'; runpy.run_path('train.py', run_name='__main__')"
)
_EMBER_ROOT = Path(ember.__file__).resolve().parents[1]  # where ``python -m ember.cli`` runs
_NANOGPT_EVAL = re.compile(r"^step (\d+): train loss ([\d.]+), val loss ([\d.]+)")
_EMBER_EVAL = re.compile(r"^iter (\d+)/\d+\s.*\bval_loss\b")


def prepare_nanogpt_data(text_path: str | Path, out_dir: str | Path) -> dict[str, int]:
    """Write nanoGPT's char-level dataset files (``train.bin``/``val.bin`` of uint16 ids,
    ``meta.pkl`` with the vocabulary) for ``text_path`` into ``out_dir``, tokenized and split
    as ``ember train gpt`` does; return the vocabulary and split sizes."""
    text = load_text(text_path)
    tok = CharTokenizer.fit(text)
    train_ids, val_ids = train_val_split(tok.encode(text), VAL_FRACTION)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_ids.astype(np.uint16).tofile(out / "train.bin")
    val_ids.astype(np.uint16).tofile(out / "val.bin")
    meta = {
        "vocab_size": tok.vocab_size,
        "itos": dict(enumerate(tok.chars)),
        "stoi": {c: i for i, c in enumerate(tok.chars)},
    }
    with open(out / "meta.pkl", "wb") as f:
        pickle.dump(meta, f)
    return {"vocab_size": tok.vocab_size, "train": len(train_ids), "val": len(val_ids)}


def nanogpt_command(
    data_dir: str | Path, out_dir: str | Path, cfg: dict[str, Any], threads: int
) -> list[str]:
    """The command (run in the nanoGPT checkout) for its train.py with the README CPU
    example's overrides of ``config/train_shakespeare_char.py`` and the run's settings."""
    overrides = {
        "device": "cpu",
        "compile": False,
        "dtype": "float32",  # nanoGPT's CPU path computes in float32 whatever it is told
        "dataset": str(Path(data_dir).resolve()),  # absolute: train.py joins it to data/
        "out_dir": str(Path(out_dir).resolve()),
        "log_interval": cfg["eval_interval"],
        "eval_interval": cfg["eval_interval"],
        "eval_iters": cfg["eval_iters"],
        "block_size": cfg["block_size"],
        "batch_size": cfg["batch_size"],
        "n_layer": cfg["layers"],
        "n_head": cfg["heads"],
        "n_embd": cfg["width"],
        "max_iters": cfg["iters"],
        "lr_decay_iters": cfg["iters"],
        "learning_rate": cfg["lr"],
        "min_lr": cfg["min_lr"],
        "warmup_iters": cfg["warmup_iters"],
        **RECIPE,
    }
    args = [f"--{k}={v}" for k, v in overrides.items()]
    return [sys.executable, "-c", _LAUNCH, str(threads), "config/train_shakespeare_char.py", *args]


def ember_command(
    text_path: str | Path, out_dir: str | Path, cfg: dict[str, Any], threads: int
) -> list[str]:
    """The ``ember train gpt`` command for the run's settings (compiled step, the default)."""
    options = {
        "--text": Path(text_path).resolve(),
        "--iters": cfg["iters"],
        "--eval-interval": cfg["eval_interval"],
        "--eval-iters": cfg["eval_iters"],
        "--layers": cfg["layers"],
        "--heads": cfg["heads"],
        "--width": cfg["width"],
        "--block-size": cfg["block_size"],
        "--batch-size": cfg["batch_size"],
        "--lr": cfg["lr"],
        "--threads": threads,
        "--out": Path(out_dir).resolve(),
    }
    args = [str(a) for kv in options.items() for a in kv]
    return [sys.executable, "-m", "ember.cli", "train", "gpt", *args, "--force"]


def run_logged(argv: list[str], cwd: str | Path, threads: int) -> dict[str, Any]:
    """Run ``argv`` in ``cwd``; its output lines, each with the seconds since the start at
    which it arrived, the total wall time and the load average before and after.
    RuntimeError with the output's tail when it fails."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": str(threads)}
    load_before = os.getloadavg()
    start = time.perf_counter()
    lines: list[tuple[float, str]] = []
    with subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.perf_counter() - start, line.rstrip("\n")))
    wall = time.perf_counter() - start
    if proc.returncode:
        tail = "\n".join(line for _, line in lines[-20:])
        raise RuntimeError(f"gpt_time_to_loss: {argv[:5]} … failed ({proc.returncode}):\n{tail}")
    return {
        "lines": lines,
        "wall_s": wall,
        "load_before": list(load_before),
        "load_after": list(os.getloadavg()),
    }


def parse_nanogpt(lines: list[tuple[float, str]]) -> list[dict[str, Any]]:
    """nanoGPT's ``step N: train loss …, val loss …`` lines as rows (iter, time_s, losses)."""
    rows = []
    for t, line in lines:
        m = _NANOGPT_EVAL.match(line)
        if m:
            rows.append(
                {
                    "iter": int(m[1]),
                    "time_s": t,
                    "train_loss": float(m[2]),
                    "val_loss": float(m[3]),
                }
            )
    return rows


def parse_ember(lines: list[tuple[float, str]], metrics_csv: str | Path) -> list[dict[str, Any]]:
    """ember's evaluations: the time each ``iter N/M … val_loss …`` line arrived, with the
    exact losses of that iteration from the run's metrics.csv (the log rounds them)."""
    with open(metrics_csv, newline="") as f:
        exact = {int(float(r["iter"])): r for r in csv.DictReader(f)}
    rows = []
    for t, line in lines:
        m = _EMBER_EVAL.match(line)
        if m:
            r = exact[int(m[1])]
            rows.append(
                {
                    "iter": int(m[1]),
                    "time_s": t,
                    "train_loss": float(r["train_loss"]),
                    "val_loss": float(r["val_loss"]),
                }
            )
    return rows


def first_at_or_below(curve: list[dict[str, Any]], target: float) -> dict[str, Any] | None:
    """The first evaluation whose validation loss is at most ``target`` (None: never)."""
    return next((row for row in curve if row["val_loss"] <= target), None)


def _settings(iters: int, eval_interval: int, eval_iters: int, seed: int) -> dict[str, Any]:
    """``ember train gpt``'s settings for the run (its min_lr and warmup included)."""
    given = {"iters": iters, "eval_interval": eval_interval, "eval_iters": eval_iters}
    return lm_config("gpt", {**given, "seed": seed})


def compare(
    nanogpt_dir: str | Path,
    text_path: str | Path,
    targets: tuple[float, ...] = (TARGET,),
    iters: int = LM_RECIPES["gpt"]["iters"],
    eval_interval: int = 100,
    eval_iters: int = 20,
    threads: int = 1,
    frameworks: tuple[str, ...] = FRAMEWORKS,
    seed: int = 0,
    quiet: bool = False,
) -> dict[str, Any]:
    """Run each of ``frameworks`` (``nanogpt``, ``ember``) in turn; every number."""
    unknown = set(frameworks) - set(FRAMEWORKS)
    if unknown or not frameworks:
        raise ValueError(f"gpt_time_to_loss: frameworks {sorted(unknown)}: expected {FRAMEWORKS}")
    checkout = Path(nanogpt_dir)
    is_checkout = (checkout / "train.py").is_file() and (checkout / "configurator.py").is_file()
    if "nanogpt" in frameworks and not is_checkout:
        raise FileNotFoundError(
            f"gpt_time_to_loss: {checkout} is not a nanoGPT checkout (train.py and "
            "configurator.py expected): git clone https://github.com/karpathy/nanoGPT"
        )
    cfg = _settings(iters, eval_interval, eval_iters, seed)
    sides: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="gpt_time_to_loss-") as tmp:
        work = Path(tmp)
        tokens = prepare_nanogpt_data(text_path, work / "data")
        commands = {
            "nanogpt": (
                nanogpt_command(work / "data", work / "out-nanogpt", cfg, threads),
                checkout,
            ),
            "ember": (ember_command(text_path, work / "out-ember", cfg, threads), _EMBER_ROOT),
        }
        for name in frameworks:
            argv, cwd = commands[name]
            if not quiet:
                print(f"running {name}: {' '.join(argv)}", flush=True)
            run = run_logged(argv, cwd, threads)
            curve = (
                parse_nanogpt(run["lines"])
                if name == "nanogpt"
                else parse_ember(run["lines"], work / "out-ember" / "metrics.csv")
            )
            if not curve:
                raise RuntimeError(f"gpt_time_to_loss: no validation loss in {name}'s output")
            hits = [first_at_or_below(curve, t) for t in targets]
            sides[name] = {
                "command": argv,
                "curve": curve,
                "wall_s": run["wall_s"],
                "load_before": run["load_before"],
                "load_after": run["load_after"],
                "final_val_loss": curve[-1]["val_loss"],
                "best_val_loss": min(r["val_loss"] for r in curve),
                "targets": [
                    {"loss": t, "iter": h["iter"], "time_s": h["time_s"]} if h else {"loss": t}
                    for t, h in zip(targets, hits)
                ],
            }
            if not quiet:
                where = ", ".join(
                    f"{t} {_reached(r)}" for t, r in zip(targets, sides[name]["targets"])
                )
                print(
                    f"{name}: final val loss {curve[-1]['val_loss']:.4f}, wall "
                    f"{run['wall_s']:.1f}s; targets: {where}",
                    flush=True,
                )
    meta = run_meta()
    meta["threads"] = {"each process": threads}
    keys = ("iters", "eval_interval", "eval_iters", "layers", "heads", "width", "block_size")
    keys += ("batch_size", "lr", "min_lr", "warmup_iters", "seed")
    return {
        "layout": "ember-gpt-time-to-loss/1",
        "meta": meta,
        "config": {
            "targets": list(targets),
            **{k: cfg[k] for k in keys},
            **RECIPE,
            "tokens": tokens,
            "order": list(frameworks),
        },
        "sides": sides,
    }


def _reached(hit: dict[str, Any]) -> str:
    """``213.4 s (iter 1800)``, or ``not reached``."""
    return f"{hit['time_s']:.1f} s (iter {hit['iter']})" if "iter" in hit else "not reached"


def to_markdown(result: dict[str, Any]) -> str:
    """A row per target (each program's time and iteration at it, the ratio), then a row per
    program (final and best val loss, wall time, load average)."""
    m, c = result["meta"], result["config"]
    head = (
        f"{m['date']} · {m['cpu']} · {m['threads']['each process']} thread(s) each, the runs one "
        f"after the other ({', '.join(c['order'])}) · gpt {c['layers']} layers, {c['heads']} "
        f"heads, width {c['width']}, block {c['block_size']}, vocab {c['tokens']['vocab_size']} "
        f"· batch {c['batch_size']}, {c['iters']} iters, AdamW lr {c['lr']:g} (warmup "
        f"{c['warmup_iters']}, cosine to {c['min_lr']:g}), wd {c['weight_decay']}, betas "
        f"({c['beta1']}, {c['beta2']}), clip {c['grad_clip']} · val loss every "
        f"{c['eval_interval']} iters over {c['eval_iters']} batches · "
        f"{c['tokens']['train']:,} train / {c['tokens']['val']:,} val tokens · ember "
        f"{m['versions']['ember']}, PyTorch {m['versions']['torch']}\n"
    )
    if "command" in m:
        head += f"\n`{m['command']}`\n"
    sides = result["sides"]
    lines = [
        "| val loss ≤ | "
        + " | ".join(f"{n} s (iter)" for n in sides)
        + (" | ember/nanoGPT |" if len(sides) == 2 else " |"),
        "|---|" + "---|" * (len(sides) + (len(sides) == 2)),
    ]
    for i, target in enumerate(c["targets"]):
        hits = {n: s["targets"][i] for n, s in sides.items()}
        row = f"| {target} | " + " | ".join(_reached(h) for h in hits.values()) + " |"
        if len(sides) == 2:
            both = all("time_s" in h for h in hits.values())
            ratio = hits["ember"]["time_s"] / hits["nanogpt"]["time_s"] if both else None
            row += f" {ratio:.2f}× |" if ratio else " – |"
        lines.append(row)
    lines += [
        "",
        "| program | final val loss | best val loss | wall s | load avg before → after |",
        "|---|---|---|---|---|",
    ]
    for name, s in sides.items():
        load = f"{s['load_before'][0]:.2f} → {s['load_after'][0]:.2f}"
        lines.append(
            f"| {name} | {s['final_val_loss']:.4f} | {s['best_val_loss']:.4f} "
            f"| {s['wall_s']:.1f} | {load} |"
        )
    return head + "\n" + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nanogpt", required=True, help="a checkout of karpathy/nanoGPT")
    parser.add_argument("--text", required=True, help="the training text (Tiny Shakespeare)")
    parser.add_argument(
        "--target", type=float, nargs="+", default=[TARGET], help="validation losses to reach"
    )
    parser.add_argument("--iters", type=int, default=LM_RECIPES["gpt"]["iters"])
    parser.add_argument("--eval-interval", type=int, default=100)
    parser.add_argument("--eval-iters", type=int, default=20, help="batches per loss estimate")
    parser.add_argument(
        "--frameworks", default=",".join(FRAMEWORKS), help="which to run, in this order"
    )
    args = parse_common(parser, argv)
    result = compare(
        args.nanogpt, args.text, tuple(args.target), args.iters, args.eval_interval,
        args.eval_iters, args.threads or 1, tuple(args.frameworks.split(",")), args.seed,
    )  # fmt: skip
    return write_report(result, "gpt_time_to_loss", argv, args, to_markdown)


if __name__ == "__main__":
    main()
