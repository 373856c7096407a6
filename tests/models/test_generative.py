"""Generative models: shapes, parity with the torch peers, training steps, seeded sampling,
spectral norm and the WGAN-GP gradient penalty against PyTorch."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ember
from ember import nn
from ember.models.autoencoder import autoencoder
from ember.models.dcgan import dcgan, gradient_penalty
from ember.models.ddpm import beta_schedule, ddpm
from ember.models.vae import vae
from ember.nn.spectral_norm import remove_spectral_norm
from ember.nn.utils import spectral_norm

torch = pytest.importorskip("torch")
from ember.bench.workloads import make_inputs, model_zoo  # noqa: E402

ZOO = model_zoo(torch)


def nparams(*modules) -> int:
    return sum(p.numel() for m in modules for p in m.parameters())


def copy_from_torch(module: nn.Module, peer) -> None:
    """Load the torch peer's parameters and buffers into ``module`` (same names)."""
    state = {k: ember.tensor(v.detach().numpy()) for k, v in peer.state_dict().items()}
    module.load_state_dict(state)


def t2n(t) -> np.ndarray:
    return t.detach().numpy()


# -- parameter counts and forward parity with the torch peers -------------------------------
def test_parameter_counts_match_torch_peers():
    g = dcgan()
    peer = ZOO.dcgan()
    assert nparams(g.generator, g.discriminator) == nparams(peer.generator, peer.discriminator)
    assert nparams(vae()) == nparams(ZOO.vae())
    assert nparams(ddpm()) == nparams(ZOO.ddpm())


def test_dcgan_matches_torch_forward():
    model, peer = dcgan(), ZOO.dcgan()
    tg, td = peer.generator, peer.discriminator
    copy_from_torch(model.generator, tg)
    copy_from_torch(model.discriminator, td)
    z = np.random.default_rng(0).standard_normal((6, 100), dtype=np.float32)
    fake = model(ember.tensor(z))
    assert fake.shape == (6, 1, 28, 28)
    np.testing.assert_allclose(fake.detach().numpy(), t2n(tg(torch.tensor(z))), atol=1e-5)
    logits = model.discriminator(fake)
    assert logits.shape == (6, 1)
    np.testing.assert_allclose(
        logits.detach().numpy(), t2n(td(torch.tensor(fake.detach().numpy()))), atol=1e-4
    )


def test_vae_matches_torch_encoder_and_decoder():
    model, peer = vae(), ZOO.vae()
    copy_from_torch(model, peer)
    x = np.random.default_rng(1).random((5, 784), dtype=np.float32)
    mu, lv = model.encode(ember.tensor(x))
    h = torch.relu(peer.fc1(torch.tensor(x)))
    np.testing.assert_allclose(mu.detach().numpy(), t2n(peer.mu(h)), atol=1e-5)
    np.testing.assert_allclose(lv.detach().numpy(), t2n(peer.lv(h)), atol=1e-5)
    dec = model.decode(mu)
    assert dec.shape == (5, 1, 28, 28)
    ref = torch.sigmoid(peer.fc4(torch.relu(peer.fc3(peer.mu(h)))))
    np.testing.assert_allclose(dec.detach().numpy().reshape(5, 784), t2n(ref), atol=1e-5)


def test_vae_loss_is_bce_sum_plus_kl():
    model = vae()
    x = ember.rand(4, 784)
    gen = ember.Generator().manual_seed(3)
    recon, mu, lv = model(x, ember.Generator().manual_seed(3))
    loss = model.loss(x, gen)
    r, m, v, xx = (torch.tensor(t.detach().numpy()) for t in (recon, mu, lv, x))
    ref = torch.nn.functional.binary_cross_entropy(r, xx, reduction="sum") - 0.5 * torch.sum(
        1 + v - m.pow(2) - v.exp()
    )
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)


def test_ddpm_unet_matches_torch_forward():
    model, peer = ddpm(), ZOO.ddpm()
    copy_from_torch(model.model, peer)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 1, 28, 28), dtype=np.float32)
    t = np.array([3, 917])
    out = model(ember.tensor(x), ember.tensor(t))
    assert out.shape == (2, 1, 28, 28)
    np.testing.assert_allclose(
        out.detach().numpy(), t2n(peer(torch.tensor(x), torch.tensor(t))), atol=1e-4
    )


def test_ddpm_schedules():
    abar = ddpm().alphas_cumprod
    np.testing.assert_allclose(abar, make_inputs("ddpm", batch=1)["abar"], rtol=1e-5)
    betas = beta_schedule("cosine", 1000)
    f = np.cos((np.arange(1001) / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2
    np.testing.assert_allclose(np.cumprod(1 - betas)[:-1], (f[1:] / f[0])[:-1], rtol=1e-6)
    assert betas.max() <= 0.999 and np.all(np.diff(betas[:-1]) > 0)
    with pytest.raises(ValueError, match="unknown beta schedule 'quadratic'"):
        ddpm(schedule="quadratic")


def test_ddpm_q_sample_is_the_closed_form():
    model = ddpm(schedule="cosine")
    x0, noise = ember.randn(3, 1, 28, 28), ember.randn(3, 1, 28, 28)
    t = ember.tensor([0, 500, 999])
    a = model.alphas_cumprod[[0, 500, 999]].reshape(-1, 1, 1, 1)
    ref = np.sqrt(a) * x0.detach().numpy() + np.sqrt(1 - a) * noise.detach().numpy()
    np.testing.assert_allclose(model.q_sample(x0, t, noise).detach().numpy(), ref, atol=1e-6)


@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_autoencoder_and_vae_variant_shapes(kind):
    x = ember.rand(3, 1, 28, 28)
    ae = autoencoder(kind=kind, latent_dim=7)
    assert ae.encode(x).shape == (3, 7) and ae(x).shape == (3, 1, 28, 28)
    v = vae(kind=kind, latent_dim=5)
    recon, mu, lv = v(x)
    assert recon.shape == (3, 1, 28, 28) and mu.shape == lv.shape == (3, 5)
    assert v.sample(4).shape == (4, 1, 28, 28)
    assert 0 < recon.detach().numpy().min() and recon.detach().numpy().max() < 1


def test_model_config_errors():
    with pytest.raises(ValueError, match="Autoencoder: unknown kind 'rnn'"):
        autoencoder(kind="rnn")
    with pytest.raises(ValueError, match="VAE: conv needs image_size divisible by 4: 30"):
        vae(kind="conv", image_size=30)
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        dcgan(label_smoothing=1.0)
    with pytest.raises(ValueError, match="unknown method 'euler'"):
        ddpm(timesteps=5).sample(1, method="euler")
    with pytest.raises(ValueError, match=r"steps must be in \[1, 5\]: 9"):
        ddpm(timesteps=5).sample(1, method="ddim", steps=9)


# -- a few training steps on a fixed batch decrease the loss --------------------------------
def _train_steps(params, loss_fn, steps: int, lr: float) -> list[float]:
    opt = ember.optim.Adam(params, lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize(
    "build",
    [
        lambda: autoencoder(kind="mlp"),
        lambda: autoencoder(kind="conv"),
        lambda: vae(kind="mlp"),
        lambda: vae(kind="conv"),
    ],
    ids=["ae-mlp", "ae-conv", "vae-mlp", "vae-conv"],
)
def test_reconstruction_models_learn_a_fixed_batch(build):
    model = build()
    x = ember.rand(8, 1, 28, 28)

    def loss():  # the same ε every step: a fixed objective
        return (
            model.loss(x, ember.Generator().manual_seed(0))
            if hasattr(model, "mu")
            else (model.loss(x))
        )

    losses = _train_steps(model.parameters(), loss, 10, 2e-3)
    assert losses[-1] < 0.95 * losses[0]


def test_ddpm_learns_a_fixed_batch():
    model = ddpm(width=8, time_dim=16, groups=4)
    x0 = ember.rand(4, 1, 28, 28) * 2 - 1
    losses = _train_steps(
        model.parameters(), lambda: model.loss(x0, ember.Generator().manual_seed(1)), 6, 3e-3
    )
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.parametrize("sn", [False, True], ids=["bn", "spectral-norm"])
def test_dcgan_discriminator_and_generator_losses_decrease(sn):
    model = dcgan(width=8, spectral_norm=sn, label_smoothing=0.1)
    real = ember.rand(8, 1, 28, 28) * 2 - 1
    fake = model.sample(8).detach()
    d_losses = _train_steps(
        model.discriminator.parameters(), lambda: model.discriminator_loss(real, fake), 6, 2e-3
    )
    assert d_losses[-1] < d_losses[0]
    z = model.sample_latent(8)
    g_losses = _train_steps(
        model.generator.parameters(), lambda: model.generator_loss(model(z)), 6, 2e-3
    )
    assert g_losses[-1] < g_losses[0]


def test_label_smoothing_sets_the_real_target():
    model = dcgan(width=8, label_smoothing=0.2)
    model.discriminator.eval()  # fixed BN statistics: the same logits on every call
    real, fake = ember.rand(4, 1, 28, 28), ember.rand(4, 1, 28, 28)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    d_real, d_fake = model.discriminator(real), model.discriminator(fake)
    ref = bce(torch.tensor(d_real.detach().numpy()), torch.full((4, 1), 0.8)) + bce(
        torch.tensor(d_fake.detach().numpy()), torch.zeros(4, 1)
    )
    assert model.discriminator_loss(real, fake).item() == pytest.approx(ref.item(), rel=1e-5)


# -- seeded sampling ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method,steps,eta", [("ddpm", None, 0.0), ("ddim", 4, 0.0), ("ddim", 4, 1.0)]
)
def test_ddpm_sampling_is_reproducible_with_a_seed(method, steps, eta):
    model = ddpm(timesteps=8, width=8, time_dim=16, groups=4).eval()

    def draw(seed):
        gen = ember.Generator().manual_seed(seed)
        return model.sample(2, generator=gen, method=method, steps=steps, eta=eta).detach().numpy()

    a, b, c = draw(5), draw(5), draw(6)
    assert a.shape == (2, 1, 28, 28)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert np.abs(a).max() <= 1.0 + 1e-5 or not model.config.clip_denoised


def test_gan_and_vae_sampling_is_reproducible_with_a_seed():
    for model in (dcgan(width=8).eval(), vae()):
        a = model.sample(3, generator=ember.Generator().manual_seed(1)).detach().numpy()
        b = model.sample(3, generator=ember.Generator().manual_seed(1)).detach().numpy()
        np.testing.assert_array_equal(a, b)


# -- spectral norm vs torch -----------------------------------------------------------------
@pytest.mark.parametrize(
    "make,shape",
    [
        (lambda m: m.Linear(6, 5), (3, 6)),
        (lambda m: m.Conv2d(2, 4, 3), (2, 2, 6, 6)),
        (lambda m: m.ConvTranspose2d(3, 2, 4, 2, 1), (2, 3, 5, 5)),
    ],
    ids=["linear", "conv2d", "conv_transpose2d"],
)
def test_spectral_norm_matches_torch(make, shape):
    peer = torch.nn.utils.spectral_norm(make(torch.nn).double(), n_power_iterations=2)
    layer = spectral_norm(make(nn).double(), n_power_iterations=2)
    state = {k: ember.tensor(v.detach().numpy()) for k, v in peer.state_dict().items()}
    layer.load_state_dict(state)  # the same weight_orig and the same u, v
    x = np.random.default_rng(0).standard_normal(shape)
    for training in (True, True, False):  # two power-iteration steps, then the stored vectors
        peer.train(training)
        layer.train(training)
        out = layer(ember.tensor(x))
        np.testing.assert_allclose(
            out.detach().numpy(), t2n(peer(torch.tensor(x))), rtol=1e-10, atol=1e-12
        )
        np.testing.assert_allclose(layer.weight_u.detach().numpy(), t2n(peer.weight_u), rtol=1e-10)
        np.testing.assert_allclose(layer.weight_v.detach().numpy(), t2n(peer.weight_v), rtol=1e-10)
    # σ of the normalised weight is 1 after the power iteration has converged
    for _ in range(100):
        layer.train()(ember.tensor(x))
    mat = layer.weight.detach().numpy()
    mat = (mat.swapaxes(0, 1) if isinstance(layer, nn.ConvTranspose2d) else mat).reshape(
        mat.shape[1 if isinstance(layer, nn.ConvTranspose2d) else 0], -1
    )
    assert np.linalg.svd(mat, compute_uv=False)[0] == pytest.approx(1.0, rel=1e-3)


def test_spectral_norm_gradient_matches_torch():
    peer = torch.nn.utils.spectral_norm(torch.nn.Linear(4, 3).double())
    layer = spectral_norm(nn.Linear(4, 3).double())
    layer.load_state_dict(
        {k: ember.tensor(v.detach().numpy()) for k, v in peer.state_dict().items()}
    )
    x = np.random.default_rng(1).standard_normal((5, 4))
    layer(ember.tensor(x)).pow(2).sum().backward()
    peer(torch.tensor(x)).pow(2).sum().backward()
    np.testing.assert_allclose(
        layer.weight_orig.grad.detach().numpy(), t2n(peer.weight_orig.grad), rtol=1e-9
    )


def test_spectral_norm_state_and_errors():
    layer = spectral_norm(nn.Linear(3, 2))
    assert sorted(layer.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert sorted(n for n, _ in layer.named_parameters()) == ["bias", "weight_orig"]
    with pytest.raises(RuntimeError, match="'weight' already has spectral norm applied"):
        spectral_norm(layer)
    with pytest.raises(ValueError, match="Linear has no parameter 'scale'"):
        spectral_norm(nn.Linear(3, 2), name="scale")
    with pytest.raises(ValueError, match="n_power_iterations must be non-negative: -1"):
        spectral_norm(nn.Linear(3, 2), n_power_iterations=-1)
    layer.eval()
    expected = layer(ember.ones(1, 3)).detach().numpy()
    remove_spectral_norm(layer)
    assert sorted(layer.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(layer(ember.ones(1, 3)).detach().numpy(), expected, rtol=1e-6)


# -- WGAN-GP gradient penalty vs torch (double backward) ------------------------------------
def _critic(m):  # tanh, not LeakyReLU: curvature, so the first bias gets a penalty gradient
    return m.Sequential(m.Conv2d(1, 3, 3, 2, 1), m.Tanh(), m.Flatten(), m.Linear(3 * 4 * 4, 1))


def test_gradient_penalty_value_and_parameter_gradients_match_torch():
    peer, critic = _critic(torch.nn).double(), _critic(nn).double()
    copy_from_torch(critic, peer)
    rng = np.random.default_rng(3)
    real, fake = rng.standard_normal((4, 1, 8, 8)), rng.standard_normal((4, 1, 8, 8))
    gp = gradient_penalty(
        critic, ember.tensor(real), ember.tensor(fake), generator=ember.Generator().manual_seed(9)
    )
    eps = ember.rand(4, 1, 1, 1, generator=ember.Generator().manual_seed(9), dtype=ember.float64)
    e = torch.tensor(eps.detach().numpy())
    mixed = (e * torch.tensor(real) + (1 - e) * torch.tensor(fake)).requires_grad_(True)
    (g,) = torch.autograd.grad(peer(mixed).sum(), mixed, create_graph=True)
    ref = ((g.reshape(4, -1).pow(2).sum(1) + 1e-12).sqrt() - 1).pow(2).mean()
    assert gp.item() == pytest.approx(ref.item(), rel=1e-10)
    gp.backward()
    ref.backward()
    checked = 0
    for (name, p), q in zip(critic.named_parameters(), peer.parameters()):
        # a parameter the input gradient does not depend on (the last bias) gets no gradient
        ours = np.zeros(p.shape) if p.grad is None else p.grad.detach().numpy()
        theirs = np.zeros(tuple(q.shape)) if q.grad is None else t2n(q.grad)
        np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-12, err_msg=name)
        checked += q.grad is not None and bool(np.any(theirs))
    assert checked == 3  # all but the last bias, which ∇ₓ critic does not depend on


def test_gradient_penalty_shape_error():
    with pytest.raises(ValueError, match=r"same shape: \(2, 1, 8, 8\) vs \(3, 1, 8, 8\)"):
        gradient_penalty(_critic(nn), ember.rand(2, 1, 8, 8), ember.rand(3, 1, 8, 8))
