"""Train one classifier on Fashion-MNIST with ember and with PyTorch and compare the runs.

Run: ``python -m benchmarks.train_compare MODEL [--epochs N] [--limit N] [--threads N]
[--target ACC] [--no-jit] [--json FILE] [--markdown FILE]`` with MODEL one of the ``ember
train`` recipes (mlp, cnn, resnet). Both frameworks get the recipe's model, optimizer, learning
rate, cosine schedule (stepped per epoch), batch size and augmentation, and run the training
step of ``ember train`` (``ember.train.loop.train_step``); ember's is compiled with
``ember.jit`` as ``ember train`` compiles it, unless ``--no-jit``. The PyTorch model is
ember's definition built with torch (``ember.models.model_class``: equal parameter names and
shapes) and starts from ember's initial weights. Each epoch one seeded NumPy generator draws
the sample order (and the augmentation), and both frameworks train on exactly those batches;
epochs alternate (ember 1, torch 1, ember 2, …) so that a change in machine load hits both.
Only the training loop is timed (forward, loss, backward, optimizer step, ``loss.item()``);
preparing the epoch's arrays and the test evaluations are not. Dropout draws from each
framework's own RNG, so with dropout the two trajectories differ by noise.

Time to accuracy: with ``--target ACC`` both models are scored on the test set after every
epoch (not timed), and the report gives, per framework, the first epoch whose test accuracy is
at least ACC and the training time summed up to it; the run stops once both have reached it.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn as tnn

import ember
from ember import models
from ember.allocator import keep_freed_memory
from ember.data.datasets import FashionMNIST
from ember.data.transforms import RandomCrop, RandomHorizontalFlip
from ember.jit import JitFunction
from ember.nn import functional as F
from ember.random import Generator
from ember.train.classifier import MEAN, RECIPES, STD, Recipe, build_optimizer
from ember.train.loop import train_step

__all__ = [
    "build_models",
    "load_twin",
    "parse_common",
    "write_report",
    "max_weight_diff",
    "load_data",
    "epoch_arrays",
    "torch_optimizer",
    "compare",
    "to_markdown",
    "main",
]

EVAL_BATCH = 1000


# ----------------------------------------------------------------------------- models
def build_models(
    model: str, seed: int = 0, model_kwargs: dict[str, Any] | None = None
) -> tuple[ember.nn.Module, tnn.Module]:
    """ember's ``model`` (seeded) and its PyTorch twin holding the same initial weights."""
    kwargs = RECIPES[model].model_kwargs if model_kwargs is None else model_kwargs
    ember.manual_seed(seed)
    torch.manual_seed(seed)
    net = models.create(model, **kwargs)
    return net, load_twin(net, model)


def load_twin(net: ember.nn.Module, model: str) -> tnn.Module:
    """The PyTorch twin of ``net``, registry model ``model``: the same definition built with
    torch (``ember.models.model_class``) for ``net``'s config, holding ``net``'s weights.
    ValueError unless names and shapes all match."""
    twin = models.model_class(model, torch)(net.config)
    ours = {k: v.numpy() for k, v in net.state_dict().items()}
    shapes = {k: tuple(v.shape) for k, v in ours.items()}
    expected = {k: tuple(v.shape) for k, v in twin.state_dict().items()}
    if shapes != expected:
        raise ValueError(
            f"train_compare: the PyTorch twin of {model!r} does not match ember's model: "
            f"{sorted(set(shapes.items()) ^ set(expected.items()))}"
        )
    twin.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in ours.items()})
    return twin


def max_weight_diff(net: ember.nn.Module, twin: tnn.Module) -> float:
    """Largest absolute difference over every parameter and buffer of the two models."""
    theirs = twin.state_dict()
    return max(
        float(np.max(np.abs(v.numpy().astype(np.float64) - theirs[k].numpy()), initial=0.0))
        for k, v in net.state_dict().items()
    )


# ----------------------------------------------------------------------------- data
def _normalize(images: np.ndarray) -> np.ndarray:
    """uint8 [N, 28, 28] → normalized float32 [N, 1, 28, 28] (the recipes' transform)."""
    x = images[:, None].astype(np.float32) * np.float32(1 / 255)
    return (x - np.float32(MEAN)) / np.float32(STD)


def load_data(limit: int | None = None) -> dict[str, np.ndarray]:
    """Fashion-MNIST as arrays: uint8 train images, int64 labels, normalized test images."""
    train, test = FashionMNIST(train=True), FashionMNIST(train=False)
    n = min(limit, len(train.data)) if limit else len(train.data)
    return {
        "train_images": train.data[:n],
        "train_labels": train.targets[:n],
        "test_x": _normalize(test.data),
        "test_y": test.targets,
    }


def epoch_arrays(data: dict[str, np.ndarray], gen: Generator, augment: bool) -> tuple:
    """This epoch's (inputs, labels) in training order: a shuffle (and augmentation) by ``gen``."""
    order = gen.numpy.permutation(len(data["train_images"]))
    images = data["train_images"][order]
    if augment:
        images = RandomHorizontalFlip(generator=gen)(RandomCrop(28, 2, generator=gen)(images))
    return np.ascontiguousarray(_normalize(images)), data["train_labels"][order]


# ----------------------------------------------------------------------------- training
class _Side:
    """One framework's model, optimizer, schedule and ``ember train``'s step (compiled for
    ember when ``jit``), with a train-epoch and an evaluation."""

    def __init__(
        self, lib: Any, net: Any, recipe: Recipe, lr: float, epochs: int, jit: bool = False
    ) -> None:
        self.lib, self.net = lib, net
        if lib is torch:
            self.opt = torch_optimizer(recipe, net.parameters(), lr)
            self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=epochs)
            self.loss_fn, self.wrap = torch.nn.functional.cross_entropy, torch.from_numpy
        else:
            self.opt = build_optimizer(recipe.optimizer, net.parameters(), lr, recipe.weight_decay)
            self.sched = ember.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=epochs)
            self.loss_fn, self.wrap = F.cross_entropy, ember.from_host
        self.step = train_step(net, self.loss_fn, self.opt)
        if jit:
            self.step = JitFunction(self.step)

    def train_epoch(self, x: np.ndarray, y: np.ndarray, batch_size: int) -> dict[str, float]:
        """One timed pass over the batches of ``x``, then the schedule step."""
        self.net.train()
        lr = self.opt.param_groups[0]["lr"]
        total, start = 0.0, time.perf_counter()
        for i in range(0, len(x), batch_size):
            xb, yb = x[i : i + batch_size], y[i : i + batch_size]
            total += self.step((self.wrap(xb), self.wrap(yb)))["loss"].item() * len(xb)
        elapsed = time.perf_counter() - start
        self.sched.step()
        return {"time_s": elapsed, "train_loss": total / len(x), "lr": lr}

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """Test loss and accuracy in eval mode without gradients."""
        self.net.eval()
        loss, correct = 0.0, 0
        with self.lib.no_grad():
            for i in range(0, len(x), EVAL_BATCH):
                logits = self.net(self.wrap(x[i : i + EVAL_BATCH]))
                target = self.wrap(y[i : i + EVAL_BATCH])
                loss += self.loss_fn(logits, target).item() * len(target)
                correct += int((logits.argmax(1) == target).sum().item())
        return {"test_loss": loss / len(x), "test_accuracy": correct / len(x)}


def torch_optimizer(recipe: Recipe, params: Any, lr: float) -> torch.optim.Optimizer:
    """The PyTorch optimizer ``ember.train.classifier.build_optimizer`` builds for a recipe."""
    wd = recipe.weight_decay
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=wd, nesterov=True)
    if recipe.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    return torch.optim.AdamW(params, lr=lr, weight_decay=wd or 1e-2)


def _threads_info() -> dict[str, Any]:
    info: dict[str, Any] = {"torch": torch.get_num_threads()}
    try:
        info["numpy_blas"] = ember.get_num_threads()
    except ImportError:
        info["numpy_blas"] = "unknown (threadpoolctl not installed)"
    return info


def run_meta() -> dict[str, Any]:
    """Date, CPU, thread settings and library versions of a comparison run."""
    return {
        "date": datetime.date.today().isoformat(),
        "cpu": _cpu_model(),
        "threads": _threads_info(),
        "versions": {
            "ember": ember.__version__,
            "numpy": np.__version__,
            "torch": torch.__version__,
        },
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def compare(
    model: str,
    epochs: int | None = None,
    limit: int | None = None,
    seed: int = 0,
    model_kwargs: dict[str, Any] | None = None,
    quiet: bool = False,
    target: float | None = None,
    jit: bool = True,
) -> dict[str, Any]:
    """Train ``model`` with both frameworks, alternating epochs, and return every number.
    With ``target`` (a test accuracy) also score both after every epoch and stop once both
    have reached it."""
    recipe = RECIPES[model]
    epochs = epochs or recipe.epochs
    data = load_data(limit)
    net, twin = build_models(model, seed, model_kwargs)
    initial_diff = max_weight_diff(net, twin)
    sides = {
        "ember": _Side(ember, net, recipe, recipe.lr, epochs, jit),
        "torch": _Side(torch, twin, recipe, recipe.lr, epochs),
    }
    gen = Generator().manual_seed(seed)
    rows: list[dict[str, Any]] = []
    reached: dict[str, dict[str, Any]] = {}
    for epoch in range(1, epochs + 1):
        x, y = epoch_arrays(data, gen, recipe.augment)
        row: dict[str, Any] = {"epoch": epoch}
        for name, side in sides.items():
            row[name] = side.train_epoch(x, y, recipe.batch_size)
        row["ratio"] = row["ember"]["time_s"] / row["torch"]["time_s"]
        rows.append(row)
        if target is not None:
            for name, side in sides.items():
                row[name].update(side.evaluate(data["test_x"], data["test_y"]))
                if name not in reached and row[name]["test_accuracy"] >= target:
                    trained_s = sum(r[name]["time_s"] for r in rows)
                    reached[name] = {"epoch": epoch, "time_s": trained_s}
        if not quiet:
            print(_epoch_line(row, epochs), flush=True)
        if target is not None and len(reached) == len(sides):
            break
    if target is None:
        final = {n: side.evaluate(data["test_x"], data["test_y"]) for n, side in sides.items()}
    else:  # the last epoch's scores are the trained models'
        final = {n: {k: rows[-1][n][k] for k in ("test_loss", "test_accuracy")} for n in sides}
    mean = {n: sum(r[n]["time_s"] for r in rows) / len(rows) for n in sides}
    result = {
        "layout": "ember-train-compare/1",
        "meta": run_meta(),
        "config": {
            "model": model,
            "epochs": epochs,
            "train_samples": len(data["train_images"]),
            "test_samples": len(data["test_x"]),
            "batch_size": recipe.batch_size,
            "optimizer": recipe.optimizer,
            "lr": recipe.lr,
            "weight_decay": recipe.weight_decay,
            "augment": recipe.augment,
            "model_kwargs": RECIPES[model].model_kwargs if model_kwargs is None else model_kwargs,
            "seed": seed,
            "params": sum(p.numel() for p in net.parameters()),
            "ember_jit": jit,
        },
        "initial_max_abs_diff": initial_diff,
        "epochs": rows,
        "summary": {
            "ember_epoch_s": mean["ember"],
            "torch_epoch_s": mean["torch"],
            "ratio": mean["ember"] / mean["torch"],
            **{f"{n}_{k}": v for n, res in final.items() for k, v in res.items()},
        },
    }
    if target is not None:
        result["time_to_target"] = _time_to_target(target, reached, len(rows))
    return result


def _epoch_line(row: dict[str, Any], epochs: int) -> str:
    """One epoch's progress line: both frameworks' times and losses (and test accuracies)."""
    parts = []
    for name in ("ember", "torch"):
        r = row[name]
        acc = f", test acc {r['test_accuracy']:.4f}" if "test_accuracy" in r else ""
        parts.append(f"{name} {r['time_s']:.2f}s (loss {r['train_loss']:.4f}{acc})")
    return f"epoch {row['epoch']}/{epochs}: {', '.join(parts)}, ember/torch {row['ratio']:.2f}"


def _time_to_target(
    target: float, reached: dict[str, dict[str, Any]], epochs_run: int
) -> dict[str, Any]:
    """Per framework: whether it reached ``target``, at which epoch, after how many seconds
    of training; the ember/torch ratio of those seconds when both did."""
    out: dict[str, Any] = {"accuracy": target, "epochs_run": epochs_run}
    for name in ("ember", "torch"):
        hit = reached.get(name)
        out[name] = {
            "reached": hit is not None,
            "epoch": hit["epoch"] if hit else None,
            "time_s": hit["time_s"] if hit else None,
        }
    both = len(reached) == 2
    out["ratio"] = reached["ember"]["time_s"] / reached["torch"]["time_s"] if both else None
    return out


def to_markdown(result: dict[str, Any]) -> str:
    """The per-epoch table and the summary table of one ``compare`` result."""
    m, c, s = result["meta"], result["config"], result["summary"]
    step = "compiled (ember.jit)" if c["ember_jit"] else "eager"
    head = (
        f"{m['date']} · {m['cpu']} · threads torch {m['threads']['torch']}, NumPy BLAS "
        f"{m['threads']['numpy_blas']} · {c['model']} ({c['params']:,} params), "
        f"{c['train_samples']:,} train / {c['test_samples']:,} test samples, batch "
        f"{c['batch_size']}, {c['optimizer']} lr {c['lr']}, cosine over {c['epochs']} epochs"
        f"{', augmented' if c['augment'] else ''}, ember step {step} · ember "
        f"{m['versions']['ember']}, NumPy "
        f"{m['versions']['numpy']}, PyTorch {m['versions']['torch']}\n"
    )
    if "command" in m:
        head += f"\n`{m['command']}`\n"
    scored = "time_to_target" in result  # test accuracy after every epoch
    lines = [
        "| epoch | ember s | torch s | ember/torch | ember train loss | torch train loss |"
        + (" ember test acc | torch test acc |" if scored else ""),
        "|---|---|---|---|---|---|" + ("---|---|" if scored else ""),
    ]
    for r in result["epochs"]:
        e, t = r["ember"], r["torch"]
        lines.append(
            f"| {r['epoch']} | {e['time_s']:.2f} | {t['time_s']:.2f} | {r['ratio']:.2f}× "
            f"| {e['train_loss']:.4f} | {t['train_loss']:.4f} |"
            + (f" {e['test_accuracy']:.4f} | {t['test_accuracy']:.4f} |" if scored else "")
        )
    lines += [
        "",
        "| framework | mean s / epoch | test accuracy | test loss |",
        "|---|---|---|---|",
    ]
    for n in ("ember", "torch"):
        lines.append(
            f"| {n} | {s[f'{n}_epoch_s']:.2f} | {s[f'{n}_test_accuracy']:.4f} "
            f"| {s[f'{n}_test_loss']:.4f} |"
        )
    lines.append(
        f"\nember/torch epoch time: **{s['ratio']:.2f}×**; initial weights max "
        f"|w_ember − w_torch| = {result['initial_max_abs_diff']:g}"
    )
    if scored:
        lines += ["", *_target_table(result["time_to_target"])]
    return head + "\n" + "\n".join(lines) + "\n"


def _target_table(tt: dict[str, Any]) -> list[str]:
    """The time-to-accuracy table: training seconds and epochs to the target per framework."""
    lines = [
        f"| framework | training s to test accuracy ≥ {tt['accuracy']} | epochs |",
        "|---|---|---|",
    ]
    for n in ("ember", "torch"):
        hit = tt[n]
        if hit["reached"]:
            lines.append(f"| {n} | {hit['time_s']:.1f} | {hit['epoch']} |")
        else:
            lines.append(f"| {n} | not reached in {tt['epochs_run']} epochs | – |")
    if tt["ratio"] is not None:
        lines.append(f"\nember/torch time to the target: **{tt['ratio']:.2f}×**")
    return lines


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=sorted(RECIPES))
    parser.add_argument("--epochs", type=int, help="default: the recipe's")
    parser.add_argument("--limit", type=int, help="use only the first N training samples")
    parser.add_argument(
        "--target", type=float, help="test accuracy: report each side's training time to it"
    )
    parser.add_argument(
        "--no-jit", dest="jit", action="store_false", help="run ember's training step eagerly"
    )
    args = parse_common(parser, argv)
    if args.target is not None and not 0.0 < args.target <= 1.0:
        parser.error(f"--target {args.target}: expected a test accuracy in (0, 1]")
    result = compare(
        args.model, args.epochs, args.limit, args.seed, target=args.target, jit=args.jit
    )
    return write_report(result, "train_compare", argv, args, to_markdown)


def parse_common(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Add --threads, --seed, --json and --markdown, parse ``argv`` and apply --threads; keep
    freed memory in the process as ``ember train`` does (both frameworks share the process)."""
    parser.add_argument("--threads", type=int, help="threads for PyTorch and NumPy's BLAS")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write every number to this file")
    parser.add_argument("--markdown", help="write the tables to this file")
    args = parser.parse_args(argv)
    keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
        ember.set_num_threads(args.threads)
    return args


def write_report(
    result: dict[str, Any],
    script: str,
    argv: list[str] | None,
    args: argparse.Namespace,
    render: Callable[[dict[str, Any]], str],
) -> dict[str, Any]:
    """Record the command in ``result``, print ``render(result)``, write --json/--markdown."""
    argv = sys.argv[1:] if argv is None else argv
    result["meta"]["command"] = f"python -m benchmarks.{script} " + shlex.join(argv)
    text = render(result)
    print("\n" + text)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(text)
    return result


if __name__ == "__main__":
    main()
