"""DCGAN (Radford et al., 2016) for 28x28 images: the ``dcgan`` reference workload, exactly.

G: z[100] → Linear(100, 128·7·7) → BN1d → ReLU → [128, 7, 7] → ConvT(128→64, 4, 2, 1) → BN →
ReLU → ConvT(64→1, 4, 2, 1) → Tanh, images in [-1, 1].
D: Conv(1→64, 4, 2, 1) → LeakyReLU(0.2) → Conv(64→128, 4, 2, 1) → BN → LeakyReLU(0.2) →
Flatten → Linear(6272, 1), a logit (train it with BCE-with-logits, never a Sigmoid + BCE).

Stability aids: one-sided label smoothing (real targets ``1 - label_smoothing``),
``spectral_norm=True`` (every D weight divided by its top singular value; D's BatchNorm is then
dropped, as in Miyato et al.) and the WGAN-GP ``gradient_penalty``. PyTorch's default
initialisation, as the workload specifies. Written once for any framework
(``dcgan_family(torch)``, see ``ember.models.neutral``); ``DCGAN`` and ``gradient_penalty``
are ember's.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

import ember
from ember.models.neutral import family, publish

__all__ = ["dcgan", "DCGANConfig", "DCGAN", "gradient_penalty", "dcgan_family"]


@dataclass
class DCGANConfig:
    latent_dim: int = 100
    channels: int = 1  # image channels
    width: int = 64  # channels after G's first upsampling and D's first conv (doubled inside)
    spectral_norm: bool = False  # spectral-normalise D (and drop its BatchNorm)
    label_smoothing: float = 0.0  # one-sided: D's target for real images is 1 - this


@family
def dcgan_family(torch: ModuleType) -> SimpleNamespace:
    """``generator``, ``discriminator``, ``DCGAN`` and ``gradient_penalty`` for the framework
    ``torch`` (ember or torch)."""
    nn, F = torch.nn, torch.nn.functional

    def generator(c: DCGANConfig) -> Any:
        """z [B, latent] → image [B, channels, 28, 28] in [-1, 1]."""
        w2 = 2 * c.width
        return nn.Sequential(
            nn.Linear(c.latent_dim, w2 * 7 * 7),
            nn.BatchNorm1d(w2 * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (w2, 7, 7)),  # [B, 128, 7, 7]
            nn.ConvTranspose2d(w2, c.width, 4, 2, 1),  # [B, 64, 14, 14]
            nn.BatchNorm2d(c.width),
            nn.ReLU(),
            nn.ConvTranspose2d(c.width, c.channels, 4, 2, 1),  # [B, 1, 28, 28]
            nn.Tanh(),
        )

    def discriminator(c: DCGANConfig) -> Any:
        """image [B, channels, 28, 28] → logit [B, 1]."""
        sn = nn.utils.spectral_norm if c.spectral_norm else (lambda m: m)
        w2 = 2 * c.width
        return nn.Sequential(
            sn(nn.Conv2d(c.channels, c.width, 4, 2, 1)),  # [B, 64, 14, 14]
            nn.LeakyReLU(0.2),
            sn(nn.Conv2d(c.width, w2, 4, 2, 1)),  # [B, 128, 7, 7]
            nn.Identity() if c.spectral_norm else nn.BatchNorm2d(w2),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            sn(nn.Linear(w2 * 7 * 7, 1)),
        )

    class DCGAN(nn.Module):
        """A generator and a discriminator, with the standard non-saturating GAN losses."""

        def __init__(self, config: DCGANConfig | None = None) -> None:
            super().__init__()
            self.config = c = config or DCGANConfig()
            if not 0.0 <= c.label_smoothing < 1.0:
                raise ValueError(
                    f"DCGAN: label_smoothing must be in [0, 1): {c.label_smoothing} vs [0, 1)"
                )
            self.generator = generator(c)
            self.discriminator = discriminator(c)

        def forward(self, z: Any) -> Any:
            return self.generator(z)

        def sample_latent(self, n: int, generator: Any = None) -> Any:
            return torch.randn(n, self.config.latent_dim, generator=generator)

        def sample(self, n: int, generator: Any = None) -> Any:
            """``n`` images in [-1, 1] from fresh latents (eval mode: BN running statistics)."""
            return self.generator(self.sample_latent(n, generator))

        def discriminator_loss(self, real: Any, fake: Any) -> Any:
            """BCE-with-logits: real → 1 - label_smoothing, fake (detached) → 0."""
            d_real, d_fake = self.discriminator(real), self.discriminator(fake.detach())
            target = torch.full_like(d_real, 1.0 - self.config.label_smoothing)
            return F.binary_cross_entropy_with_logits(
                d_real, target
            ) + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))

        def generator_loss(self, fake: Any) -> Any:
            """The non-saturating loss: −log D(G(z)), i.e. BCE-with-logits against 1."""
            d_fake = self.discriminator(fake)
            return F.binary_cross_entropy_with_logits(d_fake, torch.full_like(d_fake, 1.0))

    def gradient_penalty(critic: Any, real: Any, fake: Any, generator: Any = None) -> Any:
        """WGAN-GP (Gulrajani et al., 2017): mean over the batch of (‖∇ₓ critic(x̂)‖₂ − 1)².

        x̂ = ε·real + (1 − ε)·fake with ε ~ U[0, 1) per sample. The gradient is taken with
        ``create_graph=True`` so that backward() of the penalty reaches the critic's parameters.
        """
        if real.shape != fake.shape:
            raise ValueError(
                f"gradient_penalty: real and fake must have the same shape: "
                f"{tuple(real.shape)} vs {tuple(fake.shape)}"
            )
        eps = torch.rand(
            real.shape[0], *([1] * (real.ndim - 1)), generator=generator, dtype=real.dtype
        )
        mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
        (g,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
        norms = (g.reshape(g.shape[0], -1).pow(2).sum(1) + 1e-12).sqrt()
        return (norms - 1).pow(2).mean()

    return SimpleNamespace(
        generator=generator,
        discriminator=discriminator,
        DCGAN=DCGAN,
        gradient_penalty=gradient_penalty,
    )


_dcgan = dcgan_family(ember)
(DCGAN,) = publish(__name__, _dcgan.DCGAN)
gradient_penalty = _dcgan.gradient_penalty


def dcgan(**overrides: Any) -> DCGAN:
    """A DCGAN with the default config changed by ``overrides``."""
    return DCGAN(DCGANConfig(**overrides))
