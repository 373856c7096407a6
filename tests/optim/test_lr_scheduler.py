"""Learning-rate schedulers vs PyTorch: the lr (and momentum) sequence over 40 steps."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import ember
from ember import optim
from ember.optim import lr_scheduler as S

torch = pytest.importorskip("torch")
TS = torch.optim.lr_scheduler

STEPS = 40


def _optimizer(lib: str, name: str = "SGD") -> Any:
    mod, opt = (torch, torch.optim) if lib == "torch" else (ember, optim)
    a, b = mod.zeros(2, requires_grad=True), mod.zeros(3, requires_grad=True)
    kwargs = dict(momentum=0.9) if name == "SGD" else {}
    return getattr(opt, name)([{"params": [a]}, {"params": [b], "lr": 0.05}], lr=0.1, **kwargs)


def _cosine_then_linear(lib: str, opt: Any) -> Any:
    sched = TS if lib == "torch" else S
    first = sched.LinearLR(opt, start_factor=0.1, total_iters=5)
    second = sched.CosineAnnealingLR(opt, T_max=20, eta_min=0.001)
    third = sched.ExponentialLR(opt, gamma=0.9)
    return sched.SequentialLR(opt, [first, second, third], milestones=[5, 25])


SCHEDULES: list[tuple[str, str, Any, str]] = [
    ("step", "SGD", lambda m, o: m.StepLR(o, step_size=7, gamma=0.5), "lr"),
    (
        "multistep",
        "SGD",
        lambda m, o: m.MultiStepLR(o, milestones=[3, 10, 10, 22], gamma=0.3),
        "lr",
    ),
    ("exponential", "SGD", lambda m, o: m.ExponentialLR(o, gamma=0.93), "lr"),
    ("cosine", "SGD", lambda m, o: m.CosineAnnealingLR(o, T_max=15, eta_min=0.002), "lr"),
    (
        "linear",
        "SGD",
        lambda m, o: m.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=12),
        "lr",
    ),
    (
        "lambda",
        "SGD",
        lambda m, o: m.LambdaLR(o, [lambda e: 1 / (1 + e), lambda e: 0.95**e]),
        "lr",
    ),
    (
        "onecycle-cos",
        "SGD",
        lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=STEPS + 1),
        "momentum",
    ),
    (
        "onecycle-linear-3phase",
        "SGD",
        lambda m, o: m.OneCycleLR(
            o, max_lr=0.8, total_steps=STEPS + 1, anneal_strategy="linear", three_phase=True
        ),
        "momentum",
    ),
    (
        "onecycle-adam",
        "Adam",
        lambda m, o: m.OneCycleLR(o, max_lr=0.01, epochs=4, steps_per_epoch=11, pct_start=0.25),
        "betas",
    ),
    (
        "onecycle-nomomentum",
        "Adagrad",
        lambda m, o: m.OneCycleLR(o, 0.3, STEPS + 1, cycle_momentum=False),
        "lr",
    ),
    (
        "sequential",
        "SGD",
        lambda m, o: _cosine_then_linear("torch" if m is TS else "ember", o),
        "lr",
    ),
    ("constant", "SGD", lambda m, o: m.ConstantLR(o, factor=0.4, total_iters=9), "lr"),
    ("polynomial", "SGD", lambda m, o: m.PolynomialLR(o, total_iters=25, power=2.5), "lr"),
    (
        "multiplicative",
        "SGD",
        lambda m, o: m.MultiplicativeLR(o, [lambda e: 0.95, lambda e: 1 - 0.01 * (e % 3)]),
        "lr",
    ),
    (
        "warm-restarts",
        "SGD",
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=7, eta_min=0.01),
        "lr",
    ),
    (
        "warm-restarts-mult",
        "SGD",
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
        "lr",
    ),
    ("cyclic", "SGD", lambda m, o: m.CyclicLR(o, 0.01, [0.2, 0.1], step_size_up=4), "momentum"),
    (
        "cyclic-triangular2",
        "SGD",
        lambda m, o: m.CyclicLR(o, 0.01, 0.3, 3, 6, mode="triangular2", base_momentum=0.7),
        "momentum",
    ),
    (
        "cyclic-exp-range-adam",
        "Adam",
        lambda m, o: m.CyclicLR(o, [0.01, 0.02], 0.1, 5, mode="exp_range", gamma=0.97),
        "betas",
    ),
    (
        "cyclic-custom",
        "Adagrad",
        lambda m, o: m.CyclicLR(
            o,
            0.01,
            0.1,
            4,
            scale_fn=lambda x: 0.9**x,
            scale_mode="iterations",
            cycle_momentum=False,
        ),
        "lr",
    ),  # fmt: skip
    (
        "chained",
        "SGD",
        lambda m, o: m.ChainedScheduler(
            [m.ConstantLR(o, factor=0.1, total_iters=6), m.ExponentialLR(o, gamma=0.9)]
        ),
        "lr",
    ),
    (
        "chained-four",
        "SGD",
        lambda m, o: m.ChainedScheduler(
            [
                m.LinearLR(o, start_factor=0.2, total_iters=8),
                m.MultiStepLR(o, milestones=[10, 30], gamma=0.5),
                m.CosineAnnealingLR(o, T_max=6, eta_min=0.001),
                m.PolynomialLR(o, total_iters=30, power=0.5),
            ],
            optimizer=o,
        ),
        "lr",
    ),
    (
        "chained-step",
        "SGD",
        lambda m, o: m.ChainedScheduler(
            [m.StepLR(o, 4, 0.7), m.MultiplicativeLR(o, lambda e: 0.99)]
        ),
        "lr",
    ),
]


def _sequence(lib: str, opt_name: str, make: Any, extra: str) -> list:
    opt = _optimizer(lib, opt_name)
    sched = make(TS if lib == "torch" else S, opt)
    out = [(list(sched.get_last_lr()), [g[extra] for g in opt.param_groups])]
    for _ in range(STEPS):
        opt.step()
        sched.step()
        out.append((list(sched.get_last_lr()), [g[extra] for g in opt.param_groups]))
    return out


@pytest.mark.parametrize("case", SCHEDULES, ids=[c[0] for c in SCHEDULES])
def test_schedule_matches_torch(case: tuple) -> None:
    name, opt_name, make, extra = case
    ours = _sequence("ember", opt_name, make, extra)
    ref = _sequence("torch", opt_name, make, extra)
    for t, ((lr, x), (lr_ref, x_ref)) in enumerate(zip(ours, ref)):
        np.testing.assert_allclose(lr, lr_ref, rtol=1e-10, atol=1e-15, err_msg=f"{name} step {t}")
        np.testing.assert_allclose(
            np.array(x, dtype=float), np.array(x_ref, dtype=float), rtol=1e-10, err_msg=f"{extra}"
        )


PLATEAU_OPTIONS = [
    dict(patience=4),
    dict(mode="max", factor=0.5, patience=2),
    dict(patience=1, threshold=0.1, threshold_mode="abs", cooldown=2, min_lr=[0.01, 0.02]),
    dict(mode="max", patience=0, threshold_mode="abs", cooldown=1, min_lr=1e-3, eps=1e-3),
]


@pytest.mark.parametrize("kwargs", PLATEAU_OPTIONS, ids=[str(k) for k in PLATEAU_OPTIONS])
def test_reduce_on_plateau_matches_torch(kwargs: dict) -> None:
    rng = np.random.default_rng(0)
    metrics = np.cumsum(rng.standard_normal(STEPS) * 0.3) + 10 * np.exp(-np.arange(STEPS) / 8)
    seqs = []
    for lib, mod in (("ember", S), ("torch", TS)):
        opt = _optimizer(lib)
        sched = mod.ReduceLROnPlateau(opt, **kwargs)
        seq = []
        for m in metrics:
            opt.step()
            sched.step(float(m))
            seq.append(list(sched.get_last_lr()))
        seqs.append(seq)
    np.testing.assert_allclose(seqs[0], seqs[1], rtol=1e-12)
    assert seqs[0][0] != seqs[0][-1], "the schedule never reduced: the test checks nothing"


def test_state_dict_resumes_schedule() -> None:
    opt = _optimizer("ember")
    sched = S.CosineAnnealingLR(opt, T_max=10)
    for _ in range(4):
        sched.step()
    saved = sched.state_dict()
    assert "optimizer" not in saved and saved["last_epoch"] == 4
    opt2 = _optimizer("ember")
    opt2.load_state_dict(opt.state_dict())
    resumed = S.CosineAnnealingLR(opt2, T_max=10, last_epoch=3)
    resumed.load_state_dict(saved)
    for _ in range(5):
        sched.step()
        resumed.step()
        assert resumed.get_last_lr() == sched.get_last_lr()
    assert math.isclose(opt2.param_groups[0]["lr"], opt.param_groups[0]["lr"])


def test_sequential_state_dict_round_trip() -> None:
    opt = _optimizer("ember")
    sched = _cosine_then_linear("ember", opt)
    for _ in range(7):
        sched.step()
    saved = sched.state_dict()
    opt2 = _optimizer("ember")
    other = _cosine_then_linear("ember", opt2)
    other.load_state_dict(saved)
    for g, h in zip(opt.param_groups, opt2.param_groups):
        h["lr"] = g["lr"]
    for _ in range(25):
        sched.step()
        other.step()
        assert other.get_last_lr() == sched.get_last_lr()


RESUMABLE = {name: (opt, make) for name, opt, make, _ in SCHEDULES}


@pytest.mark.parametrize(
    "name", ["constant", "polynomial", "warm-restarts-mult", "cyclic-exp-range-adam", "chained"]
)
def test_new_schedulers_state_dict_round_trip(name: str) -> None:
    """A scheduler rebuilt from a state_dict (and the optimizer's) continues the same lrs."""
    opt_name, make = RESUMABLE[name]
    opt = _optimizer("ember", opt_name)
    sched = make(S, opt)
    for _ in range(11):
        opt.step()
        sched.step()
    opt2 = _optimizer("ember", opt_name)
    other = make(S, opt2)
    opt2.load_state_dict(opt.state_dict())
    other.load_state_dict(sched.state_dict())
    for _ in range(15):
        sched.step()
        other.step()
        assert other.get_last_lr() == sched.get_last_lr()
    assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]


def test_warm_restarts_fractional_epochs_match_torch() -> None:
    epochs = [0.5, 1.25, 3.0, 6.9, 7.0, 10.5, 22.0, 45.3, 2.0]
    seqs = []
    for lib, mod in (("ember", S), ("torch", TS)):
        opt = _optimizer(lib)
        sched = mod.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2, eta_min=0.001)
        seq = []
        for e in epochs:
            sched.step(e)
            seq.append((list(sched.get_last_lr()), sched.last_epoch))
        seqs.append(seq)
    for (lr, e), (lr_ref, e_ref) in zip(*seqs):
        np.testing.assert_allclose(lr, lr_ref, rtol=1e-12)
        assert e == e_ref


class _HalfEveryThird(S.LRScheduler):
    def get_lr(self) -> list[float]:
        return [base * 0.5 ** (self.last_epoch // 3) for base in self.base_lrs]


class _TorchHalfEveryThird(TS.LRScheduler):
    def get_lr(self) -> list[float]:
        return [base * 0.5 ** (self.last_epoch // 3) for base in self.base_lrs]


def test_custom_lr_scheduler_subclass_matches_torch() -> None:
    ours = _sequence("ember", "SGD", lambda m, o: _HalfEveryThird(o), "lr")
    ref = _sequence("torch", "SGD", lambda m, o: _TorchHalfEveryThird(o), "lr")
    np.testing.assert_allclose([lr for lr, _ in ours], [lr for lr, _ in ref], rtol=1e-12)


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda o: S.StepLR(object(), 3), TypeError, "expected an ember Optimizer"),
        (lambda o: S.LinearLR(o, start_factor=0.0), ValueError, "start_factor"),
        (lambda o: S.OneCycleLR(o, 0.1), ValueError, "total_steps OR"),
        (lambda o: S.OneCycleLR(o, 0.1, 10, anneal_strategy="exp"), ValueError, "anneal_strategy"),
        (lambda o: S.OneCycleLR(o, [0.1], 10), ValueError, "1 vs 2"),
        (lambda o: S.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor should be < 1.0"),
        (lambda o: S.ReduceLROnPlateau(o, mode="up"), ValueError, "mode must be"),
        (lambda o: S.StepLR(o, 3, last_epoch=5), KeyError, "initial_lr"),
        (
            lambda o: S.SequentialLR(o, [S.StepLR(o, 3)], milestones=[2]),
            ValueError,
            "one milestone fewer",
        ),
        (lambda o: S.ConstantLR(o, factor=1.5), ValueError, "factor must be in"),
        (lambda o: S.PolynomialLR(o, total_iters=0), ValueError, "total_iters must be positive"),
        (lambda o: S.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "positive integer T_0"),
        (lambda o: S.CosineAnnealingWarmRestarts(o, 2, T_mult=0), ValueError, "T_mult >= 1"),
        (lambda o: S.CyclicLR(o, 0.1, 1.0, mode="sine"), ValueError, "mode must be one of"),
        (
            lambda o: S.CyclicLR(ember.optim.Adagrad(o.param_groups[0]["params"]), 0.1, 1.0),
            ValueError,
            "must support momentum",
        ),
        (lambda o: S.ChainedScheduler([]), ValueError, "at least one scheduler"),
        (
            lambda o: S.ChainedScheduler([S.ReduceLROnPlateau(o)]),
            TypeError,
            "epoch-based LRScheduler",
        ),
        (
            lambda o: S.ChainedScheduler([S.StepLR(o, 2), S.StepLR(_optimizer("ember"), 2)]),
            ValueError,
            "same optimizer",
        ),
    ],
)
def test_scheduler_errors(make: Any, exc: type, match: str) -> None:
    with pytest.raises(exc, match=match):
        make(_optimizer("ember"))


def test_onecycle_too_many_steps() -> None:
    sched = S.OneCycleLR(_optimizer("ember"), 0.1, total_steps=3)
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="tried to step 4 times"):
        sched.step()
