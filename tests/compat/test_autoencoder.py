"""An MLP autoencoder initialised with ``nn.init`` and trained with Adam whose
``param_groups`` are edited by hand: the decoder starts frozen and joins through
``add_param_group``, and the encoder's learning rate is lowered mid-run.

Shared randomness: data come from NumPy and batches are taken in order; the initialisers
used are the deterministic ones (``eye_``, ``constant_``, ``zeros_``, ``ones_``,
``calculate_gain`` scaling NumPy-drawn weights), since ember's generator is not PyTorch's.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from tests.compat.harness import SharedInit, assert_same_losses


def program(torch: ModuleType, init: SharedInit) -> list[float]:
    nn = torch.nn
    encoder = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))
    decoder = nn.Sequential(nn.Linear(3, 8), nn.Sigmoid(), nn.Linear(8, 8))
    rng = np.random.default_rng(6)
    with torch.no_grad():
        nn.init.eye_(encoder[0].weight)
        nn.init.constant_(encoder[0].bias, 0.1)
        gain = nn.init.calculate_gain("tanh")
        drawn = rng.standard_normal((3, 8)).astype(np.float32) * gain / np.sqrt(8)
        encoder[2].weight.copy_(torch.from_numpy(drawn))
        nn.init.zeros_(encoder[2].bias)
        for layer in (decoder[0], decoder[2]):
            fan_in = layer.weight.shape[1]
            drawn = rng.uniform(-1, 1, size=tuple(layer.weight.shape)) / np.sqrt(fan_in)
            layer.weight.copy_(torch.from_numpy(drawn.astype(np.float32)))
            nn.init.ones_(layer.bias)
    model = init("autoencoder", nn.Sequential(encoder, decoder))  # same weights already
    data = torch.from_numpy(rng.uniform(0, 1, size=(48, 8)).astype(np.float32))

    for p in decoder.parameters():
        p.requires_grad_(False)
    opt = torch.optim.Adam(encoder.parameters(), lr=1e-2, weight_decay=1e-3)
    criterion = nn.MSELoss()
    losses = []
    for step, start in enumerate(range(0, 48, 8)):
        if step == 2:
            for p in decoder.parameters():
                p.requires_grad_(True)
            opt.add_param_group({"params": list(decoder.parameters()), "lr": 5e-3})
        if step == 4:
            opt.param_groups[0]["lr"] *= 0.1
        batch = data[start : start + 8]
        opt.zero_grad(set_to_none=True)
        loss = criterion(model(batch), batch)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses + [group["lr"] for group in opt.param_groups]


def test_autoencoder_with_param_groups_matches_torch() -> None:
    assert_same_losses(program)
