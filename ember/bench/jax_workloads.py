"""The reference workloads in JAX (``jax.jit`` + optax): the ``jax`` peer of ``ember bench``.

Each model is the one of ``ember.models`` (built by ``workloads.model_zoo(ember)`` after the
workload's seed): its initial weights are copied into JAX arrays, and a forward written here
with ``jax.numpy``/``lax`` computes what the model's ``forward`` computes, so both sides train
the same network from the same weights on the same batch (``tests/test_bench.py`` checks the
first two losses and the decode logits against ember's). Convolutions run in NHWC with HWIO kernels,
XLA's native CPU layout; activations go back to NCHW where the model flattens them, so the
dense weights keep PyTorch's order. A whole step (forward, backward, optimizer update) is one
jitted function with donated state; the loss, token or output is read back to the host.

JAX is an optional extra (``pip install 'ember[bench-jax]'``). Threads: XLA reads its flags
when JAX starts, so ``configure(threads)`` must run before the first ``import jax``; one thread
is ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false`` plus ``PJRT_NPROC=1`` (the size of the CPU
client's thread pool), N threads ``PJRT_NPROC=N``.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np

from ember.bench import workloads
from ember.bench.workloads import TOPK, Built

__all__ = ["configure", "versions", "build", "decode_logits"]

SETTINGS: dict[str, Any] = {"threads": None}
BN_MOMENTUM, BN_EPS, GN_EPS, LN_EPS = 0.1, 1e-5, 1e-5, 1e-5


def configure(threads: int, device: str = "cpu") -> None:
    """Set JAX's CPU threads to ``threads`` (before JAX is imported; see the module
    docstring). Raises when JAX was imported already with other settings, or for a device
    other than the CPU."""
    if device != "cpu":
        raise ValueError(f"ember bench --compare jax: only the CPU is supported: {device} vs cpu")
    if "jax" in sys.modules:
        if SETTINGS["threads"] not in (None, threads):
            raise RuntimeError(
                f"ember bench --compare jax: JAX already runs with {SETTINGS['threads']} "
                f"threads: {threads} vs {SETTINGS['threads']}\n"
                "hint: XLA reads its thread flags once; run one thread count per process"
            )
        SETTINGS["threads"] = SETTINGS["threads"] or "unknown (JAX was imported before)"
        return
    if threads == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_cpu_multi_thread_eigen=false".strip()
    os.environ["PJRT_NPROC"] = str(threads)
    SETTINGS["threads"] = threads


def _jax() -> tuple[ModuleType, ModuleType, ModuleType, ModuleType]:
    """(jax, jax.numpy, jax.lax, optax), or ImportError saying how to install them."""
    try:
        import jax
        import jax.numpy as jnp
        import optax
        from jax import lax
    except ImportError as exc:
        raise ImportError(
            f"ember bench --compare jax needs jax and optax ({exc})\n"
            "hint: pip install 'ember[bench-jax]'"
        ) from exc
    return jax, jnp, lax, optax


def versions() -> dict[str, Any]:
    """JAX's and optax's versions and the thread settings the run used."""
    jax, _, _, optax = _jax()
    return {
        "jax": jax.__version__,
        "optax": optax.__version__,
        "threads": SETTINGS["threads"],
        "XLA_FLAGS": os.environ.get("XLA_FLAGS"),
        "PJRT_NPROC": os.environ.get("PJRT_NPROC"),
    }


# -- weights ---------------------------------------------------------------------------------


def _weights(workload: str) -> tuple[dict[str, Any], dict[str, Any], int]:
    """The ember model's initial (parameters, buffers) as JAX arrays in the layouts used here,
    and its parameter count."""
    import ember

    _, jnp, _, _ = _jax()
    ember.manual_seed(workloads.SEED)
    name = "gpt" if workload == "gpt-generate" else "cnn" if workload == "cnn-infer" else workload
    model = getattr(workloads.model_zoo(ember), name)()
    params = {n: _layout(n, p.detach().numpy(), model) for n, p in model.named_parameters()}
    buffers = {
        n: jnp.asarray(b.numpy())
        for n, b in model.named_buffers()
        if np.issubdtype(b.numpy().dtype, np.floating)
    }
    count = sum(int(np.prod(p.shape)) for p in params.values())
    return {n: jnp.asarray(p) for n, p in params.items()}, buffers, count


def _layout(name: str, array: np.ndarray, model: Any) -> np.ndarray:
    """Convolution kernels as HWIO (a transposed convolution's flipped and swapped, so that it
    runs as a dilated convolution); everything else as it is."""
    import ember

    if array.ndim != 4:
        return array
    module = model.get_submodule(name.rsplit(".", 1)[0])
    if isinstance(module, ember.nn.ConvTranspose2d):  # (Cin, Cout, kh, kw)
        return np.ascontiguousarray(array[:, :, ::-1, ::-1].transpose(2, 3, 0, 1))
    return np.ascontiguousarray(array.transpose(2, 3, 1, 0))  # (Cout, Cin, kh, kw) → HWIO


# -- layers ----------------------------------------------------------------------------------


class Net:
    """The functional layers over one parameter dict ``p`` (PyTorch's names) and the buffer
    dict ``buf``; BatchNorm in training mode writes its new running statistics to ``buf``."""

    def __init__(self, p: dict[str, Any], buf: dict[str, Any], train: bool = True) -> None:
        self.jax, self.jnp, self.lax, _ = _jax()
        self.p, self.buf, self.train = p, dict(buf), train

    def linear(self, name: str, x: Any) -> Any:
        y = x @ self.p[f"{name}.weight"].T
        bias = self.p.get(f"{name}.bias")
        return y if bias is None else y + bias

    def conv(self, name: str, x: Any, stride: int = 1, pad: int = 0, dilate: int = 1) -> Any:
        """NHWC convolution (``dilate``: input dilation, a transposed convolution's stride)."""
        w = self.p[f"{name}.weight"]
        y = self.lax.conv_general_dilated(
            x,
            w,
            (stride, stride),
            [(pad, pad), (pad, pad)],
            lhs_dilation=(dilate, dilate),
            dimension_numbers=("NHWC", "HWIO", "NHWC"),
        )
        bias = self.p.get(f"{name}.bias")
        return y if bias is None else y + bias

    def conv_transpose(self, name: str, x: Any, k: int, stride: int, pad: int) -> Any:
        return self.conv(name, x, 1, k - 1 - pad, dilate=stride)

    def batch_norm(self, name: str, x: Any) -> Any:
        """BatchNorm over every axis but the last (channels last)."""
        jnp = self.jnp
        axes = tuple(range(x.ndim - 1))
        if self.train:
            mean, var = x.mean(axes), x.var(axes)
            n = x.size // x.shape[-1]
            for stat, value in (("running_mean", mean), ("running_var", var * n / (n - 1))):
                key = f"{name}.{stat}"
                old = self.jax.lax.stop_gradient(value)
                self.buf[key] = (1 - BN_MOMENTUM) * self.buf[key] + BN_MOMENTUM * old
        else:
            mean, var = self.buf[f"{name}.running_mean"], self.buf[f"{name}.running_var"]
        y = (x - mean) / jnp.sqrt(var + BN_EPS)
        return y * self.p[f"{name}.weight"] + self.p[f"{name}.bias"]

    def group_norm(self, name: str, x: Any, groups: int) -> Any:
        n, h, w, c = x.shape
        g = x.reshape(n, h, w, groups, c // groups)
        mean = g.mean((1, 2, 4), keepdims=True)
        var = g.var((1, 2, 4), keepdims=True)
        y = ((g - mean) / self.jnp.sqrt(var + GN_EPS)).reshape(n, h, w, c)
        return y * self.p[f"{name}.weight"] + self.p[f"{name}.bias"]

    def layer_norm(self, name: str, x: Any) -> Any:
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        y = (x - mean) / self.jnp.sqrt(var + LN_EPS)
        return y * self.p[f"{name}.weight"] + self.p[f"{name}.bias"]

    def dropout(self, x: Any, rate: float, key: Any) -> Any:
        if not self.train or rate == 0.0:
            return x
        keep = self.jax.random.bernoulli(key, 1.0 - rate, x.shape)
        return self.jnp.where(keep, x / (1.0 - rate), 0.0)

    def max_pool(self, x: Any, k: int) -> Any:
        return self.lax.reduce_window(
            x, -self.jnp.inf, self.lax.max, (1, k, k, 1), (1, k, k, 1), "VALID"
        )


def _nchw_flat(x: Any) -> Any:
    """NHWC activations flattened in NCHW order (the order of the model's dense weights)."""
    return x.transpose(0, 3, 1, 2).reshape(x.shape[0], -1)


def _cross_entropy(jnp: ModuleType, logits: Any, labels: Any) -> Any:
    logp = logits - _logsumexp(jnp, logits)
    return -jnp.take_along_axis(logp, labels[:, None], axis=1).mean()


def _logsumexp(jnp: ModuleType, x: Any) -> Any:
    m = x.max(-1, keepdims=True)
    return m + jnp.log(jnp.exp(x - m).sum(-1, keepdims=True))


def _bce_logits(jnp: ModuleType, logits: Any, target: float) -> Any:
    """PyTorch's binary_cross_entropy_with_logits against a constant target, mean."""
    return (jnp.maximum(logits, 0) - logits * target + jnp.log1p(jnp.exp(-jnp.abs(logits)))).mean()


# -- the models' forwards --------------------------------------------------------------------


def mlp(net: Net, x: Any) -> Any:
    h = x.reshape(x.shape[0], -1)
    for i in (0, 2):  # net = Flatten, Linear, ReLU, Linear, ReLU, Linear
        h = net.jax.nn.relu(net.linear(f"net.{i + 1}", h))
    return net.linear("net.5", h)


def cnn(net: Net, x: Any, key: Any = None) -> Any:
    relu = net.jax.nn.relu
    keys = net.jax.random.split(key) if key is not None else (None, None)
    h = relu(net.conv("conv2", relu(net.conv("conv1", x.transpose(0, 2, 3, 1)))))
    h = _nchw_flat(net.dropout(net.max_pool(h, 2), 0.25, keys[0]))
    h = net.dropout(relu(net.linear("fc1", h)), 0.5, keys[1])
    return net.linear("fc2", h)


def resnet(net: Net, x: Any) -> Any:
    relu = net.jax.nn.relu
    h = relu(net.batch_norm("stem.1", net.conv("stem.0", x.transpose(0, 2, 3, 1), 1, 1)))
    blocks = sum(1 for n in net.p if n.startswith("stages.") and n.endswith(".conv1.weight"))
    for i in range(blocks):  # a stage's first block after the stem's stage halves the size
        b = f"stages.{i}"
        stride = 2 if i > 0 and f"{b}.shortcut.0.weight" in net.p else 1
        out = relu(net.batch_norm(f"{b}.bn1", net.conv(f"{b}.conv1", h, stride, 1)))
        out = net.batch_norm(f"{b}.bn2", net.conv(f"{b}.conv2", out, 1, 1))
        if f"{b}.shortcut.0.weight" in net.p:
            h = net.batch_norm(f"{b}.shortcut.1", net.conv(f"{b}.shortcut.0", h, stride))
        h = relu(out + h)
    return net.linear("fc", h.mean((1, 2)))


def char_rnn(net: Net, idx: Any) -> Any:
    """Embedding → two LSTM layers (PyTorch's gate order i, f, g, o) → head."""
    jnp, lax, sig = net.jnp, net.lax, net.jax.nn.sigmoid
    x = net.p["embedding.weight"][idx].transpose(1, 0, 2)  # (T, B, E)
    for layer in (0, 1):
        w_ih, w_hh = net.p[f"lstm.weight_ih_l{layer}"], net.p[f"lstm.weight_hh_l{layer}"]
        bias = net.p[f"lstm.bias_ih_l{layer}"] + net.p[f"lstm.bias_hh_l{layer}"]
        gates_x = x @ w_ih.T + bias  # the input projection of every step at once
        hidden = w_hh.shape[1]

        def cell(carry: tuple, gx: Any, w_hh: Any = w_hh) -> tuple:
            h, c = carry
            i, f, g, o = jnp.split(gx + h @ w_hh.T, 4, axis=-1)
            c = sig(f) * c + sig(i) * jnp.tanh(g)
            h = sig(o) * jnp.tanh(c)
            return (h, c), h

        zero = jnp.zeros((x.shape[1], hidden), x.dtype)
        _, x = lax.scan(cell, (zero, zero), gates_x)
    return net.linear("head", x.transpose(1, 0, 2))


def gpt_blocks(net: Net, x: Any, attend: Callable[[int, Any, Any, Any], Any]) -> Any:
    """The transformer blocks and the tied head; ``attend(layer, q, k, v)`` is the attention
    of (B, nh, T, hs) queries (full causal, or over a cache)."""
    jnp = net.jnp
    B, T, C = x.shape
    nh = 4
    for i in range(4):
        b = f"transformer.h.{i}"
        qkv = net.linear(f"{b}.attn.c_attn", net.layer_norm(f"{b}.ln_1", x))
        q, k, v = (
            t.reshape(B, T, nh, C // nh).transpose(0, 2, 1, 3) for t in jnp.split(qkv, 3, -1)
        )
        y = attend(i, q, k, v).transpose(0, 2, 1, 3).reshape(B, T, C)
        x = x + net.linear(f"{b}.attn.c_proj", y)
        h = net.jax.nn.gelu(net.linear(f"{b}.mlp.c_fc", net.layer_norm(f"{b}.ln_2", x)), False)
        x = x + net.linear(f"{b}.mlp.c_proj", h)
    return net.layer_norm("transformer.ln_f", x) @ net.p["transformer.wte.weight"].T


def _attention(jnp: ModuleType, q: Any, k: Any, v: Any, mask: Any) -> Any:
    scores = (q @ k.transpose(0, 1, 3, 2)) / math.sqrt(q.shape[-1])
    scores = jnp.where(mask, scores, -jnp.inf)
    scores = scores - scores.max(-1, keepdims=True)
    weights = jnp.exp(scores)
    return (weights / weights.sum(-1, keepdims=True)) @ v


def gpt(net: Net, idx: Any) -> Any:
    jnp = net.jnp
    T = idx.shape[1]
    x = net.p["transformer.wte.weight"][idx] + net.p["transformer.wpe.weight"][:T]
    causal = jnp.tril(jnp.ones((T, T), bool))
    return gpt_blocks(net, x, lambda i, q, k, v: _attention(jnp, q, k, v, causal))


def vae(net: Net, x: Any, key: Any) -> Any:
    """The VAE's loss: summed BCE of the reconstruction plus the KL term."""
    jnp, relu = net.jnp, net.jax.nn.relu
    h = relu(net.linear("fc1", x))
    mu, logvar = net.linear("mu", h), net.linear("lv", h)
    z = mu + net.jax.random.normal(key, mu.shape) * jnp.exp(0.5 * logvar)
    recon = net.jax.nn.sigmoid(net.linear("fc4", relu(net.linear("fc3", z))))
    log_r, log_1r = jnp.maximum(jnp.log(recon), -100), jnp.maximum(jnp.log1p(-recon), -100)
    bce = -(x * log_r + (1 - x) * log_1r).sum()
    return bce - 0.5 * (1 + logvar - mu**2 - jnp.exp(logvar)).sum()


def dcgan_generator(net: Net, z: Any) -> Any:
    relu = net.jax.nn.relu
    h = relu(net.batch_norm("generator.1", net.linear("generator.0", z)))
    h = h.reshape(z.shape[0], 128, 7, 7).transpose(0, 2, 3, 1)  # Unflatten, to NHWC
    h = relu(net.batch_norm("generator.5", net.conv_transpose("generator.4", h, 4, 2, 1)))
    return net.jnp.tanh(net.conv_transpose("generator.7", h, 4, 2, 1))  # NHWC


def dcgan_discriminator(net: Net, x: Any) -> Any:
    leaky = functools.partial(net.jax.nn.leaky_relu, negative_slope=0.2)
    h = leaky(net.conv("discriminator.0", x, 2, 1))
    h = leaky(net.batch_norm("discriminator.3", net.conv("discriminator.2", h, 2, 1)))
    return net.linear("discriminator.6", _nchw_flat(h))


def ddpm(net: Net, x: Any, t: Any) -> Any:
    """The U-Net ε_θ(x_t, t) on NHWC images."""
    jnp, silu = net.jnp, net.jax.nn.silu
    half = 64
    freqs = jnp.exp(jnp.arange(half, dtype=jnp.float32) * (-math.log(10000.0) / half))
    a = t.astype(jnp.float32)[:, None] * freqs[None, :]
    temb = net.linear("t2", silu(net.linear("t1", jnp.concatenate([jnp.sin(a), jnp.cos(a)], 1))))

    def res(name: str, h: Any) -> Any:
        out = net.conv(f"{name}.c1", silu(net.group_norm(f"{name}.n1", h, 8)), 1, 1)
        out = out + net.linear(f"{name}.t", temb)[:, None, None, :]
        out = net.conv(f"{name}.c2", silu(net.group_norm(f"{name}.n2", out, 8)), 1, 1)
        return out + (net.conv(f"{name}.skip", h) if f"{name}.skip.weight" in net.p else h)

    h = net.conv("cin", x, 1, 1)
    s1 = res("rd1", h)
    s2 = res("rd2", net.conv("dn1", s1, 2, 1))
    h = res("mid", net.conv("dn2", s2, 2, 1))
    h = res("ru1", jnp.concatenate([net.conv_transpose("up1", h, 4, 2, 1), s2], -1))
    h = res("ru2", jnp.concatenate([net.conv_transpose("up2", h, 4, 2, 1), s1], -1))
    return net.conv("cout", silu(net.group_norm("nout", h, 8)), 1, 1)


# -- training steps --------------------------------------------------------------------------


def _optimizer(optax: ModuleType, workload: str) -> Any:
    """The workload's optimizer, as ``workloads.build_train`` sets it up in PyTorch."""
    if workload == "resnet":  # SGD(0.1, momentum 0.9, weight decay 5e-4 added to the gradient)
        return optax.chain(optax.add_decayed_weights(5e-4), optax.sgd(0.1, momentum=0.9))
    if workload == "lstm":
        return optax.chain(optax.clip_by_global_norm(1.0), optax.adam(2e-3))
    if workload == "gpt":
        return optax.adamw(1e-3, b1=0.9, b2=0.99, weight_decay=0.1)
    if workload == "ddpm":
        return optax.adam(2e-4)
    if workload == "dcgan":
        return optax.adam(2e-4, b1=0.5, b2=0.999)
    return optax.adam(1e-3)


def _loss_fn(workload: str, data: dict[str, Any]) -> Callable:
    """loss(net, key) of a training workload on its fixed batch."""
    jnp = _jax()[1]
    if workload in ("mlp", "resnet"):
        forward = mlp if workload == "mlp" else resnet
        return lambda net, key: _cross_entropy(jnp, forward(net, data["x"]), data["y"])
    if workload == "cnn":
        return lambda net, key: _cross_entropy(jnp, cnn(net, data["x"], key), data["y"])
    if workload in ("lstm", "gpt"):
        forward = char_rnn if workload == "lstm" else gpt

        def sequence_loss(net: Net, key: Any) -> Any:
            logits = forward(net, data["x"])
            return _cross_entropy(jnp, logits.reshape(-1, logits.shape[-1]), data["y"].reshape(-1))

        return sequence_loss
    if workload == "vae":
        return lambda net, key: vae(net, data["x"], key)
    if workload == "ddpm":

        def ddpm_loss(net: Net, key: Any) -> Any:
            a = data["abar"][data["t"]][:, None, None, None]
            x0, noise = data["x0"].transpose(0, 2, 3, 1), data["noise"].transpose(0, 2, 3, 1)
            xt = jnp.sqrt(a) * x0 + jnp.sqrt(1 - a) * noise
            return ((ddpm(net, xt, data["t"]) - noise) ** 2).mean()

        return ddpm_loss
    raise KeyError(workload)


def _train(workload: str, batch: int | None) -> Built:
    """A training workload: one jitted step (forward, backward, update) with donated state."""
    jax, jnp, _, optax = _jax()
    params, buffers, count = _weights(workload)
    data = {k: jnp.asarray(v) for k, v in workloads.make_inputs(workload, batch).items()}
    if workload == "dcgan":
        return _dcgan(params, buffers, count, data)
    loss_of, opt = _loss_fn(workload, data), _optimizer(optax, workload)

    def step(state: tuple) -> tuple:
        p, buf, opt_state, key = state
        key, sub = jax.random.split(key)

        def loss(p: dict) -> tuple:
            net = Net(p, buf)
            return loss_of(net, sub), net.buf

        (value, buf), grads = jax.value_and_grad(loss, has_aux=True)(p)
        updates, opt_state = opt.update(grads, opt_state, p)
        return (optax.apply_updates(p, updates), buf, opt_state, key), value

    return _stateful(step, (params, buffers, opt.init(params), jax.random.PRNGKey(0)), count)


def _dcgan(params: dict, buffers: dict, count: int, data: dict) -> Built:
    """One discriminator step then one generator step, as ``workloads._build_dcgan``: G runs
    once; its output is detached for D's step and back-propagated through for G's, with D's
    updated weights."""
    jax, jnp, _, optax = _jax()
    opt = _optimizer(optax, "dcgan")
    real = data["real"].transpose(0, 2, 3, 1)
    split = {
        side: {n: v for n, v in params.items() if n.startswith(side)}
        for side in ("generator", "discriminator")
    }

    def step(state: tuple) -> tuple:
        (pg, pd), buf, (sg, sd), key = state

        def generate(pg: dict) -> tuple:
            net = Net(pg, buf)
            return dcgan_generator(net, data["z"]), net.buf

        fake, pullback, buf = jax.vjp(generate, pg, has_aux=True)

        def loss_d(pd: dict, buf: dict) -> tuple:
            net = Net(pd, buf)
            value = _bce_logits(jnp, dcgan_discriminator(net, real), 1.0)
            fake_logits = dcgan_discriminator(net, jax.lax.stop_gradient(fake))
            return value + _bce_logits(jnp, fake_logits, 0.0), net.buf

        (value_d, buf), grads = jax.value_and_grad(loss_d, has_aux=True)(pd, buf)
        updates, sd = opt.update(grads, sd, pd)
        pd = optax.apply_updates(pd, updates)

        def loss_g(fake: Any, buf: dict) -> tuple:
            net = Net(pd, buf)
            return _bce_logits(jnp, dcgan_discriminator(net, fake), 1.0), net.buf

        (value_g, buf), d_fake = jax.value_and_grad(loss_g, has_aux=True)(fake, buf)
        (grads,) = pullback(d_fake)
        updates, sg = opt.update(grads, sg, pg)
        pg = optax.apply_updates(pg, updates)
        return ((pg, pd), buf, (sg, sd), key), (value_d, value_g)

    pg, pd = split["generator"], split["discriminator"]
    state = ((pg, pd), buffers, (opt.init(pg), opt.init(pd)), jax.random.PRNGKey(0))
    return _stateful(step, state, count)


def _stateful(step: Callable, state: tuple, count: int) -> Built:
    """``Built`` around a jitted ``step(state) -> (state, value)``; the value is read back."""
    jax = _jax()[0]
    compiled = jax.jit(step, donate_argnums=0)
    holder = [state]

    def run() -> Any:
        holder[0], value = compiled(holder[0])
        if isinstance(value, tuple):
            return tuple(float(v) for v in value)
        return float(value)

    return Built(count, run, state=(holder,))


# -- inference -------------------------------------------------------------------------------


def _cnn_infer(batch: int) -> Built:
    jax, jnp, _, _ = _jax()
    params, buffers, count = _weights("cnn-infer")
    rng = np.random.default_rng(1234)
    x = jnp.asarray(rng.standard_normal((batch, 1, 28, 28), np.float32))
    forward = jax.jit(lambda p, x: cnn(Net(p, buffers, train=False), x))
    return Built(count, lambda: np.asarray(forward(params, x)))


def decode_logits(p: dict, k: Any, v: Any, pos: Any, token: Any) -> tuple[Any, Any, Any]:
    """One KV-cached GPT decode step, the algorithm of ``GPT.decode_step``: ``token`` (1, 1)
    at position ``pos`` written into the fixed-size caches ``k``, ``v`` (layers, 1, nh,
    block, hs) where the slot equals ``pos``; attention over the slots ≤ ``pos``. Returns
    (logits (vocab,), k, v)."""
    _, jnp, _, _ = _jax()
    net = Net(p, {}, train=False)
    slots = jnp.arange(k.shape[3])
    here, seen = (slots == pos)[:, None], (slots <= pos)[None, :]
    x = p["transformer.wte.weight"][token] + p["transformer.wpe.weight"][pos][None, None]
    caches = {"k": k, "v": v}

    def attend(i: int, q: Any, k_new: Any, v_new: Any) -> Any:
        for name, new in (("k", k_new), ("v", v_new)):
            caches[name] = caches[name].at[i].set(jnp.where(here, new, caches[name][i]))
        return _attention(jnp, q, caches["k"][i], caches["v"][i], seen)

    logits = gpt_blocks(net, x, attend)[0, -1]
    return logits, caches["k"], caches["v"]


def _generate() -> Built:
    """gpt-generate: one decode step and a top-k 10 draw at temperature 1 per token, jitted
    together; a full cache starts a new sequence from token 0, as in ``build_generate``."""
    jax, jnp, _, _ = _jax()
    params, _, count = _weights("gpt-generate")
    layers, heads, block, width = 4, 4, 64, 128
    shape = (layers, 1, heads, block, width // heads)

    def step(p: dict, k: Any, v: Any, pos: Any, token: Any, key: Any) -> tuple:
        logits, k, v = decode_logits(p, k, v, pos, token.reshape(1, 1))
        top, ix = jax.lax.top_k(logits, TOPK)
        key, sub = jax.random.split(key)
        return ix[jax.random.categorical(sub, top)], k, v, key

    compiled = jax.jit(step, donate_argnums=(1, 2))
    state = {"k": jnp.zeros(shape), "v": jnp.zeros(shape), "key": jax.random.PRNGKey(7)}
    seq = [0]

    def run() -> int:
        if len(seq) > block:
            seq[:] = [0]
        pos = jnp.asarray(len(seq) - 1)
        token, state["k"], state["v"], state["key"] = compiled(
            params, state["k"], state["v"], pos, jnp.asarray(seq[-1]), state["key"]
        )
        seq.append(int(token))
        return seq[-1]

    return Built(count, run)


def build(workload: str, batch: int | None = None) -> Built:
    """The JAX version of a bench row: a training workload (``batch`` overrides its batch
    size), ``gpt-generate``, or ``cnn-infer`` on ``batch`` images."""
    if workload == "gpt-generate":
        return _generate()
    if workload == "cnn-infer":
        if batch is None:
            raise ValueError("jax_workloads.build: cnn-infer needs a batch size: None vs an int")
        return _cnn_infer(batch)
    if workload not in workloads.TRAIN_WORKLOADS:
        raise KeyError(f"jax_workloads.build: unknown workload {workload!r}")
    return _train(workload, batch)
