"""The reference workloads (shared/bench/WORKLOADS.md), written once for any PyTorch-like module.

``model_zoo(torch)`` defines every model against the PyTorch API of the module it is given, so
the ember and the PyTorch versions are the same code: ``model_zoo(ember)`` and
``model_zoo(torch)``. Inputs are generated once with NumPy and handed to both frameworks, so
both see identical data. Builders return a ``Built``: parameter count, a ``step()`` callable
that returns the loss as a Python float (or the next token, or the host output), and notes.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np

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
    """Every reference model, written against the PyTorch API of ``torch`` (ember or torch)."""
    nn = torch.nn
    F = torch.nn.functional
    notes: list[str] = []
    sdpa = getattr(F, "scaled_dot_product_attention", None)
    if sdpa is None:
        notes.append("explicit causal attention (no F.scaled_dot_product_attention)")

    def causal_attention(q: Any, k: Any, v: Any) -> Any:
        if sdpa is not None:
            return sdpa(q, k, v, is_causal=True)
        t = q.shape[-2]
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
        future = torch.ones(t, t, dtype=torch.bool, device=q.device).triu(1)
        return F.softmax(att.masked_fill(future, float("-inf")), dim=-1) @ v

    def mlp() -> Any:
        return nn.Sequential(
            nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)
        )

    def cnn() -> Any:
        return nn.Sequential(
            nn.Conv2d(1, 32, 3),
            nn.ReLU(),
            nn.Conv2d(32, 64, 3),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Dropout(0.25),
            nn.Flatten(),
            nn.Linear(9216, 128),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(128, 10),
        )

    class BasicBlock(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.b1 = nn.BatchNorm2d(cout)
            self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.b2 = nn.BatchNorm2d(cout)
            self.short = None
            if stride != 1 or cin != cout:
                self.short = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x: Any) -> Any:
            h = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
            return F.relu(h + (x if self.short is None else self.short(x)))

    class ResNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(
                nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU()
            )
            self.l1 = BasicBlock(16, 16, 1)
            self.l2 = BasicBlock(16, 32, 2)
            self.l3 = BasicBlock(32, 64, 2)
            self.fc = nn.Linear(64, 10)

        def forward(self, x: Any) -> Any:
            h = self.l3(self.l2(self.l1(self.stem(x))))  # [B, 64, 7, 7]
            return self.fc(h.mean((2, 3)))

    class CharLSTM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(65, 128)
            self.lstm = nn.LSTM(128, 256, num_layers=2, batch_first=True)
            self.head = nn.Linear(256, 65)

        def forward(self, tok: Any) -> Any:
            h, _ = self.lstm(self.emb(tok))  # zero initial state every step
            return self.head(h)

    class Block(nn.Module):
        def __init__(self, c: int = 128, heads: int = 4) -> None:
            super().__init__()
            self.heads = heads
            self.ln1, self.ln2 = nn.LayerNorm(c), nn.LayerNorm(c)
            self.attn, self.proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
            self.fc, self.fc2 = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)

        def forward(self, x: Any) -> Any:
            b, t, c = x.shape
            q, k, v = self.attn(self.ln1(x)).split(c, dim=2)
            q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
            y = causal_attention(q, k, v)  # [B, H, T, C/H]
            x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))
            return x + self.fc2(F.gelu(self.fc(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self, vocab: int = 65, block: int = 64, c: int = 128, layers: int = 4) -> None:
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocab, c), nn.Embedding(block, c)
            self.blocks = nn.ModuleList([Block(c) for _ in range(layers)])
            self.lnf = nn.LayerNorm(c)

        def forward(self, tok: Any) -> Any:
            x = self.wte(tok) + self.wpe(torch.arange(tok.shape[1], device=tok.device))
            for blk in self.blocks:
                x = blk(x)
            return self.lnf(x) @ self.wte.weight.t()  # tied output embedding, no bias

    def generator() -> Any:
        return nn.Sequential(
            nn.Linear(100, 128 * 7 * 7),
            nn.BatchNorm1d(128 * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (128, 7, 7)),
            nn.ConvTranspose2d(128, 64, 4, 2, 1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.ConvTranspose2d(64, 1, 4, 2, 1),
            nn.Tanh(),
        )

    def discriminator() -> Any:
        return nn.Sequential(
            nn.Conv2d(1, 64, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(64, 128, 4, 2, 1),
            nn.BatchNorm2d(128),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(6272, 1),
        )

    class VAE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1, self.mu, self.lv = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
            self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

        def forward(self, x: Any) -> tuple[Any, Any, Any]:
            h = F.relu(self.fc1(x))
            mu, logvar = self.mu(h), self.lv(h)
            z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)  # reparameterisation
            return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar

    class ResBlock(nn.Module):
        def __init__(self, cin: int, cout: int) -> None:
            super().__init__()
            self.n1, self.c1 = nn.GroupNorm(8, cin), nn.Conv2d(cin, cout, 3, padding=1)
            self.t = nn.Linear(128, cout)
            self.n2, self.c2 = nn.GroupNorm(8, cout), nn.Conv2d(cout, cout, 3, padding=1)
            self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

        def forward(self, x: Any, temb: Any) -> Any:
            h = self.c1(F.silu(self.n1(x))) + self.t(temb)[:, :, None, None]
            h = self.c2(F.silu(self.n2(h)))
            return h + (x if self.skip is None else self.skip(x))

    class UNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.t1, self.t2 = nn.Linear(128, 128), nn.Linear(128, 128)
            self.cin = nn.Conv2d(1, 32, 3, padding=1)
            self.rd1, self.dn1 = ResBlock(32, 32), nn.Conv2d(32, 64, 3, 2, 1)
            self.rd2, self.dn2 = ResBlock(64, 64), nn.Conv2d(64, 64, 3, 2, 1)
            self.mid = ResBlock(64, 64)
            self.up1, self.ru1 = nn.ConvTranspose2d(64, 64, 4, 2, 1), ResBlock(128, 64)
            self.up2, self.ru2 = nn.ConvTranspose2d(64, 32, 4, 2, 1), ResBlock(64, 32)
            self.nout, self.cout = nn.GroupNorm(8, 32), nn.Conv2d(32, 1, 3, padding=1)

        @staticmethod
        def sinusoidal(t: Any, dim: int = 128) -> Any:
            half = dim // 2
            idx = torch.arange(half, dtype=torch.float32, device=t.device)
            a = t.float()[:, None] * torch.exp(-math.log(10000.0) * idx / half)[None]
            return torch.cat([torch.sin(a), torch.cos(a)], dim=1)

        def forward(self, x: Any, t: Any) -> Any:
            temb = self.t2(F.silu(self.t1(self.sinusoidal(t))))
            h = self.cin(x)
            s1 = self.rd1(h, temb)  # [B, 32, 28, 28]
            s2 = self.rd2(self.dn1(s1), temb)  # [B, 64, 14, 14]
            h = self.mid(self.dn2(s2), temb)  # [B, 64, 7, 7]
            h = self.ru1(torch.cat([self.up1(h), s2], 1), temb)
            h = self.ru2(torch.cat([self.up2(h), s1], 1), temb)
            return self.cout(F.silu(self.nout(h)))

    return SimpleNamespace(
        mlp=mlp,
        cnn=cnn,
        resnet=ResNet,
        lstm=CharLSTM,
        gpt=GPT,
        generator=generator,
        discriminator=discriminator,
        vae=VAE,
        ddpm=UNet,
        notes=notes,
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
            "ones": np.ones((b64, 1), np.float32),
            "zeros": np.zeros((b64, 1), np.float32),
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
        return Built(_nparams(model), step, list(zoo.notes), (model, opt))
    if workload in ("lstm", "gpt"):
        model = getattr(zoo, workload)()
        model.train()
        _on_device(fw, model)
        if workload == "lstm":
            opt = optim.Adam(model.parameters(), lr=2e-3)
        else:
            opt = optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1, betas=(0.9, 0.99))

        def token_loss(m: Any, x: Any, y: Any) -> Any:
            return F.cross_entropy(m(x).reshape(-1, 65), y.reshape(-1))

        step = _simple_train(
            fw,
            model,
            opt,
            token_loss,
            (data["x"], data["y"]),
            compile_fn,
            clip=1.0 if workload == "lstm" else None,
        )
        return Built(_nparams(model), step, list(zoo.notes), (model, opt))
    if workload == "vae":
        model = zoo.vae()
        model.train()
        _on_device(fw, model)
        notes = list(zoo.notes)
        bce = getattr(F, "binary_cross_entropy", None)
        if bce is None:
            notes.append("BCE written out (no F.binary_cross_entropy)")

            def bce(r: Any, x: Any, reduction: str = "sum") -> Any:
                # PyTorch clamps each log term at -100; do the same.
                logs = torch.clamp(torch.log(r), min=-100), torch.clamp(torch.log(1 - r), min=-100)
                return -(x * logs[0] + (1 - x) * logs[1]).sum()

        def vae_loss(m: Any, x: Any) -> Any:
            r, mu, lv = m(x)
            kld = -0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())
            return bce(r, x, reduction="sum") + kld

        opt = optim.Adam(model.parameters(), lr=1e-3)
        return Built(
            _nparams(model),
            _simple_train(fw, model, opt, vae_loss, (data["x"],), compile_fn),
            notes,
            (model, opt),
        )
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
        return Built(_nparams(model), step, list(zoo.notes), (model, opt))
    if workload == "dcgan":
        return _build_dcgan(fw, zoo, data, compile_fn)
    raise KeyError(workload)


def _build_dcgan(fw: Framework, zoo: Any, data: dict[str, Any], compile_fn: Callable) -> Built:
    """One discriminator step then one generator step, BCE-with-logits, Adam (0.5, 0.999)."""
    optim, bce = fw.mod.optim, fw.mod.nn.functional.binary_cross_entropy_with_logits
    gen, disc = zoo.generator(), zoo.discriminator()
    gen.train()
    disc.train()
    _on_device(fw, gen, disc)
    opt_g = optim.Adam(gen.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real, z, ones, zeros = data["real"], data["z"], data["ones"], data["zeros"]

    def train_step() -> tuple[Any, Any]:
        fake = gen(z)
        opt_d.zero_grad(set_to_none=True)
        loss_d = bce(disc(real), ones) + bce(disc(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad(set_to_none=True)
        loss_g = bce(disc(fake), ones)
        loss_g.backward()
        opt_g.step()
        return loss_d, loss_g

    compiled = compile_fn(train_step)

    def step() -> tuple[float, float]:
        loss_d, loss_g = compiled()
        return loss_d.item(), loss_g.item()

    return Built(_nparams(gen, disc), step, list(zoo.notes), (gen, disc, opt_g, opt_d))


def build_generate(fw: Framework, compile_fn: Callable = lambda f: f, zoo: Any = None) -> Built:
    """gpt-generate: ``step()`` samples the next token (top-k 10, temperature 1, no KV cache).

    Every token is a full forward pass (compiled by ``compile_fn``) over a zero-padded [1, 64]
    window of the last ≤ 64 tokens; causal attention makes the logits at position L-1 exact.
    The window's shape never changes, so a compiled forward is traced once.
    """
    torch, zoo = fw.mod, zoo or model_zoo(fw.mod)
    F = torch.nn.functional
    fw.seed()
    model = zoo.gpt()
    model.eval()
    _on_device(fw, model)
    gen = torch.Generator(device=fw.device).manual_seed(7)  # torch samples on its device
    forward = compile_fn(model)
    seq = [0]
    window = np.zeros((1, 64), dtype=np.int64)

    def step() -> int:
        ctx = seq[-64:]
        window[0, : len(ctx)] = ctx
        with fw.no_grad():
            logits = forward(fw.tensor(window))[0, len(ctx) - 1]
            v, ix = torch.topk(logits, TOPK)
            p = F.softmax(v / 1.0, dim=-1)
            token = int(ix[torch.multinomial(p, 1, generator=gen)].item())
        seq.append(token)
        return token

    return Built(_nparams(model), step, list(zoo.notes) + ["no KV cache"])


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

    return Built(_nparams(model), step, list(zoo.notes), (model,))
