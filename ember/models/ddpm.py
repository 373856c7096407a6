"""Denoising diffusion (Ho et al., 2020) with the ``ddpm`` workload's U-Net, exactly.

U-Net on 28x28 (layer names are the PyTorch peer's): Conv(1→32, 3, p1); down [ResBlock(32),
Conv(32→64, 3, s2, p1)], [ResBlock(64), Conv(64→64, 3, s2, p1)]; mid ResBlock(64); up
[ConvT(64→64, 4, 2, 1), concat skip, ResBlock(128→64)], [ConvT(64→32, 4, 2, 1), concat skip,
ResBlock(64→32)]; GroupNorm(8) → SiLU → Conv(32→1, 3, p1). ResBlock(cin→cout): GN → SiLU →
Conv3x3, plus Linear(time 128 → cout); GN → SiLU → Conv3x3; 1x1 shortcut when cin ≠ cout.
Time: sinusoidal(128) → Linear → SiLU → Linear.

``DDPM`` wraps it with a beta schedule (linear 1e-4..0.02, the workload's, or the cosine one of
Nichol & Dhariwal, 2021), the noise-prediction MSE loss, ancestral sampling (T steps) and
DDIM sampling (Song et al., 2021) on a shorter, evenly spaced subsequence of timesteps. Images
live in [-1, 1]. The schedule is kept in float64 on the host; per-step coefficients become
tensors of the images' dtype.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np

import ember
from ember.models.neutral import family, publish

__all__ = [
    "ddpm",
    "DDPMConfig",
    "DDPM",
    "UNet",
    "ResBlock",
    "beta_schedule",
    "sinusoidal",
    "ddpm_family",
]

SCHEDULES = ("linear", "cosine")


@dataclass
class DDPMConfig:
    timesteps: int = 1000
    schedule: str = "linear"  # "linear" or "cosine"
    beta_start: float = 1e-4  # linear schedule only
    beta_end: float = 0.02
    channels: int = 1
    width: int = 32  # U-Net channels at full resolution (doubled after the first downsample)
    time_dim: int = 128
    groups: int = 8
    clip_denoised: bool = True  # clamp the predicted x0 to [-1, 1] while sampling


def beta_schedule(name: str, timesteps: int, start: float = 1e-4, end: float = 0.02) -> np.ndarray:
    """β_1..β_T (float64): ``linear`` from start to end, or ``cosine`` (ᾱ ∝ cos², β ≤ 0.999)."""
    if name == "linear":
        return np.linspace(start, end, timesteps, dtype=np.float64)
    if name == "cosine":
        s = 0.008
        f = np.cos((np.arange(timesteps + 1) / timesteps + s) / (1 + s) * math.pi / 2) ** 2
        return np.clip(1 - f[1:] / f[:-1], 0.0, 0.999)
    raise ValueError(f"DDPM: unknown beta schedule {name!r}: expected one of {SCHEDULES}")


@family
def ddpm_family(torch: ModuleType) -> SimpleNamespace:
    """``sinusoidal``, ``ResBlock``, ``UNet`` and ``DDPM`` for the framework ``torch``."""
    nn, F = torch.nn, torch.nn.functional

    def sinusoidal(t: Any, dim: int) -> Any:
        """Transformer-style timestep embedding [B, dim]: sin and cos of t·10000^(−i/half)."""
        half = dim // 2
        i = torch.arange(half, dtype=torch.float32, device=t.device)
        freqs = (i * (-math.log(10000.0) / half)).exp()
        a = t.float().reshape(-1, 1) * freqs.reshape(1, -1)
        return torch.cat([a.sin(), a.cos()], dim=1)

    class ResBlock(nn.Module):
        """Two GN-SiLU-conv layers with the time embedding added in between, and a shortcut."""

        def __init__(self, cin: int, cout: int, time_dim: int = 128, groups: int = 8) -> None:
            super().__init__()
            self.n1, self.c1 = nn.GroupNorm(groups, cin), nn.Conv2d(cin, cout, 3, padding=1)
            self.t = nn.Linear(time_dim, cout)
            self.n2, self.c2 = nn.GroupNorm(groups, cout), nn.Conv2d(cout, cout, 3, padding=1)
            self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

        def forward(self, x: Any, temb: Any) -> Any:
            h = self.c1(F.silu(self.n1(x))) + self.t(temb).reshape(temb.shape[0], -1, 1, 1)
            h = self.c2(F.silu(self.n2(h)))
            return h + (x if self.skip is None else self.skip(x))

    class UNet(nn.Module):
        """ε_θ(x_t, t): predicts the noise in x_t, same shape as x_t ([B, C, 28, 28])."""

        def __init__(self, config: DDPMConfig | None = None) -> None:
            super().__init__()
            self.config = c = config or DDPMConfig()
            w, w2, td, g = c.width, 2 * c.width, c.time_dim, c.groups
            self.t1, self.t2 = nn.Linear(td, td), nn.Linear(td, td)
            self.cin = nn.Conv2d(c.channels, w, 3, padding=1)
            self.rd1, self.dn1 = ResBlock(w, w, td, g), nn.Conv2d(w, w2, 3, 2, 1)
            self.rd2, self.dn2 = ResBlock(w2, w2, td, g), nn.Conv2d(w2, w2, 3, 2, 1)
            self.mid = ResBlock(w2, w2, td, g)
            self.up1, self.ru1 = nn.ConvTranspose2d(w2, w2, 4, 2, 1), ResBlock(2 * w2, w2, td, g)
            self.up2, self.ru2 = nn.ConvTranspose2d(w2, w, 4, 2, 1), ResBlock(2 * w, w, td, g)
            self.nout, self.cout = nn.GroupNorm(g, w), nn.Conv2d(w, c.channels, 3, padding=1)

        def forward(self, x: Any, t: Any) -> Any:
            temb = self.t2(F.silu(self.t1(sinusoidal(t, self.config.time_dim))))  # [B, 128]
            h = self.cin(x)  # [B, 32, 28, 28]
            s1 = self.rd1(h, temb)  # [B, 32, 28, 28]
            s2 = self.rd2(self.dn1(s1), temb)  # [B, 64, 14, 14]
            h = self.mid(self.dn2(s2), temb)  # [B, 64, 7, 7]
            h = self.ru1(torch.cat([self.up1(h), s2], dim=1), temb)  # [B, 64, 14, 14]
            h = self.ru2(torch.cat([self.up2(h), s1], dim=1), temb)  # [B, 32, 28, 28]
            return self.cout(F.silu(self.nout(h)))

    class DDPM(nn.Module):
        """The U-Net plus the diffusion process: loss, ancestral and DDIM sampling."""

        def __init__(self, config: DDPMConfig | None = None) -> None:
            super().__init__()
            self.config = c = config or DDPMConfig()
            self.model = UNet(c)
            self.betas = beta_schedule(c.schedule, c.timesteps, c.beta_start, c.beta_end)
            self.alphas_cumprod = np.cumprod(1.0 - self.betas)
            # q_sample's per-image coefficients, gathered by tensor indexing so that ember.jit
            # traces the lookup (not persistent: they follow from the config)
            for name, values in (
                ("sqrt_alphas_cumprod", np.sqrt(self.alphas_cumprod)),
                ("sqrt_one_minus_alphas_cumprod", np.sqrt(1.0 - self.alphas_cumprod)),
            ):
                self.register_buffer(name, torch.from_numpy(values), persistent=False)

        def forward(self, x: Any, t: Any) -> Any:
            return self.model(x, t)

        def q_sample(self, x0: Any, t: Any, noise: Any) -> Any:
            """x_t = √ᾱ_t·x0 + √(1 − ᾱ_t)·ε (the forward process in one jump)."""

            def coef(table: Any) -> Any:  # [B, 1, 1, 1] in x0's dtype
                return table[t].reshape(-1, 1, 1, 1).to(x0.dtype)

            return (
                coef(self.sqrt_alphas_cumprod) * x0
                + coef(self.sqrt_one_minus_alphas_cumprod) * noise
            )

        def loss(self, x0: Any, generator: Any = None) -> Any:
            """MSE between ε and ε_θ(x_t, t) at a uniformly drawn t per image."""
            n, T = x0.shape[0], self.config.timesteps
            t = torch.randint(0, T, (n,), generator=generator, device=x0.device)
            noise = self._noise(x0, generator)
            return F.mse_loss(self.model(self.q_sample(x0, t, noise), t), noise)

        def _predict_x0(self, x: Any, t: int) -> tuple[Any, Any]:
            """(x0 estimate, the noise consistent with it) from ε_θ(x_t, t)."""
            abar = self.alphas_cumprod[t]
            eps = self.model(x, torch.full((x.shape[0],), t, dtype=torch.int64, device=x.device))
            x0 = (x - math.sqrt(1 - abar) * eps) / math.sqrt(abar)
            if self.config.clip_denoised:
                x0 = x0.clamp(-1.0, 1.0)
                eps = (x - math.sqrt(abar) * x0) / math.sqrt(1 - abar)
            return x0, eps

        def _noise(self, x: Any, generator: Any) -> Any:
            return torch.randn(*x.shape, generator=generator, dtype=x.dtype, device=x.device)

        def sample(
            self,
            n: int,
            generator: Any = None,
            method: str = "ddpm",
            steps: int | None = None,
            eta: float = 0.0,
        ) -> Any:
            """``n`` images [n, C, 28, 28] in [-1, 1].

            ``method="ddpm"``: ancestral sampling through all T steps with the posterior
            variance β̃_t. ``method="ddim"``: ``steps`` (default 50) evenly spaced timesteps;
            ``eta=0`` is deterministic given x_T, ``eta=1`` matches the DDPM noise level.
            """
            if method not in ("ddpm", "ddim"):
                raise ValueError(
                    f"DDPM.sample: unknown method {method!r}: expected 'ddpm' or 'ddim'"
                )
            weight = next(self.parameters())
            x = torch.randn(
                n,
                self.config.channels,
                28,
                28,
                generator=generator,
                dtype=weight.dtype,
                device=weight.device,
            )
            with torch.no_grad():
                if method == "ddpm":
                    return self._ancestral(x, generator)
                return self._ddim(x, generator, steps or 50, eta)

        def _ancestral(self, x: Any, generator: Any) -> Any:
            abar, betas = self.alphas_cumprod, self.betas
            for t in range(self.config.timesteps - 1, -1, -1):
                x0, _ = self._predict_x0(x, t)
                abar_prev = abar[t - 1] if t > 0 else 1.0
                # posterior q(x_{t-1} | x_t, x0): mean = c0·x0 + ct·x_t, variance β̃_t
                c0 = math.sqrt(abar_prev) * betas[t] / (1 - abar[t])
                ct = math.sqrt(1 - betas[t]) * (1 - abar_prev) / (1 - abar[t])
                x = c0 * x0 + ct * x
                if t > 0:
                    var = betas[t] * (1 - abar_prev) / (1 - abar[t])
                    x = x + math.sqrt(var) * self._noise(x, generator)
            return x

        def _ddim(self, x: Any, generator: Any, steps: int, eta: float) -> Any:
            T = self.config.timesteps
            if not 1 <= steps <= T:
                raise ValueError(f"DDPM.sample: steps must be in [1, {T}]: {steps} vs [1, {T}]")
            ts = np.unique(np.round(np.linspace(0, T - 1, steps)).astype(np.int64))[::-1]
            for i, t in enumerate(ts):
                x0, eps = self._predict_x0(x, int(t))
                abar = self.alphas_cumprod[t]
                abar_prev = self.alphas_cumprod[ts[i + 1]] if i + 1 < len(ts) else 1.0
                sigma = eta * math.sqrt((1 - abar_prev) / (1 - abar) * (1 - abar / abar_prev))
                x = math.sqrt(abar_prev) * x0 + math.sqrt(max(1 - abar_prev - sigma**2, 0.0)) * eps
                if sigma > 0:
                    x = x + sigma * self._noise(x, generator)
            return x

    return SimpleNamespace(sinusoidal=sinusoidal, ResBlock=ResBlock, UNet=UNet, DDPM=DDPM)


_ddpm = ddpm_family(ember)
ResBlock, UNet, DDPM = publish(__name__, _ddpm.ResBlock, _ddpm.UNet, _ddpm.DDPM)
sinusoidal = _ddpm.sinusoidal


def ddpm(**overrides: Any) -> DDPM:
    """A DDPM with the default config changed by ``overrides``."""
    return DDPM(DDPMConfig(**overrides))
