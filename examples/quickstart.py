"""Fit a small two-layer network to a noisy sine curve with plain ember autograd.

python examples/quickstart.py            # a few seconds
python examples/quickstart.py --fast     # fewer steps (CI)
"""

from __future__ import annotations

import argparse

import ember


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="fewer steps for a smoke test")
    steps = 201 if parser.parse_args(argv).fast else 2001
    ember.manual_seed(0)
    x = ember.linspace(-3, 3, 256).reshape(-1, 1)
    y = x.sin() + 0.1 * ember.randn(256, 1)
    w1 = (ember.randn(1, 64) * 0.5).requires_grad_()
    b1 = ember.zeros(64, requires_grad=True)
    w2 = (ember.randn(64, 1) * 0.1).requires_grad_()
    b2 = ember.zeros(1, requires_grad=True)
    params = [w1, b1, w2, b2]
    lr = 0.05
    for step in range(steps):
        pred = (x @ w1 + b1).tanh() @ w2 + b2
        loss = ((pred - y) ** 2).mean()
        loss.backward()
        with ember.no_grad():
            for p in params:
                p -= lr * p.grad
                p.grad.zero_()
        if step % 400 == 0:
            print(f"step {step:5d}  mse {loss.item():.4f}")
    print(f"final mse {loss.item():.4f} (noise floor ~0.01)")
    return loss.item()


if __name__ == "__main__":
    main()
