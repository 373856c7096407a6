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

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ember import nn, optim
from ember.autograd import no_grad
from ember.creation import from_host
from ember.data.datasets import IMAGE_DATASETS
from ember.io.png import encode_png
from ember.io.safetensors import atomic_write_bytes
from ember.models.autoencoder import autoencoder
from ember.models.dcgan import dcgan
from ember.models.ddpm import ddpm
from ember.models.vae import vae
from ember.random import Generator, randn
from ember.tensor import Tensor
from ember.train import checkpoint
from ember.train.batches import ShuffledBatches
from ember.train.callbacks import Callback, FitState, History
from ember.train.classifier import IMAGE_OPTIONS, recipe_config
from ember.train.family import Family, Job, Option, fraction, nonnegative_int, positive_int
from ember.train.parallel import data_parallel, world_size

__all__ = [
    "GenRecipe",
    "RECIPES",
    "Optimizers",
    "write_png",
    "image_grid",
    "save_grid",
    "GENERATIVE",
    "SampleGrid",
    "sample_checkpoint",
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
def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write a uint8 image [H, W] (grey) or [H, W, 3] (RGB) as an 8-bit PNG, atomically."""
    img = np.asarray(image)
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] != 3):
        raise ValueError(
            f"write_png: expected uint8 [H, W] or [H, W, 3]: {img.dtype} {img.shape} vs "
            "uint8 [H, W(, 3)]"
        )
    atomic_write_bytes(Path(path), encode_png(img))


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


def _batches(images: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """``images`` in order, cut into batches (the last may be smaller)."""
    return [images[i : i + batch_size] for i in range(0, len(images), batch_size)]


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
def _config(model: str, given: dict[str, Any]) -> dict[str, Any]:
    r = RECIPES[model]
    return {
        **recipe_config(RECIPES, model, given),
        "betas": list(r.betas),
        "variant": given.get("variant"),
        "schedule": given.get("schedule"),
        "label_smoothing": given.get("label_smoothing"),
        "spectral_norm": given.get("spectral_norm", False),
        "fid_samples": given.get("fid_samples", 1000),
        "sample_steps": given.get("sample_steps", 50),
    }


def _model_kwargs(cfg: dict[str, Any]) -> dict[str, Any]:
    """The model constructor's overrides named by the run config."""
    kwargs: dict[str, Any] = {}
    if cfg["variant"] is not None:
        kwargs["kind"] = cfg["variant"]
    if cfg["schedule"] is not None:
        kwargs["schedule"] = cfg["schedule"]
    if cfg["label_smoothing"] is not None:
        kwargs["label_smoothing"] = cfg["label_smoothing"]
    if cfg["spectral_norm"]:
        kwargs["spectral_norm"] = True
    return kwargs


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

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """Every optimizer's parameter groups (the first is logged as the run's lr)."""
        return [g for opt in self.by_name.values() for g in opt.param_groups]

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


def _step_fn(
    name: str, model: Any, opts: Optimizers, ranks: int = 1
) -> Callable[[Tensor], dict[str, Tensor]]:
    """One optimisation step on a batch; returns the logged losses (detached 0-d tensors, so
    that ``ember.jit`` can compile the step). ``ranks``: the data-parallel world size, by
    which a loss summed over the batch is scaled before backward, since DDP averages the
    ranks' gradients: N ranks x B rows then step as one process does on N x B rows."""
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
    scale = ranks if per_image else 1

    def step(x: Tensor) -> dict[str, Tensor]:
        opt.zero_grad()
        loss = model.loss(x)
        (loss * scale if scale != 1 else loss).backward()
        opt.step()
        return {"loss": loss.detach() / (x.shape[0] if per_image else 1)}

    return step


def _evaluate(name: str, model: Any, cfg: dict[str, Any], test: np.ndarray) -> dict[str, Any]:
    """The model's quality number on the test split (see the module docstring)."""
    model.eval()
    if name in ("vae", "autoencoder"):
        total, gen = 0.0, Generator().manual_seed(cfg["seed"])
        with no_grad():
            for batch in _batches(test, 500):
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

    extractor = FeatureExtractor.load(train_if_missing=False)
    gen = Generator().manual_seed(cfg["seed"] + 1)
    fakes = [
        _draw(model, name, min(250, cfg["fid_samples"] - i), gen, cfg["sample_steps"]).numpy()
        for i in range(0, cfg["fid_samples"], 250)
    ]
    return {"fid": fid(test, np.concatenate(fakes), extractor).to_dict()}


def _prepare(cfg: dict[str, Any], quiet: bool) -> None:
    """DCGAN and DDPM runs are judged by FID, whose feature classifier is trained once (and
    cached) before the run starts, so that a missing data set or disk fails early."""
    if cfg["model"] not in ("dcgan", "ddpm") or not cfg["fid_samples"]:
        return
    from ember.metrics.fid import CLASSIFIER_EPOCHS, FeatureExtractor, default_path

    if not default_path().exists():
        print(
            f"FID needs a Fashion-MNIST classifier, not yet cached: training it first "
            f"(`ember train cnn`, {CLASSIFIER_EPOCHS} epochs on the full training set; about "
            f"{CLASSIFIER_EPOCHS * 3} minutes on one core), once, into {default_path()}; "
            "--fid-samples 0 skips FID",
            flush=True,
        )
    FeatureExtractor.load(quiet=quiet)


class SampleGrid(Callback):
    """After each epoch, ``samples-epochNNN.png``: the same latents/noise drawn every epoch,
    or for the autoencoder rows of real test images over their reconstructions."""

    def __init__(self, name: str, model: Any, cfg: dict[str, Any], out: Path, test: np.ndarray):
        self.name, self.model, self.cfg, self.out, self.test = name, model, cfg, out, test
        self.state = Generator().manual_seed(cfg["seed"] + 2).get_state()
        self.latest: np.ndarray | None = None  # the last grid drawn (TensorBoard logs it)

    def on_epoch_end(self, state: FitState, logs: dict[str, float]) -> None:
        if self.name == "autoencoder":
            pictures = _recon_grid(self.model, self.test[:32])
        else:
            gen = Generator().set_state(self.state)
            pictures = _draw(self.model, self.name, 64, gen, self.cfg["sample_steps"]).numpy()
        self.latest = image_grid(pictures)
        write_png(self.out / f"samples-epoch{state.epoch + 1:03d}.png", self.latest)


def _build(cfg: dict[str, Any], out: Path, quiet: bool) -> Job:
    """The generative model's Job: its step (the GAN's two updates, or the model's loss) on
    shuffled full batches, a sample grid after each epoch, the quality number at the end."""
    model = cfg["model"]
    signed = RECIPES[model].signed
    train = _images(cfg["dataset"], True, cfg["limit"])
    test = _images(cfg["dataset"], False, cfg["limit"])
    cfg["model_kwargs"] = _model_kwargs(cfg)
    net = build_model(cfg)
    # --distributed: the steps call the models' loss methods, not forward, so the gradient
    # hooks of DistributedDataParallel alone average across ranks; one wrapper per network
    # that steps on its own (the step scales the VAE's summed loss by the world size)
    for part in (net.generator, net.discriminator) if model == "dcgan" else (net,):
        data_parallel(part)
    net.train()
    opts = Optimizers(model, net, cfg)
    plan = ShuffledBatches(
        lambda idx: from_host(train[idx] * 2 - 1 if signed else train[idx]),
        len(train),
        cfg["batch_size"],
        Generator().manual_seed(cfg["seed"]),
        drop_last=True,
    )
    return Job(
        _step_fn(model, net, opts, world_size()),
        plan,
        FitState(net, opts, None, History()),
        cfg["epochs"],
        callbacks=[SampleGrid(model, net, cfg, out, test)],
        summarize=lambda history: {
            "dataset": cfg["dataset"],
            "train_images": len(train),
            **_evaluate(model, net, cfg, test),
        },
    )


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


# -- the family -----------------------------------------------------------------------------
GENERATIVE = Family(
    name="generative models",
    models=tuple(RECIPES),
    options=(
        *IMAGE_OPTIONS,
        Option(
            "--variant",
            "network (default mlp)",
            choices=("mlp", "conv"),
            models=("autoencoder", "vae"),
        ),
        Option(
            "--schedule",
            "beta schedule (default linear)",
            choices=("linear", "cosine"),
            models=("ddpm",),
        ),
        Option(
            "--label-smoothing", "real target 1 - this (default 0)", fraction, models=("dcgan",)
        ),
        Option("--spectral-norm", "spectral-norm discriminator", flag_only=True, models=("dcgan",)),
        Option(
            "--fid-samples",
            "samples judged by FID at the end (default 1000; 0: no FID)",
            nonnegative_int,
            models=("dcgan", "ddpm"),
        ),
        Option(
            "--sample-steps",
            "DDIM steps of the grids and FID samples (default 50)",
            positive_int,
            models=("ddpm",),
        ),
    ),  # fmt: skip
    length="epochs",
    config=_config,
    build=_build,
    prepare=_prepare,
    description="a generative model with sample grids; reports FID, ELBO or MSE",
    default_out=lambda cfg: f"runs/{cfg['model']}-{cfg['dataset']}",
)
