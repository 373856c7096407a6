"""Variational autoencoder (Kingma & Welling, 2014): the ``vae`` reference workload, plus conv.

mlp (the workload, exactly): enc Linear(784, 400) → ReLU → {Linear(400, 20) μ, Linear(400, 20)
log σ²}; z = μ + σ·ε; dec Linear(20, 400) → ReLU → Linear(400, 784) → Sigmoid. The layer names
(fc1, mu, lv, fc3, fc4) are the PyTorch peer's, so state dicts move across unchanged.
conv: the autoencoder's conv encoder to 400 features → ReLU → μ, log σ²; the conv decoder.

``loss`` is the workload's: BCE summed over pixels and batch + KL(q(z|x) ‖ N(0, I)), i.e. the
negative ELBO of the batch (divide by the batch size for nats per image). Written once for any
framework (``vae_family(torch)``, see ``ember.models.neutral``); ``VAE`` is ember's.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

import ember
from ember.models.autoencoder import _check_kind, autoencoder_family
from ember.models.neutral import family, publish

__all__ = ["vae", "VAEConfig", "VAE", "kl_divergence", "vae_family"]


@dataclass
class VAEConfig:
    kind: str = "mlp"  # "mlp" (the workload) or "conv"
    latent_dim: int = 20
    hidden: int = 400
    channels: int = 1
    image_size: int = 28


def kl_divergence(mu: Any, logvar: Any) -> Any:
    """KL(N(μ, σ²) ‖ N(0, 1)) summed over all elements: −½ Σ (1 + log σ² − μ² − σ²)."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum()


@family
def vae_family(torch: ModuleType) -> SimpleNamespace:
    """The ``VAE`` class for the framework ``torch`` (ember or torch)."""
    nn, F = torch.nn, torch.nn.functional
    conv = autoencoder_family(torch)

    class VAE(nn.Module):
        """Gaussian encoder q(z|x), Bernoulli decoder p(x|z), standard normal prior."""

        def __init__(self, config: VAEConfig | None = None) -> None:
            super().__init__()
            self.config = c = config or VAEConfig()
            _check_kind("VAE", c.kind, c.image_size)
            self.image_shape = (c.channels, c.image_size, c.image_size)
            pixels = c.channels * c.image_size * c.image_size
            if c.kind == "mlp":
                self.fc1 = nn.Linear(pixels, c.hidden)
            else:
                self.fc1 = conv.conv_encoder(c.channels, c.image_size, c.hidden)
            self.mu = nn.Linear(c.hidden, c.latent_dim)
            self.lv = nn.Linear(c.hidden, c.latent_dim)
            if c.kind == "mlp":
                self.fc3 = nn.Linear(c.latent_dim, c.hidden)
                self.fc4 = nn.Linear(c.hidden, pixels)
            else:
                self.fc3 = conv.conv_decoder(c.latent_dim, c.channels, c.image_size)

        def encode(self, x: Any) -> tuple[Any, Any]:
            """μ and log σ² of q(z|x), each [B, latent]; x is [B, 784] or [B, C, H, W]."""
            if self.config.kind == "mlp":
                x = x.reshape(x.shape[0], -1)
            elif x.ndim == 2:
                x = x.reshape(x.shape[0], *self.image_shape)
            h = self.fc1(x).relu()  # [B, hidden]
            return self.mu(h), self.lv(h)

        def decode(self, z: Any) -> Any:
            """Bernoulli means [B, C, H, W] in (0, 1)."""
            if self.config.kind == "mlp":
                out = self.fc4(self.fc3(z).relu()).sigmoid()
                return out.reshape(z.shape[0], *self.image_shape)
            return self.fc3(z)

        @staticmethod
        def reparameterize(mu: Any, logvar: Any, generator: Any = None) -> Any:
            """z = μ + σ·ε with ε ~ N(0, I) from ``generator`` (differentiable in μ, log σ²)."""
            eps = torch.randn(*mu.shape, generator=generator, dtype=mu.dtype, device=mu.device)
            return mu + eps * (0.5 * logvar).exp()

        def forward(self, x: Any, generator: Any = None) -> tuple[Any, Any, Any]:
            """(reconstruction shaped like ``x``, μ, log σ²)."""
            mu, logvar = self.encode(x)
            recon = self.decode(self.reparameterize(mu, logvar, generator))
            return recon.reshape(*x.shape), mu, logvar

        def loss(self, x: Any, generator: Any = None) -> Any:
            """Negative ELBO of the batch: BCE(sum) + KL (the ``vae`` workload's loss)."""
            recon, mu, logvar = self(x, generator)
            return F.binary_cross_entropy(recon, x, reduction="sum") + kl_divergence(mu, logvar)

        def sample(self, n: int, generator: Any = None) -> Any:
            """``n`` decoded draws from the prior: Bernoulli means [n, C, H, W]."""
            return self.decode(torch.randn(n, self.config.latent_dim, generator=generator))

    return SimpleNamespace(VAE=VAE)


(VAE,) = publish(__name__, vae_family(ember).VAE)


def vae(**overrides: Any) -> VAE:
    """A VAE with the default config changed by ``overrides``."""
    return VAE(VAEConfig(**overrides))
