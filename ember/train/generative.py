"""The ``ember train dcgan|autoencoder|vae|ddpm`` and ``ember sample`` workflows.

A run directory holds ``checkpoint.safetensors`` (model, optimizer moments, RNG state and run
config, written atomically after every epoch, so ``--resume`` continues a stopped run exactly),
``samples-epochNNN.png`` (a sample grid per epoch: generated images for DCGAN/VAE/DDPM,
real-over-reconstruction rows for the autoencoder), ``metrics.csv`` and ``summary.json`` with
the final quality number: ember FID and class coverage (DCGAN, DDPM), test negative ELBO per
image in nats (VAE), test reconstruction MSE per pixel (autoencoder). PNGs are written by a
small NumPy + zlib encoder, so nothing beyond NumPy is needed.
"""

from __future__ import annotations

import argparse
import csv
import json
import struct
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ember import nn, optim
from ember.autograd import no_grad
from ember.creation import from_host
from ember.data.datasets import IMAGE_DATASETS
from ember.io.safetensors import atomic_write_bytes
from ember.jit import JitFunction
from ember.models.autoencoder import autoencoder
from ember.models.dcgan import dcgan
from ember.models.ddpm import ddpm
from ember.models.vae import vae
from ember.random import Generator, manual_seed, randn, randperm
from ember.tensor import Tensor
from ember.threads import set_num_threads
from ember.train import checkpoint
from ember.train.progress import format_logs, progress_bar
from ember.train.run import recipe_config

__all__ = [
    "GenRecipe",
    "RECIPES",
    "Optimizers",
    "write_png",
    "image_grid",
    "save_grid",
    "train_generative",
    "sample_checkpoint",
    "main",
]

GENERATIVE_MODELS: dict[str, Callable[..., nn.Module]] = {
    "dcgan": dcgan,
    "autoencoder": autoencoder,
    "vae": vae,
    "ddpm": ddpm,
}


@dataclass
class GenRecipe:
    """Defaults for one generative model (the workload's optimizer settings)."""

    epochs: int
    lr: float
    batch_size: int
    betas: tuple[float, float] = (0.9, 0.999)
    signed: bool = False  # images in [-1, 1] (tanh / diffusion) instead of [0, 1]


# epochs: the recorded runs of docs/generative.md (clothing-like samples; DCGAN ~20 min and
# DDPM ~85 min of one core of the 2-core development machine with --jit)
RECIPES = {
    "dcgan": GenRecipe(epochs=5, lr=2e-4, batch_size=64, betas=(0.5, 0.999), signed=True),
    "autoencoder": GenRecipe(epochs=10, lr=1e-3, batch_size=128),
    "vae": GenRecipe(epochs=10, lr=1e-3, batch_size=128),
    "ddpm": GenRecipe(epochs=7, lr=2e-4, batch_size=64, signed=True),
}


# -- PNG ------------------------------------------------------------------------------------
def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write a uint8 image [H, W] (grey) or [H, W, 3] (RGB) as an 8-bit PNG, atomically."""
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError(
            f"write_png: expected uint8 [H, W] or [H, W, 3]: {img.dtype} {img.shape} vs "
            "uint8 [H, W(, 3)]"
        )
    h, w = img.shape[:2]
    color = 0 if img.ndim == 2 else 2
    rows = np.concatenate([np.zeros((h, 1), np.uint8), img.reshape(h, -1)], axis=1)  # filter 0
    header = struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0)
    data = b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)),
            _chunk(b"IEND", b""),
        ]
    )
    atomic_write_bytes(Path(path), data)


def image_grid(
    images: Any, nrow: int = 8, padding: int = 2, value_range: tuple[float, float] = (0.0, 1.0)
) -> np.ndarray:
    """Tile images [N, C, H, W] (C = 1 or 3) into one uint8 picture, ``nrow`` per row."""
    arr = images.numpy() if isinstance(images, Tensor) else np.asarray(images)
    if arr.ndim != 4 or arr.shape[1] not in (1, 3):
        raise ValueError(f"image_grid: expected [N, 1 or 3, H, W], got {arr.shape}")
    lo, hi = value_range
    arr = np.clip((arr.astype(np.float64) - lo) / (hi - lo), 0.0, 1.0)
    n, c, h, w = arr.shape
    cols, rows = min(nrow, n), -(-n // nrow)
    grid = np.ones((c, rows * (h + padding) + padding, cols * (w + padding) + padding))
    for i in range(n):
        r, q = divmod(i, nrow)
        y, x = padding + r * (h + padding), padding + q * (w + padding)
        grid[:, y : y + h, x : x + w] = arr[i]
    out = np.round(grid * 255).astype(np.uint8)
    return out[0] if c == 1 else out.transpose(1, 2, 0)


def save_grid(
    images: Any, path: str | Path, nrow: int = 8, value_range: tuple[float, float] = (0.0, 1.0)
) -> None:
    """``image_grid`` written as a PNG."""
    write_png(path, image_grid(images, nrow=nrow, value_range=value_range))


# -- data -----------------------------------------------------------------------------------
def _images(dataset: str, train: bool, limit: int | None) -> np.ndarray:
    """All images of a split as float32 [N, 1, 28, 28] in [0, 1]."""
    data = IMAGE_DATASETS[dataset](train=train).data
    if limit:
        data = data[:limit]
    return (data.astype(np.float32) / 255.0)[:, None]


def _batches(images: np.ndarray, batch_size: int, shuffle: bool) -> list[np.ndarray]:
    n = len(images)
    order = randperm(n).numpy() if shuffle else np.arange(n)
    full = n // batch_size if shuffle else -(-n // batch_size)  # training drops the remainder
    return [images[order[i * batch_size : (i + 1) * batch_size]] for i in range(full)]


# -- models ---------------------------------------------------------------------------------
def build_model(cfg: dict[str, Any]) -> nn.Module:
    """The model of a run config (``cfg["model"]`` with ``cfg["model_kwargs"]``)."""
    return GENERATIVE_MODELS[cfg["model"]](**cfg["model_kwargs"])


def _to_unit(x: Tensor, signed: bool) -> Tensor:
    return (x + 1) * 0.5 if signed else x


def _draw(model: nn.Module, name: str, n: int, generator: Generator, steps: int) -> Tensor:
    """``n`` generated images in [0, 1] (eval mode, no grad)."""
    model.eval()
    with no_grad():
        if name == "ddpm":
            out = model.sample(n, generator=generator, method="ddim", steps=steps)
        else:
            out = model.sample(n, generator=generator)
    model.train()
    return _to_unit(out, RECIPES[name].signed).clamp(0.0, 1.0)


def _recon_grid(model: nn.Module, images: np.ndarray) -> np.ndarray:
    """Rows of 8 real images each followed by a row of their reconstructions."""
    model.eval()
    with no_grad():
        x = from_host(images)
        mu = model.encode(x)
        recon = model.decode(mu[0] if isinstance(mu, tuple) else mu).numpy()
    model.train()
    pairs = [np.concatenate([images[i : i + 8], recon[i : i + 8]]) for i in range(0, len(x), 8)]
    return np.concatenate(pairs)


def _interpolation(model: nn.Module, images: np.ndarray, points: int = 10) -> np.ndarray:
    """Decodings along straight lines between the latent codes of image pairs (one per row)."""
    model.eval()
    with no_grad():
        codes = model.encode(from_host(images))
        z = (codes[0] if isinstance(codes, tuple) else codes).numpy()
        a, b = z[0::2], z[1::2]
        w = np.linspace(0.0, 1.0, points, dtype=np.float32)[None, :, None]
        line = (a[:, None] * (1 - w) + b[:, None] * w).reshape(-1, z.shape[1])
        return model.decode(from_host(line)).numpy()


# -- training -------------------------------------------------------------------------------
def _config(
    model: str,
    dataset: str,
    epochs: int | None,
    batch_size: int | None,
    lr: float | None,
    seed: int,
    limit: int | None,
    model_kwargs: dict[str, Any],
    fid_samples: int,
    sample_steps: int,
) -> dict[str, Any]:
    r, common = recipe_config(RECIPES, model, dataset, epochs, batch_size, lr)
    return {
        **common,
        "betas": list(r.betas),
        "seed": seed,
        "limit": limit,
        "model_kwargs": model_kwargs,
        "fid_samples": fid_samples,
        "sample_steps": sample_steps,
    }


class Optimizers:
    """A run's Adam optimizers by name (the GAN's ``generator`` and ``discriminator``, else
    ``model``), saved in and restored from a checkpoint as one entry."""

    def __init__(self, name: str, model: Any, cfg: dict[str, Any]) -> None:
        kw = {"lr": cfg["lr"], "betas": tuple(cfg["betas"])}
        if name == "dcgan":
            parts = {"generator": model.generator, "discriminator": model.discriminator}
        else:
            parts = {"model": model}
        self.by_name = {k: optim.Adam(m.parameters(), **kw) for k, m in parts.items()}

    def state_dict(self) -> dict[str, Any]:
        return {k: opt.state_dict() for k, opt in self.by_name.items()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if set(state) != set(self.by_name):
            raise ValueError(
                f"checkpoint: optimizer states {sorted(state)} vs this model's "
                f"{sorted(self.by_name)}"
            )
        for k, opt in self.by_name.items():
            opt.load_state_dict(state[k])


def _step_fn(name: str, model: Any, opts: Optimizers) -> Callable[[Tensor], dict[str, Tensor]]:
    """One optimisation step on a batch; returns the logged losses (detached 0-d tensors, so
    that ``ember.jit`` can compile the step)."""
    if name == "dcgan":
        opt_g, opt_d = opts.by_name["generator"], opts.by_name["discriminator"]

        def gan_step(real: Tensor) -> dict[str, Tensor]:
            fake = model.sample(real.shape[0])
            opt_d.zero_grad()
            loss_d = model.discriminator_loss(real, fake)
            loss_d.backward()
            opt_d.step()
            opt_g.zero_grad()
            loss_g = model.generator_loss(fake)
            loss_g.backward()
            opt_g.step()
            return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach()}

        return gan_step
    opt = opts.by_name["model"]
    per_image = name == "vae"  # the VAE's loss is a batch sum; log it per image

    def step(x: Tensor) -> dict[str, Tensor]:
        opt.zero_grad()
        loss = model.loss(x)
        loss.backward()
        opt.step()
        return {"loss": loss.detach() / (x.shape[0] if per_image else 1)}

    return step


def _evaluate(
    name: str, model: Any, cfg: dict[str, Any], test: np.ndarray, quiet: bool
) -> dict[str, Any]:
    """The model's quality number on the test split (see the module docstring)."""
    model.eval()
    if name in ("vae", "autoencoder"):
        total, gen = 0.0, Generator().manual_seed(cfg["seed"])
        with no_grad():
            for batch in _batches(test, 500, shuffle=False):
                x = from_host(batch)
                if name == "vae":
                    total += model.loss(x, gen).item()
                else:
                    total += model.loss(x).item() * len(batch)
        model.train()
        key = "test_neg_elbo_per_image" if name == "vae" else "test_reconstruction_mse"
        return {key: total / len(test)}
    if not cfg["fid_samples"]:
        return {}
    from ember.metrics import FeatureExtractor, fid

    extractor = FeatureExtractor.load(quiet=quiet)
    gen = Generator().manual_seed(cfg["seed"] + 1)
    fakes = [
        _draw(model, name, min(250, cfg["fid_samples"] - i), gen, cfg["sample_steps"]).numpy()
        for i in range(0, cfg["fid_samples"], 250)
    ]
    return {"fid": fid(test, np.concatenate(fakes), extractor).to_dict()}


def train_generative(
    model: str = "vae",
    dataset: str = "fashion-mnist",
    epochs: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    quiet: bool = False,
    limit: int | None = None,
    model_kwargs: dict[str, Any] | None = None,
    fid_samples: int = 1000,
    sample_steps: int = 50,
    jit: bool = False,
    resume: bool = False,
) -> dict[str, Any]:
    """Train a generative ``model``, write the run directory and return the summary
    (``jit``: the training step compiled by ``ember.jit``). With ``resume`` the run continues
    from ``out``'s checkpoint with its own settings (only ``epochs`` may grow), and ends with the
    weights an uninterrupted run would have."""
    out = Path(out or f"runs/{model}-{dataset}")
    ckpt_path = out / "checkpoint.safetensors"
    saved = checkpoint.read(ckpt_path) if resume and ckpt_path.exists() else None
    if resume and saved is None and not quiet:
        print(f"no checkpoint in {out}; starting a new run")
    cfg = _config(
        model,
        dataset,
        epochs,
        batch_size,
        lr,
        seed,
        limit,
        model_kwargs or {},
        fid_samples,
        sample_steps,
    )
    if saved is not None:
        old = saved["extra"]["config"]
        if old["model"] != model:
            raise ValueError(f"train {model}: {ckpt_path} is a run of {old['model']}, not {model}")
        cfg = {**old, "epochs": epochs or old["epochs"]}
    out.mkdir(parents=True, exist_ok=True)
    manual_seed(cfg["seed"])
    signed = RECIPES[model].signed
    train = _images(cfg["dataset"], True, cfg["limit"])
    test = _images(cfg["dataset"], False, cfg["limit"])
    net = build_model(cfg)
    net.train()
    opts = Optimizers(model, net, cfg)
    initial_epoch, history = 0, []
    if saved is not None:
        ckpt = checkpoint.load(ckpt_path, net, opts)
        initial_epoch, history = ckpt["epoch"], ckpt["extra"]["history"]
    step = _step_fn(model, net, opts)
    if jit:
        step = JitFunction(step)
    grid_gen = Generator().manual_seed(cfg["seed"] + 2)  # the same latents/noise every epoch
    grid_state = grid_gen.get_state()
    start = time.perf_counter()
    for epoch in range(initial_epoch + 1, cfg["epochs"] + 1):
        t0 = time.perf_counter()
        batches = _batches(train, cfg["batch_size"], shuffle=True)
        bar = progress_bar(batches, not quiet, f"epoch {epoch}/{cfg['epochs']}", len(batches))
        sums: dict[str, float] = {}
        for batch in bar:
            x = from_host(batch * 2 - 1 if signed else batch)
            logs = {k: v.item() for k, v in step(x).items()}
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + v
            bar.set_postfix(**{k: f"{v:.4f}" for k, v in logs.items()})
        bar.close()
        row = {"epoch": epoch, **{k: v / max(len(batches), 1) for k, v in sums.items()}}
        row["time"] = time.perf_counter() - t0
        history.append(row)
        grid_gen.set_state(grid_state)
        if model == "autoencoder":
            pictures = _recon_grid(net, test[:32])
        else:
            pictures = _draw(net, model, 64, grid_gen, cfg["sample_steps"]).numpy()
        save_grid(pictures, out / f"samples-epoch{epoch:03d}.png")
        checkpoint.save(
            ckpt_path,
            net,
            opts,
            epoch=epoch,
            extra={"config": cfg, "history": history},
        )
        _write_csv(out / "metrics.csv", history)
        if not quiet:
            print(format_logs(epoch, cfg["epochs"], row), flush=True)
    wall = time.perf_counter() - start
    summary = {
        "model": model,
        "dataset": cfg["dataset"],
        "params": sum(p.numel() for p in net.parameters()),
        "epochs": cfg["epochs"],
        "train_images": len(train),
        "wall_time_s": wall,  # this invocation (a resumed run's earlier epochs are in history)
        "train_time_s": sum(r["time"] for r in history),
        "history": history,
        **_evaluate(model, net, cfg, test, quiet),
        "config": cfg,
    }
    atomic_write_bytes(out / "summary.json", json.dumps(summary, indent=2).encode())
    if not quiet:
        print(f"{model} on {cfg['dataset']}: {cfg['epochs']} epochs in {wall:.1f}s → {out}")
    return summary


def _write_csv(path: Path, rows: list[dict[str, float]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


# -- sampling -------------------------------------------------------------------------------
def is_generative_checkpoint(path: str | Path) -> bool:
    """True when ``path`` was written by ``ember train`` for a generative model."""
    cfg = (checkpoint.read(path)["extra"] or {}).get("config") or {}
    return cfg.get("model") in GENERATIVE_MODELS


def sample_checkpoint(
    path: str | Path,
    n: int = 64,
    out: str | Path = "grid.png",
    seed: int = 0,
    method: str = "ddim",
    steps: int = 50,
) -> list[Path]:
    """Draw ``n`` samples from an ``ember train`` generative checkpoint into the PNG ``out``.

    For the autoencoder (no prior: samples decode N(μ, diag σ²) fitted to test-image codes) and
    the VAE it also writes ``<out>-recon.png`` and ``<out>-interp.png`` (a latent-space
    interpolation strip per row). Returns the paths written.
    """
    ckpt = checkpoint.read(path)
    cfg = (ckpt["extra"] or {}).get("config")
    if cfg is None or cfg.get("model") not in GENERATIVE_MODELS:
        raise ValueError(f"sample: {path} was not written by `ember train` for a generative model")
    net = build_model(cfg)
    net.load_state_dict(ckpt["model"])
    net.eval()
    name, gen, out = cfg["model"], Generator().manual_seed(seed), Path(out)
    written = [out]
    with no_grad():
        if name == "ddpm":
            images = net.sample(n, generator=gen, method=method, steps=steps)
        elif name == "autoencoder":
            codes = net.encode(from_host(_images(cfg["dataset"], False, 1000))).numpy()
            z = codes.mean(0) + codes.std(0) * randn(n, codes.shape[1], generator=gen).numpy()
            images = net.decode(from_host(z.astype(np.float32)))
        else:
            images = net.sample(n, generator=gen)
    save_grid(_to_unit(images, RECIPES[name].signed), out)
    if name in ("autoencoder", "vae"):
        test = _images(cfg["dataset"], False, 16)
        extra = {"recon": (_recon_grid(net, test), 8), "interp": (_interpolation(net, test), 10)}
        for suffix, (pictures, nrow) in extra.items():
            target = out.with_name(f"{out.stem}-{suffix}{out.suffix}")
            save_grid(pictures, target, nrow=nrow)
            written.append(target)
    return written


# -- command line ---------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    """``train MODEL …`` and ``sample CHECKPOINT …`` (what ``ember`` delegates here)."""
    parser = argparse.ArgumentParser(prog="ember", description="generative models")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a generative model on an MNIST-family dataset")
    train.add_argument("model", choices=sorted(RECIPES))
    train.add_argument("--dataset", choices=sorted(IMAGE_DATASETS), default="fashion-mnist")
    train.add_argument("--epochs", type=int, help="default: the model's recipe")
    train.add_argument("--batch-size", type=int, help="default: the model's recipe")
    train.add_argument("--lr", type=float, help="default: the model's recipe")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", help="run directory (default: runs/MODEL-DATASET)")
    train.add_argument("--resume", action="store_true", help="continue from --out's checkpoint")
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.add_argument("--threads", type=int, help="BLAS and kernel threads (default: NumPy's)")
    train.add_argument("--limit", type=int, help="use only N training/test images (smoke tests)")
    train.add_argument("--variant", choices=("mlp", "conv"), help="autoencoder/vae: network")
    train.add_argument("--schedule", choices=("linear", "cosine"), help="ddpm: beta schedule")
    train.add_argument("--label-smoothing", type=float, help="dcgan: real target 1 - this")
    train.add_argument("--spectral-norm", action="store_true", help="dcgan: spectral-norm D")
    train.add_argument("--fid-samples", type=int, default=1000, help="dcgan/ddpm; 0: no FID")
    train.add_argument("--sample-steps", type=int, default=50, help="ddpm: DDIM steps in grids")
    train.add_argument("--jit", action="store_true", help="compile the training step")

    sample = sub.add_parser("sample", help="draw samples from a generative checkpoint")
    sample.add_argument("checkpoint")
    sample.add_argument("--n", type=int, default=64)
    sample.add_argument("--out", default="grid.png")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--sampler", choices=("ddpm", "ddim"), default="ddim", help="ddpm only")
    sample.add_argument("--steps", type=int, default=50, help="ddpm: DDIM steps")
    return parser


def _model_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if args.variant and args.model in ("autoencoder", "vae"):
        kwargs["kind"] = args.variant
    if args.schedule and args.model == "ddpm":
        kwargs["schedule"] = args.schedule
    if args.model == "dcgan":
        if args.label_smoothing is not None:
            kwargs["label_smoothing"] = args.label_smoothing
        if args.spectral_norm:
            kwargs["spectral_norm"] = True
    return kwargs


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``train …`` or ``sample …``; 0 on success, 1 with a message on a user error."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            if args.threads:
                set_num_threads(args.threads)
            train_generative(
                args.model,
                args.dataset,
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                seed=args.seed,
                out=args.out,
                quiet=args.quiet,
                limit=args.limit,
                model_kwargs=_model_kwargs(args),
                fid_samples=args.fid_samples,
                sample_steps=args.sample_steps,
                jit=args.jit,
                resume=args.resume,
            )
        else:
            paths = sample_checkpoint(
                args.checkpoint, args.n, args.out, args.seed, args.sampler, args.steps
            )
            print("wrote " + ", ".join(str(p) for p in paths))
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"ember: error: {exc}", file=sys.stderr)
        return 1
    return 0
