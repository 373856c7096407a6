"""The reference workloads (docs/workloads.md), written once for any PyTorch-like module.

``model_zoo(torch)`` builds every model from its one definition in ``ember.models`` (see
``ember.models.neutral``) for the module it is given, so the ember and the PyTorch versions
are the same code: ``model_zoo(ember)`` and ``model_zoo(torch)``. Inputs are generated once
with NumPy and handed to both frameworks, so both see identical data. Builders return a
``Built``: parameter count, a ``step()`` callable that returns the loss as a Python float (or
the next token, or the host output), and notes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np

from ember.models import model_class
from ember.models.ddpm import ddpm_family

__all__ = [
    "TRAIN_WORKLOADS",
    "INFER_WORKLOADS",
    "ALL_WORKLOADS",
    "GEN_TOKENS",
    "CNN_INFER_BATCHES",
    "Framework",
    "Built",
    "model_zoo",
    "make_inputs",
    "build_train",
    "build_generate",
    "build_cnn_infer",
]

TRAIN_WORKLOADS = ("mlp", "cnn", "resnet", "lstm", "gpt", "dcgan", "vae", "ddpm")
INFER_WORKLOADS = ("gpt-generate", "cnn-infer")
ALL_WORKLOADS = TRAIN_WORKLOADS + INFER_WORKLOADS
GEN_TOKENS = 200  # gpt-generate: new tokens per generation
CNN_INFER_BATCHES = (1, 256)
TOPK = 10
SEED = 0


@dataclass
class Framework:
    """One framework under test: the ``torch``-like module plus the few calls that differ."""

    name: str
    mod: ModuleType
    device: str = "cpu"

    def tensor(self, array: np.ndarray) -> Any:
        """A framework tensor holding a copy of a NumPy array, on the benchmark device."""
        t = self.mod.from_numpy(np.ascontiguousarray(array).copy())
        return t if self.device == "cpu" else t.to(self.device)

    def seed(self) -> None:
        """Seed the framework's default generator so that initialisation is repeatable."""
        self.mod.manual_seed(SEED)

    def no_grad(self) -> contextlib.AbstractContextManager:
        """Inference context (PyTorch's inference_mode, ember's no_grad)."""
        return self.mod.inference_mode() if self.name == "torch" else self.mod.no_grad()


@dataclass
class Built:
    """A ready-to-time workload: ``step()`` does one full unit of work and returns host data."""

    params: int
    step: Callable[[], Any]
    notes: list[str] = field(default_factory=list)
    state: tuple = ()  # the models and optimizers the step updates (tests compare them)
    compiled: list = field(default_factory=list)  # what compile_fn returned (bench: compile_s)


def _nparams(*modules: Any) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


def model_zoo(torch: ModuleType) -> SimpleNamespace:
    """Constructors of every reference model: ``ember.models``' definitions built for ``torch``
    (ember or torch), each with the workload's configuration."""

    def build(name: str, **kwargs: Any) -> Callable[[], Any]:
        return lambda: model_class(name, torch)(**kwargs)

    return SimpleNamespace(
        mlp=build("mlp"),
        cnn=build("cnn"),
        resnet=build("resnet"),
        lstm=build("char_rnn"),
        gpt=build("gpt", gpt2_init=False),  # the workload's: the framework's default init
        dcgan=build("dcgan"),
        vae=build("vae"),
        ddpm=lambda: ddpm_family(torch).UNet(),  # the noise predictor; the step adds the noise
    )


def make_inputs(workload: str, batch: int | None = None) -> dict[str, np.ndarray]:
    """The fixed batch of a workload as NumPy arrays (identical for every framework).

    ``batch`` overrides the specified batch size (tests use small ones).
    """
    rng = np.random.default_rng(1234)
    b128, b64 = batch or 128, batch or 64

    def normal(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape, dtype=np.float32)

    def labels(high: int, *shape: int) -> np.ndarray:
        return rng.integers(0, high, shape, dtype=np.int64)

    if workload == "mlp":
        return {"x": normal(b128, 784), "y": labels(10, b128)}
    if workload in ("cnn", "resnet"):
        return {"x": normal(b128, 1, 28, 28), "y": labels(10, b128)}
    if workload == "lstm":
        return {"x": labels(65, batch or 32, 64), "y": labels(65, batch or 32, 64)}
    if workload == "gpt":
        return {"x": labels(65, batch or 12, 64), "y": labels(65, batch or 12, 64)}
    if workload == "vae":
        return {"x": rng.random((b128, 784), dtype=np.float32)}
    if workload == "ddpm":
        betas = np.linspace(1e-4, 0.02, 1000, dtype=np.float32)
        return {
            "x0": normal(b64, 1, 28, 28),
            "t": labels(1000, b64),
            "noise": normal(b64, 1, 28, 28),
            "abar": np.cumprod(1 - betas).astype(np.float32),  # the linear schedule's ᾱ_t
        }
    if workload == "dcgan":
        return {
            "real": np.tanh(normal(b64, 1, 28, 28)),
            "z": normal(b64, 100),
        }
    raise KeyError(workload)


def _simple_train(
    fw: Framework,
    model: Any,
    opt: Any,
    loss_of: Callable[..., Any],
    inputs: tuple,
    compile_fn: Callable,
    clip: float | None = None,
) -> Callable[[], float]:
    """One training step (forward, backward, clipping, update) compiled whole by ``compile_fn``."""
    params = list(model.parameters())
    clip_grad_norm_ = fw.mod.nn.utils.clip_grad_norm_ if clip is not None else None

    def train_step(*batch: Any) -> Any:
        opt.zero_grad(set_to_none=True)
        loss = loss_of(model, *batch)
        loss.backward()
        if clip_grad_norm_ is not None:
            clip_grad_norm_(params, clip)
        opt.step()
        return loss

    compiled = compile_fn(train_step)
    return lambda: compiled(*inputs).item()


def _on_device(fw: Framework, *modules: Any) -> None:
    if fw.device != "cpu":
        for m in modules:
            m.to(fw.device)


def build_train(
    fw: Framework,
    workload: str,
    compile_fn: Callable = lambda f: f,
    zoo: Any = None,
    batch: int | None = None,
) -> Built:
    """Model, optimizer and one-step closure of a training workload (seeded, fixed batch)."""
    torch, zoo = fw.mod, zoo or model_zoo(fw.mod)
    F, optim = torch.nn.functional, torch.optim
    data = {k: fw.tensor(v) for k, v in make_inputs(workload, batch).items()}
    fw.seed()
    if workload in ("mlp", "cnn", "resnet"):
        model = getattr(zoo, workload)()
        model.train()
        _on_device(fw, model)
        if workload == "resnet":
            opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
        else:
            opt = optim.Adam(model.parameters(), lr=1e-3)
        step = _simple_train(
            fw,
            model,
            opt,
            lambda m, x, y: F.cross_entropy(m(x), y),
            (data["x"], data["y"]),
            compile_fn,
        )
        return Built(_nparams(model), step, state=(model, opt))
    if workload in ("lstm", "gpt"):
        model = getattr(zoo, workload)()
        model.train()
        _on_device(fw, model)
        if workload == "lstm":
            opt = optim.Adam(model.parameters(), lr=2e-3)
        else:
            opt = optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1, betas=(0.9, 0.99))

        step = _simple_train(
            fw,
            model,
            opt,
            lambda m, x, y: m(x, y)[1],  # the mean cross-entropy over all positions
            (data["x"], data["y"]),
            compile_fn,
            clip=1.0 if workload == "lstm" else None,
        )
        return Built(_nparams(model), step, state=(model, opt))
    if workload == "vae":
        model = zoo.vae()
        model.train()
        _on_device(fw, model)
        opt = optim.Adam(model.parameters(), lr=1e-3)
        step = _simple_train(fw, model, opt, lambda m, x: m.loss(x), (data["x"],), compile_fn)
        return Built(_nparams(model), step, state=(model, opt))
    if workload == "ddpm":
        model = zoo.ddpm()
        model.train()
        _on_device(fw, model)
        abar = data["abar"]

        def ddpm_loss(m: Any, x0: Any, t: Any, noise: Any) -> Any:
            a = abar[t][:, None, None, None]
            xt = a.sqrt() * x0 + (1 - a).sqrt() * noise  # forward diffusion q(x_t | x_0)
            return F.mse_loss(m(xt, t), noise)

        opt = optim.Adam(model.parameters(), lr=2e-4)
        step = _simple_train(
            fw, model, opt, ddpm_loss, (data["x0"], data["t"], data["noise"]), compile_fn
        )
        return Built(_nparams(model), step, state=(model, opt))
    if workload == "dcgan":
        return _build_dcgan(fw, zoo, data, compile_fn)
    raise KeyError(workload)


def _build_dcgan(fw: Framework, zoo: Any, data: dict[str, Any], compile_fn: Callable) -> Built:
    """One discriminator step then one generator step (the model's BCE-with-logits losses),
    Adam (0.5, 0.999)."""
    optim, gan = fw.mod.optim, zoo.dcgan()
    gen, disc = gan.generator, gan.discriminator
    gen.train()
    disc.train()
    _on_device(fw, gen, disc)
    opt_g = optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real, z = data["real"], data["z"]

    def train_step() -> tuple[Any, Any]:
        fake = gen(z)
        opt_d.zero_grad(set_to_none=True)
        loss_d = gan.discriminator_loss(real, fake)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        loss_g = gan.generator_loss(fake)
        loss_g.backward()
        opt_g.step()
        return loss_d, loss_g

    compiled = compile_fn(train_step)

    def step() -> tuple[float, float]:
        loss_d, loss_g = compiled()
        return loss_d.item(), loss_g.item()

    return Built(_nparams(gen, disc), step, state=(gen, disc, opt_g, opt_d))


def build_generate(fw: Framework, compile_fn: Callable = lambda f: f, zoo: Any = None) -> Built:
    """gpt-generate: ``step()`` samples the next token (top-k 10, temperature 1) with the
    model's KV cache.

    Each step is one ``GPT.decode_step`` (compiled by ``compile_fn``): the last token goes in
    at the cache's position, over fixed-size key/value buffers (``StaticKVCache``), so the step
    has one shape and both frameworks run the same algorithm. When the cache is full
    (``block_size`` tokens) the sequence starts again from token 0.
    """
    torch, zoo = fw.mod, zoo or model_zoo(fw.mod)
    F = torch.nn.functional
    fw.seed()
    model = zoo.gpt()
    model.eval()
    _on_device(fw, model)
    gen = torch.Generator(device=fw.device).manual_seed(7)  # torch samples on its device
    decode = compile_fn(model.decode_step)
    cache = model.new_static_cache(1)
    block = model.config.block_size
    seq = [0]

    def step() -> int:
        if len(seq) > block:  # the cache is full: a new sequence
            seq[:] = [0]
            cache[0].pos.zero_()
        with fw.no_grad():
            token = fw.tensor(np.array([[seq[-1]]], dtype=np.int64))
            logits = decode(token, cache)[0]
            v, ix = torch.topk(logits, TOPK)
            p = F.softmax(v / 1.0, dim=-1)
            token = int(ix[torch.multinomial(p, 1, generator=gen)].item())
        seq.append(token)
        return token

    return Built(_nparams(model), step, ["KV cache: one token per step over a static cache"])


def build_cnn_infer(
    fw: Framework, batch: int, compile_fn: Callable = lambda f: f, zoo: Any = None
) -> Built:
    """cnn-infer: ``step()`` runs the cnn model (compiled by ``compile_fn``) in eval mode on a
    fixed batch, output to host."""
    zoo = zoo or model_zoo(fw.mod)
    fw.seed()
    model = zoo.cnn()
    model.eval()
    _on_device(fw, model)
    forward = compile_fn(model)
    x = fw.tensor(np.random.default_rng(1234).standard_normal((batch, 1, 28, 28), np.float32))

    def step() -> np.ndarray:
        with fw.no_grad():
            return forward(x).cpu().numpy()

    return Built(_nparams(model), step, state=(model,))
