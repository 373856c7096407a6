"""A regression model whose hidden layer is a custom ``autograd.Function`` (a linear map with a
hand-written backward that uses ``ctx.save_for_backward`` and ``ctx.needs_input_grad``),
trained with Adam and gradient-norm clipping.

Shared randomness: inputs and targets come from NumPy; there is no dropout or shuffling.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from tests.compat.harness import SharedInit, assert_same_losses


def program(torch: ModuleType, init: SharedInit) -> list[float]:
    nn = torch.nn

    class ScaledTanh(torch.autograd.Function):
        """y = tanh(x @ w.T) * scale, with its gradients written out by hand."""

        @staticmethod
        def forward(ctx, x, w, scale):
            y = torch.tanh(x @ w.t())
            ctx.save_for_backward(x, w, y)
            ctx.scale = scale
            return y * scale

        @staticmethod
        def backward(ctx, grad_out):
            x, w, y = ctx.saved_tensors
            g = grad_out * ctx.scale * (1 - y * y)
            grad_x = g @ w if ctx.needs_input_grad[0] else None
            grad_w = g.t() @ x if ctx.needs_input_grad[1] else None
            return grad_x, grad_w, None

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.hidden = nn.Parameter(torch.zeros(16, 4))
            self.out = nn.Linear(16, 1)

        def forward(self, x):
            return self.out(ScaledTanh.apply(x, self.hidden, 2.0))

    rng = np.random.default_rng(2)
    x = torch.from_numpy(rng.standard_normal((64, 4)).astype(np.float32))
    y = torch.from_numpy(np.sin(x.numpy().sum(1, keepdims=True)).astype(np.float32))
    model = Net()
    with torch.no_grad():
        model.hidden.copy_(torch.from_numpy(rng.standard_normal((16, 4)).astype(np.float32)))
    init("net", model)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(8):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
        opt.step()
        losses += [loss.item(), float(norm)]
    return losses


def test_custom_function_training_matches_torch() -> None:
    assert_same_losses(program)
