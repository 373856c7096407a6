"""An MLP classifier trained with DataLoader, SGD + StepLR, and a checkpoint save/resume.

Shared randomness: the data come from NumPy; the batch order of each epoch is a NumPy
permutation injected through a Sampler (no ``shuffle=True``); the model has no dropout.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np

from tests.compat.harness import SharedInit, assert_same_losses


def _data(torch: ModuleType) -> object:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((96, 8)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)
    return torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))


def program(torch: ModuleType, init: SharedInit, checkpoint: Path) -> list[float]:
    nn = torch.nn

    class EpochOrder(torch.utils.data.Sampler):
        """A fixed NumPy permutation per epoch, so both frameworks see the same batches."""

        def __init__(self, n: int, seed: int) -> None:
            self.n, self.seed = n, seed

        def __iter__(self):
            return iter(np.random.default_rng(self.seed).permutation(self.n).tolist())

        def __len__(self) -> int:
            return self.n

    def make() -> tuple:
        model = init("mlp", nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3)))
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        return model, opt, sched

    dataset = _data(torch)
    loss_fn = nn.CrossEntropyLoss()

    def train_epoch(model, opt, sched, epoch: int) -> list[float]:
        model.train()
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=16, sampler=EpochOrder(len(dataset), epoch)
        )
        losses = []
        for x, y in loader:
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        sched.step()
        return losses

    model, opt, sched = make()
    losses = train_epoch(model, opt, sched, 0) + train_epoch(model, opt, sched, 1)
    torch.save(
        {
            "epoch": 2,
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
        },
        checkpoint,
    )
    model, opt, sched = make()  # a fresh process would start here
    state = torch.load(checkpoint)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    sched.load_state_dict(state["scheduler"])
    losses += train_epoch(model, opt, sched, state["epoch"])
    model.eval()
    with torch.no_grad():
        x, y = dataset[:]
        accuracy = (model(x).argmax(dim=1) == y).float().mean()
    return losses + [accuracy.item(), opt.param_groups[0]["lr"]]


def test_classifier_with_checkpoint_matches_torch(tmp_path: Path) -> None:
    assert_same_losses(program, checkpoint=tmp_path / "checkpoint.pt")
