"""Train one generative model on Fashion-MNIST with ember and with PyTorch and compare the runs.

Run: ``python -m benchmarks.generative_compare MODEL [--epochs N] [--limit N] [--threads N]
[--fid-samples N] [--sample-steps N] [--grids DIR] [--frameworks ember,torch] [--json FILE]
[--markdown FILE]`` with MODEL one of vae, autoencoder, dcgan, ddpm. Both frameworks get the ``ember
train`` recipe's model (default config), Adam settings and batch size. The PyTorch model is
ember's definition built with torch (``ember.models.model_class``: ember's parameter names and
shapes) and starts from ember's initial weights. All randomness of a training step (batch order,
the VAE's ε, the GAN's latents, the diffusion timesteps and noise) is drawn once with NumPy and
handed to both frameworks, so the two runs differ only by floating-point round-off, which a GAN
amplifies. Epochs alternate (ember 1, torch 1, ember 2, …) so that a change in machine load hits
both; only the training loop is timed (forward, losses, backward, optimizer steps,
``loss.item()``). ``--frameworks torch`` trains only
one side (same weights, same draws), so that a long run can train the two frameworks in two
processes on two idle cores at once instead of one after the other; the report then holds that
side's numbers only.

Quality is judged by the same ember code for both: the PyTorch-trained weights are loaded into an
ember model and scored exactly as ``ember train`` scores its own run: test negative ELBO per image
(VAE), test reconstruction MSE per pixel (autoencoder), and for DCGAN and DDPM the ember FID against
the 10,000 test images plus class coverage of ``--fid-samples`` samples drawn from the same seeded
latents or noise (DDPM: DDIM with ``--sample-steps`` steps). ``probe_max_abs_diff`` checks that the
loaded ember model computes what the PyTorch model does.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn as tnn

import ember
from benchmarks.train_compare import (
    load_twin,
    max_weight_diff,
    parse_common,
    run_meta,
    write_report,
)
from ember.models.vae import kl_divergence
from ember.random import Generator
from ember.train.generative import (
    RECIPES,
    _draw,
    _evaluate,
    _images,
    _recon_grid,
    build_model,
    save_grid,
)

__all__ = ["MODELS", "build_models", "compare", "to_markdown", "main"]

MODELS = tuple(RECIPES)
FRAMEWORKS = ("ember", "torch")
DATASET = "fashion-mnist"


# ----------------------------------------------------------------------------- models
def _config(name: str, seed: int, fid_samples: int, sample_steps: int) -> dict[str, Any]:
    """The part of an ``ember train`` run config that building and judging a model reads."""
    return {
        "model": name,
        "model_kwargs": {},
        "seed": seed,
        "fid_samples": fid_samples,
        "sample_steps": sample_steps,
    }


def build_models(name: str, seed: int = 0) -> tuple[ember.nn.Module, tnn.Module]:
    """ember's ``name`` model (seeded) and its PyTorch twin holding the same initial weights."""
    ember.manual_seed(seed)
    torch.manual_seed(seed)
    net = build_model(_config(name, seed, 0, 0))
    return net, load_twin(net, name)


def _ember_copy(name: str, twin: tnn.Module) -> ember.nn.Module:
    """A fresh ember ``name`` model holding the PyTorch twin's weights."""
    net = build_model(_config(name, 0, 0, 0))
    net.load_state_dict({k: ember.tensor(v.numpy()) for k, v in twin.state_dict().items()})
    return net


# ----------------------------------------------------------------------------- data
def _epoch_batches(
    name: str, images: np.ndarray, rng: np.random.Generator, batch_size: int, net: Any
) -> list[dict[str, np.ndarray]]:
    """One epoch of batches (the remainder dropped) with every random draw of each step."""
    order = rng.permutation(len(images))
    batches = []
    for i in range(len(images) // batch_size):
        x = images[order[i * batch_size : (i + 1) * batch_size]]
        b = {"x": x}
        if name == "vae":
            b["eps"] = rng.standard_normal((batch_size, net.config.latent_dim), np.float32)
        elif name == "dcgan":
            b["z"] = rng.standard_normal((batch_size, net.config.latent_dim), np.float32)
        elif name == "ddpm":
            t = rng.integers(0, net.config.timesteps, batch_size)
            noise = rng.standard_normal(x.shape, np.float32)
            abar = net.alphas_cumprod[t].reshape(-1, 1, 1, 1)
            b["t"], b["noise"] = t, noise
            b["xt"] = (np.sqrt(abar) * x + np.sqrt(1 - abar) * noise).astype(np.float32)
        batches.append(b)
    return batches


# ----------------------------------------------------------------------------- training
def _vae_loss(F: Any, m: Any, x: Any, eps: Any) -> Any:
    """``VAE.loss`` (BCE sum + KL) with the given reparameterisation noise."""
    mu, lv = m.encode(x)
    recon = m.decode(mu + eps * (0.5 * lv).exp())
    bce = F.binary_cross_entropy(recon, x.reshape(recon.shape), reduction="sum")
    return bce + kl_divergence(mu, lv)


class _Side:
    """One framework's model and Adam optimizer(s), with a timed training epoch."""

    def __init__(self, lib: Any, name: str, net: Any) -> None:
        self.lib, self.name, self.net = lib, name, net
        self.F = lib.nn.functional
        self.wrap = torch.from_numpy if lib is torch else ember.from_host
        r = RECIPES[name]
        parts = [net.generator, net.discriminator] if name == "dcgan" else [net]
        self.opts = [lib.optim.Adam(p.parameters(), lr=r.lr, betas=r.betas) for p in parts]

    def _step(self, b: dict[str, Any]) -> dict[str, float]:
        m, F, opts = self.net, self.F, self.opts
        if self.name == "dcgan":
            fake = m(b["z"])
            loss_d = m.discriminator_loss(b["x"], fake)
            opts[1].zero_grad()
            loss_d.backward()
            opts[1].step()
            loss_g = m.generator_loss(fake)
            opts[0].zero_grad()
            loss_g.backward()
            opts[0].step()
            return {"loss_d": loss_d.item(), "loss_g": loss_g.item()}
        if self.name == "vae":
            loss = _vae_loss(F, m, b["x"], b["eps"])
        elif self.name == "ddpm":
            loss = F.mse_loss(m(b["xt"], b["t"]), b["noise"])
        else:
            loss = m.loss(b["x"])
        opts[0].zero_grad()
        loss.backward()
        opts[0].step()
        per_image = self.name == "vae"  # a batch sum, logged per image as `ember train` does
        return {"loss": loss.item() / (len(b["x"]) if per_image else 1)}

    def train_epoch(self, batches: list[dict[str, np.ndarray]]) -> dict[str, float]:
        """One timed pass over ``batches``; the mean of each logged loss and the seconds."""
        self.net.train()
        sums: dict[str, float] = {}
        start = time.perf_counter()
        for b in batches:
            for k, v in self._step({k: self.wrap(v) for k, v in b.items()}).items():
                sums[k] = sums.get(k, 0.0) + v
        elapsed = time.perf_counter() - start
        return {"time_s": elapsed, **{k: v / len(batches) for k, v in sums.items()}}


def _probe(name: str, m: Any, wrap: Any, rng: np.random.Generator, images: np.ndarray) -> Any:
    """The model's eval-mode output on fixed inputs, as NumPy (to compare the frameworks)."""
    m.eval()
    x = wrap(np.ascontiguousarray(images[:16]))
    if name == "dcgan":
        out = m(wrap(rng.standard_normal((16, m.config.latent_dim), np.float32)))
    elif name == "vae":
        out = m.decode(m.encode(x)[0])
    elif name == "ddpm":
        out = m(x, wrap(rng.integers(0, 1000, 16)))
    else:
        out = m(x)
    return out.detach().numpy().astype(np.float64)


# ----------------------------------------------------------------------------- comparison
def compare(
    name: str,
    epochs: int | None = None,
    limit: int | None = None,
    seed: int = 0,
    fid_samples: int = 1000,
    sample_steps: int = 20,
    grids: str | Path | None = None,
    quiet: bool = False,
    frameworks: tuple[str, ...] = FRAMEWORKS,
) -> dict[str, Any]:
    """Train ``name`` with ``frameworks`` (both by default, alternating epochs) and return
    every number."""
    unknown = set(frameworks) - set(FRAMEWORKS)
    if unknown or not frameworks:
        raise ValueError(
            f"generative_compare: frameworks {frameworks!r}, expected a subset of {FRAMEWORKS}"
        )
    recipe = RECIPES[name]
    epochs = epochs or recipe.epochs
    images = _images(DATASET, True, limit)
    if recipe.signed:
        images = images * 2 - 1
    net, twin = build_models(name, seed)
    initial_diff = max_weight_diff(net, twin)
    models = {"ember": (ember, net), "torch": (torch, twin)}
    sides = {fw: _Side(lib, name, m) for fw, (lib, m) in models.items() if fw in frameworks}
    rng = Generator().manual_seed(seed).numpy
    rows = []
    for epoch in range(1, epochs + 1):
        batches = _epoch_batches(name, images, rng, recipe.batch_size, net)
        row: dict[str, Any] = {"epoch": epoch}
        for fw, side in sides.items():
            row[fw] = side.train_epoch(batches)
        if len(sides) == 2:
            row["ratio"] = row["ember"]["time_s"] / row["torch"]["time_s"]
        rows.append(row)
        if not quiet:
            print(f"epoch {epoch}/{epochs}: " + _epoch_text(row), flush=True)
    test = _images(DATASET, False, None)
    judged = {fw: net if fw == "ember" else _ember_copy(name, twin) for fw in sides}
    probe_diff = None
    if "torch" in judged:
        with torch.no_grad(), ember.no_grad():
            probes = [
                _probe(name, m, wrap, np.random.default_rng(seed), test)
                for m, wrap in ((judged["torch"], ember.from_host), (twin, torch.from_numpy))
            ]
        probe_diff = float(np.max(np.abs(probes[0] - probes[1])))
    cfg = _config(name, seed, fid_samples, sample_steps)
    start = time.perf_counter()
    quality = {fw: _evaluate(name, m, cfg, test) for fw, m in judged.items()}
    eval_s = time.perf_counter() - start
    if grids:
        _write_grids(name, judged, Path(grids), seed, sample_steps, test)
    mean = {fw: sum(r[fw]["time_s"] for r in rows) / len(rows) for fw in sides}
    summary: dict[str, Any] = {f"{fw}_epoch_s": mean[fw] for fw in sides}
    if len(sides) == 2:
        summary["ratio"] = mean["ember"] / mean["torch"]
    return {
        "layout": "ember-generative-compare/1",
        "meta": run_meta(),
        "config": {
            "model": name,
            "epochs": epochs,
            "train_samples": len(images),
            "steps_per_epoch": len(images) // recipe.batch_size,
            "test_samples": len(test),
            "batch_size": recipe.batch_size,
            "lr": recipe.lr,
            "betas": list(recipe.betas),
            "seed": seed,
            "fid_samples": fid_samples if name in ("dcgan", "ddpm") else None,
            "sample_steps": sample_steps if name == "ddpm" else None,
            "params": sum(p.numel() for p in net.parameters()),
            "frameworks": list(sides),
        },
        "initial_max_abs_diff": initial_diff,
        "probe_max_abs_diff": probe_diff,
        "epochs": rows,
        "evaluation_s": eval_s,
        "summary": {**summary, **quality},
    }


def _write_grids(
    name: str, judged: dict[str, Any], out: Path, seed: int, steps: int, test: np.ndarray
) -> None:
    """``gen_<model>-<framework>.png``: samples (DCGAN, VAE, DDPM) or reconstructions."""
    out.mkdir(parents=True, exist_ok=True)
    for fw, m in judged.items():
        if name == "autoencoder":
            pictures = _recon_grid(m, test[:32])
        else:
            pictures = _draw(m, name, 64, Generator().manual_seed(seed + 2), steps).numpy()
        save_grid(pictures, out / f"gen_{name}-{fw}.png")


def _epoch_text(row: dict[str, Any]) -> str:
    parts = [
        f"{fw} {row[fw]['time_s']:.1f}s ("
        + ", ".join(f"{k} {v:.4f}" for k, v in row[fw].items() if k != "time_s")
        + ")"
        for fw in FRAMEWORKS
        if fw in row
    ]
    ratio = f", ember/torch {row['ratio']:.2f}" if "ratio" in row else ""
    return ", ".join(parts) + ratio


def _quality_cells(q: dict[str, Any]) -> tuple[str, str]:
    """(metric name, value text) of one framework's quality result."""
    if "fid" in q:
        f = q["fid"]
        return "ember FID · classes covered", f"{f['fid']:.2f} · {f['classes_covered']}/10"
    key = next(iter(q))
    return key.replace("_", " "), f"{q[key]:.4f}"


def to_markdown(result: dict[str, Any]) -> str:
    """The per-epoch table and the summary table of one ``compare`` result."""
    m, c, s = result["meta"], result["config"], result["summary"]
    extra = ""
    if c["fid_samples"]:
        extra = f", FID from {c['fid_samples']:,} samples vs {c['test_samples']:,} test images"
        if c["sample_steps"]:
            extra += f" (DDIM {c['sample_steps']} steps)"
    head = (
        f"{m['date']} · {m['cpu']} · threads torch {m['threads']['torch']}, NumPy BLAS "
        f"{m['threads']['numpy_blas']} · {c['model']} ({c['params']:,} params), "
        f"{c['train_samples']:,} train images, {c['epochs']} epochs of {c['steps_per_epoch']} "
        f"steps, batch {c['batch_size']}, Adam lr {c['lr']} betas {tuple(c['betas'])}{extra} · "
        f"ember {m['versions']['ember']}, NumPy {m['versions']['numpy']}, PyTorch "
        f"{m['versions']['torch']}\n"
    )
    if "command" in m:
        head += f"\n`{m['command']}`\n"
    fws = [fw for fw in FRAMEWORKS if fw in s]
    both = len(fws) == 2
    keys = [k for k in result["epochs"][0][fws[0]] if k != "time_s"]
    columns = [f"{fw} s" for fw in fws] + (["ember/torch"] if both else [])
    columns += [f"{fw} {k}" for k in keys for fw in fws]
    lines = ["| epoch | " + " | ".join(columns) + " |", "|---" * (1 + len(columns)) + "|"]
    for r in result["epochs"]:
        cells = [f"{r[fw]['time_s']:.1f}" for fw in fws] + ([f"{r['ratio']:.2f}×"] if both else [])
        cells += [f"{r[fw][k]:.4f}" for k in keys for fw in fws]
        lines.append(f"| {r['epoch']} | " + " | ".join(cells) + " |")
    metric = _quality_cells(s[fws[0]])[0]
    lines += ["", f"| framework | mean s / epoch | {metric} |", "|---|---|---|"]
    for fw in fws:
        lines.append(f"| {fw} | {s[f'{fw}_epoch_s']:.1f} | {_quality_cells(s[fw])[1]} |")
    notes = [f"initial weights max |w_ember − w_torch| = {result['initial_max_abs_diff']:g}"]
    if both:
        notes.insert(0, f"ember/torch epoch time: **{s['ratio']:.2f}×**")
    if result["probe_max_abs_diff"] is not None:
        notes.append(
            "trained PyTorch weights in ember vs in PyTorch, max output difference "
            f"{result['probe_max_abs_diff']:.2g}"
        )
    lines.append("\n" + "; ".join(notes))
    return head + "\n" + "\n".join(lines) + "\n"


def _frameworks(text: str) -> tuple[str, ...]:
    """``--frameworks``: a non-empty, comma-separated subset of FRAMEWORKS."""
    chosen = tuple(text.split(","))
    if not set(chosen) <= set(FRAMEWORKS):
        raise argparse.ArgumentTypeError(f"{text!r}: expected ember, torch or ember,torch")
    return chosen


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=MODELS)
    parser.add_argument("--epochs", type=int, help="default: the `ember train` recipe's")
    parser.add_argument("--limit", type=int, help="use only the first N training images")
    parser.add_argument("--fid-samples", type=int, default=1000, help="dcgan/ddpm; 0: no FID")
    parser.add_argument("--sample-steps", type=int, default=20, help="ddpm: DDIM steps")
    parser.add_argument("--grids", help="write each framework's sample grid PNG here")
    parser.add_argument(
        "--frameworks",
        type=_frameworks,
        default=FRAMEWORKS,
        help="comma-separated subset of ember,torch to train (default: both)",
    )
    args = parse_common(parser, argv)
    result = compare(
        args.model,
        args.epochs,
        args.limit,
        args.seed,
        args.fid_samples,
        args.sample_steps,
        args.grids,
        frameworks=args.frameworks,
    )
    return write_report(result, "generative_compare", argv, args, to_markdown)


if __name__ == "__main__":
    main()
