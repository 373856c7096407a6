"""A small CNN (Conv2d → BatchNorm2d → ReLU → MaxPool2d → Dropout → Linear) trained with
batch statistics, then evaluated in ``eval()`` mode on its running statistics.

Shared randomness: images and labels come from NumPy and batches are taken in order; the
Dropout layer is switched off during training by putting that one submodule in eval mode
(``model.drop.eval()``), and ``model.eval()`` disables it for evaluation anyway.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from tests.compat.harness import SharedInit, assert_same_losses


def program(torch: ModuleType, init: SharedInit) -> list[float]:
    nn, F = torch.nn, torch.nn.functional

    class SmallCNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 4, kernel_size=3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.pool = nn.MaxPool2d(2)
            self.drop = nn.Dropout(0.5)
            self.fc = nn.Linear(4 * 4 * 4, 3)

        def forward(self, x):
            x = self.pool(F.relu(self.bn(self.conv(x))))
            return self.fc(self.drop(torch.flatten(x, 1)))

    rng = np.random.default_rng(5)
    images = torch.from_numpy(rng.standard_normal((40, 1, 8, 8)).astype(np.float32))
    labels = torch.from_numpy(rng.integers(0, 3, size=40))
    model = init("cnn", SmallCNN())
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    losses = []
    for start in range(0, 40, 10):
        model.train()
        model.drop.eval()
        opt.zero_grad()
        loss = F.cross_entropy(model(images[start : start + 10]), labels[start : start + 10])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        eval_loss = F.cross_entropy(model(images), labels, reduction="sum")
    return losses + [eval_loss.item(), model.bn.running_var.sum().item()]


def test_cnn_train_and_eval_match_torch() -> None:
    assert_same_losses(program)
