"""Reference models, one file per family, and a plain dict from name to constructor.

Flow: ``ember.models.create("cnn", dropout1=0.1)`` → the family's config dataclass with the
overrides → the ``nn.Module``. Each family is written once for any framework with PyTorch's
API (``ember.models.neutral``): the classes here are its ember instance; the bench and the
comparison scripts build the PyTorch twins from the same code.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any

from ember import nn
from ember.models.autoencoder import Autoencoder, AutoencoderConfig, autoencoder, autoencoder_family
from ember.models.char_rnn import CharRNN, CharRNNConfig, char_rnn, char_rnn_family
from ember.models.cnn import CNN, CNNConfig, cnn, cnn_family
from ember.models.dcgan import DCGAN, DCGANConfig, dcgan, dcgan_family, gradient_penalty
from ember.models.ddpm import DDPM, DDPMConfig, ddpm, ddpm_family
from ember.models.gpt import GPT, GPTConfig, gpt, gpt_family
from ember.models.mlp import MLP, MLPConfig, mlp, mlp_family
from ember.models.resnet import BasicBlock, ResNet, ResNetConfig, resnet, resnet_family
from ember.models.vae import VAE, VAEConfig, vae, vae_family

__all__ = [
    "MODELS",
    "create",
    "model_class",
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

# registry name → ember's constructor, and the family (and its class) that defines the model
_REGISTRY: dict[str, tuple[Callable[..., nn.Module], Callable[[ModuleType], SimpleNamespace], str]]
_REGISTRY = {
    "mlp": (mlp, mlp_family, "MLP"),
    "cnn": (cnn, cnn_family, "CNN"),
    "resnet": (resnet, resnet_family, "ResNet"),
    "gpt": (gpt, gpt_family, "GPT"),
    "char_rnn": (char_rnn, char_rnn_family, "CharRNN"),
    "dcgan": (dcgan, dcgan_family, "DCGAN"),
    "autoencoder": (autoencoder, autoencoder_family, "Autoencoder"),
    "vae": (vae, vae_family, "VAE"),
    "ddpm": (ddpm, ddpm_family, "DDPM"),
}
MODELS: dict[str, Callable[..., nn.Module]] = {name: e[0] for name, e in _REGISTRY.items()}


def _check_name(name: str) -> None:
    if name not in MODELS:
        raise ValueError(f"models: unknown model {name!r}: expected one of {sorted(MODELS)}")


def model_class(name: str, torch: ModuleType) -> type:
    """Model ``name``'s one definition built for the framework ``torch`` (ember or torch):
    called with the model's config, it has ``create(name)``'s parameter names and shapes.
    ember's own models, with their ember-only extras, come from ``create``."""
    _check_name(name)
    _, define, cls = _REGISTRY[name]
    return getattr(define(torch), cls)


def create(name: str, **overrides: Any) -> nn.Module:
    """Build model ``name`` with its default config changed by ``overrides``."""
    _check_name(name)
    return MODELS[name](**overrides)
