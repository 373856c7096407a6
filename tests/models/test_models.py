from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn as tnn

import ember
from ember import models


def _torch_reference(name):
    """The workload definitions from WORKLOADS.md, written in PyTorch (for parameter counts)."""
    if name == "mlp":
        return tnn.Sequential(
            tnn.Flatten(),
            tnn.Linear(784, 512),
            tnn.ReLU(),
            tnn.Linear(512, 512),
            tnn.ReLU(),
            tnn.Linear(512, 10),
        )
    if name == "cnn":
        return tnn.Sequential(
            tnn.Conv2d(1, 32, 3),
            tnn.ReLU(),
            tnn.Conv2d(32, 64, 3),
            tnn.ReLU(),
            tnn.MaxPool2d(2),
            tnn.Dropout(0.25),
            tnn.Flatten(),
            tnn.Linear(9216, 128),
            tnn.ReLU(),
            tnn.Dropout(0.5),
            tnn.Linear(128, 10),
        )

    def block(cin, cout, stride):
        body = [
            tnn.Conv2d(cin, cout, 3, stride, 1, bias=False),
            tnn.BatchNorm2d(cout),
            tnn.Conv2d(cout, cout, 3, 1, 1, bias=False),
            tnn.BatchNorm2d(cout),
        ]
        short = [tnn.Conv2d(cin, cout, 1, stride, bias=False), tnn.BatchNorm2d(cout)]
        return body + (short if stride != 1 or cin != cout else [])

    layers = [tnn.Conv2d(1, 16, 3, padding=1, bias=False), tnn.BatchNorm2d(16)]
    layers += block(16, 16, 1) + block(16, 32, 2) + block(32, 64, 2) + [tnn.Linear(64, 10)]
    return tnn.ModuleList(layers)


@pytest.mark.parametrize("name", ["mlp", "cnn", "resnet"])
def test_parameter_count_matches_workload_and_output_shape(name):
    model = models.create(name)
    ours = sum(p.numel() for p in model.parameters())
    assert ours == sum(p.numel() for p in _torch_reference(name).parameters())
    model.eval()
    with ember.no_grad():
        assert model(ember.randn(3, 1, 28, 28)).shape == (3, 10)


def test_cnn_forward_matches_torch_with_same_weights():
    ember.manual_seed(0)
    model = models.create("cnn").eval()
    ref = _torch_reference("cnn").eval()
    names = ["conv1", "conv2", "fc1", "fc2"]
    tlayers = [m for m in ref if isinstance(m, (tnn.Conv2d, tnn.Linear))]
    for n, t in zip(names, tlayers):
        t.weight.data = torch.from_numpy(getattr(model, n).weight.detach().numpy().copy())
        t.bias.data = torch.from_numpy(getattr(model, n).bias.detach().numpy().copy())
    x = np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32)
    with ember.no_grad():
        ours = model(ember.tensor(x)).numpy()
    np.testing.assert_allclose(ours, ref(torch.from_numpy(x)).detach().numpy(), atol=1e-4)


def test_registry_and_overrides():
    assert sorted(models.MODELS) == [
        "autoencoder",
        "char_rnn",
        "cnn",
        "dcgan",
        "ddpm",
        "gpt",
        "mlp",
        "resnet",
        "vae",
    ]
    mlp = models.create("mlp", dropout=0.3, hidden=64)
    assert any(isinstance(m, ember.nn.Dropout) for m in mlp.modules())
    assert mlp.config.hidden == 64
    with pytest.raises(ValueError, match="unknown model 'vgg'"):
        models.create("vgg")
    with pytest.raises(TypeError, match="unexpected keyword"):
        models.create("cnn", depth=3)
