"""Analytic model FLOPs of the reference workloads (only matrix products and convolutions count).

A matrix product of [m, k] by [k, n] costs 2·m·n·k; a convolution costs 2 · output elements ·
(cin · kh · kw); a transposed convolution is counted as the convolution it is the gradient of
(2 · input elements · cout · kh · kw). A training step is 3 × forward (backward = 2 × forward).
Element-wise ops, normalisations, softmax and the optimizer update are not counted: these are
the FLOPs any framework is credited with for the same model, so GFLOP/s and MFU compare across
frameworks (``docs/workloads.md``).
"""

from __future__ import annotations

__all__ = ["train_gflop", "generate_gflop_per_token", "infer_gflop", "matmul", "conv", "conv_t"]


def matmul(m: int, n: int, k: int) -> float:
    """FLOPs of an [m, k] @ [k, n] product."""
    return 2.0 * m * n * k


def conv(batch: int, cin: int, cout: int, k: int, hout: int, wout: int) -> float:
    """FLOPs of a k×k convolution producing [batch, cout, hout, wout]."""
    return 2.0 * batch * cout * hout * wout * cin * k * k


def conv_t(batch: int, cin: int, cout: int, k: int, hin: int, win: int) -> float:
    """FLOPs of a k×k transposed convolution reading [batch, cin, hin, win]."""
    return 2.0 * batch * cin * hin * win * cout * k * k


def _cnn_fwd(b: int) -> float:
    f = conv(b, 1, 32, 3, 26, 26) + conv(b, 32, 64, 3, 24, 24)
    return f + matmul(b, 128, 9216) + matmul(b, 10, 128)


def _resnet_fwd(b: int = 128) -> float:
    f = conv(b, 1, 16, 3, 28, 28) + 2 * conv(b, 16, 16, 3, 28, 28)
    for cin, cout, hw in ((16, 32, 14), (32, 64, 7)):
        f += conv(b, cin, cout, 3, hw, hw) + conv(b, cout, cout, 3, hw, hw)
        f += conv(b, cin, cout, 1, hw, hw)  # 1x1 projection shortcut
    return f + matmul(b, 10, 64)


def _lstm_fwd(b: int = 32, t: int = 64, h: int = 256, e: int = 128, v: int = 65) -> float:
    per_step = matmul(b, 4 * h, e) + matmul(b, 4 * h, h)  # layer 1: input and hidden products
    per_step += 2 * matmul(b, 4 * h, h)  # layer 2
    return t * per_step + matmul(b * t, v, h)


def _gpt_fwd(b: int = 12, t: int = 64, c: int = 128, layers: int = 4, v: int = 65) -> float:
    n = b * t
    per_layer = matmul(n, 3 * c, c) + matmul(n, c, c) + matmul(n, 4 * c, c) + matmul(n, c, 4 * c)
    per_layer += 2 * matmul(n, t, c)  # q@kᵀ and att@v over all heads, full T×T counted
    return layers * per_layer + matmul(n, v, c)


def _dcgan_parts(b: int = 64) -> tuple[float, float]:
    g = matmul(b, 128 * 49, 100) + conv_t(b, 128, 64, 4, 7, 7) + conv_t(b, 64, 1, 4, 14, 14)
    d = conv(b, 1, 64, 4, 14, 14) + conv(b, 64, 128, 4, 7, 7) + matmul(b, 1, 6272)
    return g, d


def _vae_fwd(b: int = 128) -> float:
    return matmul(b, 400, 784) + 2 * matmul(b, 20, 400) + matmul(b, 400, 20) + matmul(b, 784, 400)


def _ddpm_fwd(b: int = 64) -> float:
    def resblock(cin: int, cout: int, hw: int) -> float:
        f = conv(b, cin, cout, 3, hw, hw) + conv(b, cout, cout, 3, hw, hw) + matmul(b, cout, 128)
        return f + (conv(b, cin, cout, 1, hw, hw) if cin != cout else 0.0)

    f = 2 * matmul(b, 128, 128) + conv(b, 1, 32, 3, 28, 28)  # time MLP, stem
    f += resblock(32, 32, 28) + conv(b, 32, 64, 3, 14, 14)
    f += resblock(64, 64, 14) + conv(b, 64, 64, 3, 7, 7)
    f += resblock(64, 64, 7)
    f += conv_t(b, 64, 64, 4, 7, 7) + resblock(128, 64, 14)
    f += conv_t(b, 64, 32, 4, 14, 14) + resblock(64, 32, 28)
    return f + conv(b, 32, 1, 3, 28, 28)


def train_gflop(workload: str) -> float:
    """Model GFLOP of one training step of ``workload``."""
    if workload == "dcgan":
        g, d = _dcgan_parts()
        # G forward once (reused by the G step); D fwd+bwd on real and on fake for the D step;
        # D fwd+bwd on fake again plus G backward for the G step.
        return (3 * g + 9 * d) / 1e9
    fwd = {
        "mlp": lambda: matmul(128, 512, 784) + matmul(128, 512, 512) + matmul(128, 10, 512),
        "cnn": lambda: _cnn_fwd(128),
        "resnet": _resnet_fwd,
        "lstm": _lstm_fwd,
        "gpt": _gpt_fwd,
        "vae": _vae_fwd,
        "ddpm": _ddpm_fwd,
    }[workload]
    return 3 * fwd() / 1e9


def generate_gflop_per_token(block: int = 64) -> float:
    """Forward GFLOP of one KV-cached gpt decode step (gpt-generate), averaged over a sequence
    of ``block`` tokens: one position through every layer, its query against the keys and
    values of the 1…block positions so far (mean (block + 1) / 2)."""
    c, layers, v = 128, 4, 65
    per_layer = matmul(1, 3 * c, c) + matmul(1, c, c) + matmul(1, 4 * c, c) + matmul(1, c, 4 * c)
    per_layer += 2 * matmul(1, 1, c) * (block + 1) / 2  # q·k and att·v over the cached keys
    return (layers * per_layer + matmul(1, v, c)) / 1e9


def infer_gflop(batch: int) -> float:
    """Forward GFLOP of the cnn model on a batch (cnn-infer)."""
    return _cnn_fwd(batch) / 1e9
