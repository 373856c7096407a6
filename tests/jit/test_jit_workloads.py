"""Every reference training workload (ember/bench/workloads.py): 10 jitted steps give the same
losses, parameters, buffers (BatchNorm statistics) and generator state as 10 eager steps from
the same seed, with dropout (cnn), BatchNorm (resnet, dcgan) and sampled noise (vae) inside."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import ember
from ember.bench import workloads

STEPS = 10
BATCH = {"dcgan": 8}  # BatchNorm over 2 samples is degenerate: its gradients are rounding noise
# (rtol, atol) of parameters and buffers. NumPy's float32 reductions round differently with
# the alignment of their buffers, so replays agree with eager steps to rounding, not bit for
# bit; the GAN's two players and BatchNorm amplify that rounding over 10 steps (measured:
# grads equal to 1e-8 at the first replay; nudging one initial weight by one ulp moves the
# eager run's parameters by 1.1e-3 after 10 steps, and 9 replayed steps end within 2.7e-3).
TOLERANCE = {"dcgan": (1e-2, 4e-3)}
FAST = ["mlp", "cnn", "resnet", "lstm", "gpt", "dcgan", "vae"]
CASES = [
    *[(w, "plan") for w in FAST],
    pytest.param("ddpm", "plan", marks=pytest.mark.slow),
    ("mlp", "native"),
    *[pytest.param(w, "native", marks=pytest.mark.slow) for w in FAST[1:] + ["ddpm"]],
]


def _run(workload: str, compile_fn: object) -> tuple[np.ndarray, list, np.ndarray]:
    """(losses, [(name, array, Adam's exp_avg_sq or None)], generator state) after STEPS."""
    built = workloads.build_train(
        workloads.Framework("ember", ember), workload, compile_fn, batch=BATCH.get(workload, 2)
    )
    losses = np.array([built.step() for _ in range(STEPS)], dtype=np.float64)
    modules = [m for m in built.state if hasattr(m, "named_buffers")]
    optimizers = [o for o in built.state if hasattr(o, "param_groups")]
    second = {id(p): s.get("exp_avg_sq") for o in optimizers for p, s in o.state.items()}
    state = []
    for i, m in enumerate(modules):
        for name, p in m.named_parameters():
            v = second.get(id(p))
            state.append((f"{i}.{name}", p.numpy(force=True), None if v is None else v.numpy()))
        for name, b in m.named_buffers():  # BatchNorm running statistics and batch counts
            state.append((f"{i}.{name}", b.numpy(), None))
    return losses, state, ember.random.get_rng_state().numpy()


@pytest.mark.parametrize(("workload", "executor"), CASES)
def test_jitted_steps_match_eager_steps(
    workload: str, executor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ember.config, "jit_native", executor == "native")
    eager_losses, eager_state, eager_rng = _run(workload, lambda f: f)
    compiled: list[ember.jit.JitFunction] = []

    def jit(fn: object) -> ember.jit.JitFunction:
        compiled.append(ember.jit(fn))
        return compiled[-1]

    losses, state, rng = _run(workload, jit)
    assert [c.traces for c in compiled] == [1], "one graph for the whole run, no retraces"
    rtol, atol = TOLERANCE.get(workload, (1e-4, 1e-5))
    np.testing.assert_allclose(losses, eager_losses, rtol=rtol, err_msg="losses")
    np.testing.assert_array_equal(rng, eager_rng, err_msg="generator state after the run")
    for (name, expected, v), (_, actual, _) in zip(eager_state, state, strict=True):
        # Adam turns a gradient that is rounding noise (a bias before BatchNorm, attention's
        # key bias: mathematically zero) into full-size steps: those elements are not compared
        signal = np.ones(expected.shape, bool) if v is None else np.sqrt(v) > 1e-6
        np.testing.assert_allclose(
            actual[signal], expected[signal], rtol=rtol, atol=atol, err_msg=name
        )


def test_bench_jit_reports_jitted_eager_and_compile_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ember bench mlp --jit``: the jitted step, eager ember beside it, the compile time
    with an empty kernel cache and with the kernels cached (the user's cache is untouched)."""
    from ember import bench

    monkeypatch.setattr(ember.config, "jit_cache_dir", tmp_path / "user-cache")

    out = tmp_path / "bench.json"
    argv = ["mlp", "--jit", "--steps", "2", "--warmup", "2", "--peak-size", "64"]
    assert bench.main([*argv, "--no-overhead", "--no-memory", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    (rec,) = report["results"]
    assert report["meta"]["jit"] and rec["ember"]["status"] == rec["eager"]["status"] == "ok"
    assert rec["ember"]["compile_s"] > 0 and rec["ember"]["n"] == rec["eager"]["n"] == 2
    assert rec["ember"]["compile_cold_s"] > 0
    assert not (tmp_path / "user-cache").exists()  # the row compiled into a temporary cache
    if ember.jit.native.compiler() is not None:  # the cold build ran the C compiler
        assert rec["ember"]["compile_cold_s"] > rec["ember"]["compile_s"]
    assert rec["jit_speedup"] == pytest.approx(
        rec["eager"]["median_ms"] / rec["ember"]["median_ms"], rel=1e-2
    )
    assert "| jit speedup | compile s cold / cached |" in bench.report.to_markdown(report)
