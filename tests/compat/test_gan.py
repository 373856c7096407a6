"""A small GAN on 2-D points: alternating discriminator and generator Adam steps with
``BCEWithLogitsLoss`` and ``detach()`` of the fake batch for the discriminator step.

Shared randomness: real samples and the generator's noise come from NumPy; no dropout.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from tests.compat.harness import SharedInit, assert_same_losses


def program(torch: ModuleType, init: SharedInit) -> list[float]:
    nn = torch.nn
    gen = init("generator", nn.Sequential(nn.Linear(3, 16), nn.LeakyReLU(0.2), nn.Linear(16, 2)))
    disc = init(
        "discriminator",
        nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1)),
    )
    opt_g = torch.optim.Adam(gen.parameters(), lr=2e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-3, betas=(0.5, 0.999))
    criterion = nn.BCEWithLogitsLoss()
    rng = np.random.default_rng(3)
    losses = []
    for _ in range(6):
        angle = rng.uniform(0, 2 * np.pi, size=32)
        real = torch.from_numpy(np.stack([np.cos(angle), np.sin(angle)], 1).astype(np.float32))
        noise = torch.from_numpy(rng.standard_normal((32, 3)).astype(np.float32))
        ones, zeros = torch.ones(32, 1), torch.zeros(32, 1)

        fake = gen(noise)
        opt_d.zero_grad()
        loss_d = criterion(disc(real), ones) + criterion(disc(fake.detach()), zeros)
        loss_d.backward()
        opt_d.step()

        opt_g.zero_grad()
        loss_g = criterion(disc(fake), ones)
        loss_g.backward()
        opt_g.step()
        losses += [loss_d.item(), loss_g.item()]
    return losses


def test_gan_steps_match_torch() -> None:
    assert_same_losses(program)
