"""Deterministic autoencoders for 28x28 images in [0, 1]: an MLP and a convolutional variant.

mlp:  [B, 784] → Linear(784, 512) → ReLU → Linear(512, 256) → ReLU → Linear(256, latent) and
      back the same way, Sigmoid output.
conv: Conv(1→32, 4, 2, 1) → ReLU → Conv(32→64, 4, 2, 1) → ReLU → Flatten → Linear(3136, latent);
      Linear(latent, 3136) → ReLU → [64, 7, 7] → ConvT(64→32, 4, 2, 1) → ReLU →
      ConvT(32→1, 4, 2, 1) → Sigmoid.
Images go in and come out as [B, 1, 28, 28]; the loss is the per-pixel MSE. Written once for
any framework (``autoencoder_family(torch)``, see ``ember.models.neutral``); ``Autoencoder``,
``conv_encoder`` and ``conv_decoder`` are ember's.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

import ember
from ember.models.neutral import family, publish

__all__ = [
    "autoencoder",
    "AutoencoderConfig",
    "Autoencoder",
    "conv_encoder",
    "conv_decoder",
    "autoencoder_family",
]

KINDS = ("mlp", "conv")


@dataclass
class AutoencoderConfig:
    kind: str = "mlp"  # "mlp" or "conv"
    latent_dim: int = 32
    channels: int = 1
    image_size: int = 28  # must be a multiple of 4 for "conv"


def _check_kind(model: str, kind: str, image_size: int) -> None:
    if kind not in KINDS:
        raise ValueError(f"{model}: unknown kind {kind!r}: expected one of {KINDS}")
    if kind == "conv" and image_size % 4:
        raise ValueError(f"{model}: conv needs image_size divisible by 4: {image_size} vs 4·k")


@family
def autoencoder_family(torch: ModuleType) -> SimpleNamespace:
    """``conv_encoder``, ``conv_decoder`` and ``Autoencoder`` for the framework ``torch``."""
    nn, F = torch.nn, torch.nn.functional

    def conv_encoder(channels: int, image_size: int, out_features: int) -> Any:
        """[B, C, S, S] → [B, out_features] with two stride-2 convolutions."""
        s = image_size // 4
        return nn.Sequential(
            nn.Conv2d(channels, 32, 4, 2, 1),  # [B, 32, S/2, S/2]
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, 2, 1),  # [B, 64, S/4, S/4]
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(64 * s * s, out_features),
        )

    def conv_decoder(in_features: int, channels: int, image_size: int) -> Any:
        """[B, in_features] → [B, C, S, S] in [0, 1], mirroring ``conv_encoder``."""
        s = image_size // 4
        return nn.Sequential(
            nn.Linear(in_features, 64 * s * s),
            nn.ReLU(),
            nn.Unflatten(1, (64, s, s)),
            nn.ConvTranspose2d(64, 32, 4, 2, 1),  # [B, 32, S/2, S/2]
            nn.ReLU(),
            nn.ConvTranspose2d(32, channels, 4, 2, 1),  # [B, C, S, S]
            nn.Sigmoid(),
        )

    class Autoencoder(nn.Module):
        """x → latent code → reconstruction, trained with MSE."""

        def __init__(self, config: AutoencoderConfig | None = None) -> None:
            super().__init__()
            self.config = c = config or AutoencoderConfig()
            _check_kind("Autoencoder", c.kind, c.image_size)
            self.image_shape = (c.channels, c.image_size, c.image_size)
            pixels = c.channels * c.image_size * c.image_size
            if c.kind == "mlp":
                self.encoder = nn.Sequential(
                    nn.Flatten(),
                    nn.Linear(pixels, 512),
                    nn.ReLU(),
                    nn.Linear(512, 256),
                    nn.ReLU(),
                    nn.Linear(256, c.latent_dim),
                )
                self.decoder = nn.Sequential(
                    nn.Linear(c.latent_dim, 256),
                    nn.ReLU(),
                    nn.Linear(256, 512),
                    nn.ReLU(),
                    nn.Linear(512, pixels),
                    nn.Sigmoid(),
                    nn.Unflatten(1, self.image_shape),
                )
            else:
                self.encoder = conv_encoder(c.channels, c.image_size, c.latent_dim)
                self.decoder = conv_decoder(c.latent_dim, c.channels, c.image_size)

        def encode(self, x: Any) -> Any:
            return self.encoder(x)  # [B, latent]

        def decode(self, z: Any) -> Any:
            return self.decoder(z)  # [B, C, H, W]

        def forward(self, x: Any) -> Any:
            return self.decode(self.encode(x))

        def loss(self, x: Any) -> Any:
            """Mean squared reconstruction error per pixel."""
            return F.mse_loss(self(x), x)

    return SimpleNamespace(
        conv_encoder=conv_encoder, conv_decoder=conv_decoder, Autoencoder=Autoencoder
    )


_autoencoder = autoencoder_family(ember)
(Autoencoder,) = publish(__name__, _autoencoder.Autoencoder)
conv_encoder, conv_decoder = _autoencoder.conv_encoder, _autoencoder.conv_decoder


def autoencoder(**overrides: Any) -> Autoencoder:
    """An Autoencoder with the default config changed by ``overrides``."""
    return Autoencoder(AutoencoderConfig(**overrides))
