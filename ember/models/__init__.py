"""Reference models, one file per family, and a plain dict from name to constructor.

Flow: ``ember.models.create("cnn", dropout1=0.1)`` → the family's config dataclass with the
overrides → the ``nn.Module``. Each family is written once for any framework with PyTorch's
API (``ember.models.neutral``): the classes here are its ember instance; the bench and the
comparison scripts build the PyTorch twins from the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ember import nn
from ember.models.autoencoder import Autoencoder, AutoencoderConfig, autoencoder
from ember.models.char_rnn import CharRNN, CharRNNConfig, char_rnn
from ember.models.cnn import CNN, CNNConfig, cnn
from ember.models.dcgan import DCGAN, DCGANConfig, dcgan, gradient_penalty
from ember.models.ddpm import DDPM, DDPMConfig, ddpm
from ember.models.gpt import GPT, GPTConfig, gpt
from ember.models.mlp import MLP, MLPConfig, mlp
from ember.models.resnet import BasicBlock, ResNet, ResNetConfig, resnet
from ember.models.vae import VAE, VAEConfig, vae

__all__ = [
    "MODELS",
    "create",
    "mlp",
    "cnn",
    "resnet",
    "MLP",
    "MLPConfig",
    "CNN",
    "CNNConfig",
    "ResNet",
    "ResNetConfig",
    "BasicBlock",
    "gpt",
    "GPT",
    "GPTConfig",
    "char_rnn",
    "CharRNN",
    "CharRNNConfig",
    "dcgan",
    "DCGAN",
    "DCGANConfig",
    "gradient_penalty",
    "autoencoder",
    "Autoencoder",
    "AutoencoderConfig",
    "vae",
    "VAE",
    "VAEConfig",
    "ddpm",
    "DDPM",
    "DDPMConfig",
]

MODELS: dict[str, Callable[..., nn.Module]] = {
    "mlp": mlp,
    "cnn": cnn,
    "resnet": resnet,
    "gpt": gpt,
    "char_rnn": char_rnn,
    "dcgan": dcgan,
    "autoencoder": autoencoder,
    "vae": vae,
    "ddpm": ddpm,
}


def create(name: str, **overrides: Any) -> nn.Module:
    """Build model ``name`` with its default config changed by ``overrides``."""
    if name not in MODELS:
        raise ValueError(f"models: unknown model {name!r}: expected one of {sorted(MODELS)}")
    return MODELS[name](**overrides)
