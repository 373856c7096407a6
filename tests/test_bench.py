"""``ember bench``: workloads train, match PyTorch's parameter counts; reports keep their layout.

Workloads whose layers ember does not have yet are skipped with the reason, so these tests
light up as layers land. The same builders also run on PyTorch, which checks the harness.
No test asserts a timing.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

import ember
import ember.bench as bench
from ember.bench import flops, peers, report, runner, workloads

torch = pytest.importorskip("torch")

FRAMEWORKS = {"ember": ember, "torch": torch}
PEERS = Path(__file__).resolve().parents[2] / "shared" / "bench" / "peers" / "common.py"
TINY = ["--steps", "2", "--warmup", "1", "--tokens", "2", "--peak-size", "64", "--no-overhead"]


def _fw(name: str) -> workloads.Framework:
    return workloads.Framework(name, FRAMEWORKS[name])


def _build(name: str, build):
    """Run a builder; skip when ember lacks a layer the workload needs."""
    try:
        return build(_fw(name))
    except Exception as exc:  # noqa: BLE001 - classified below
        status, reason = runner.classify_failure(exc)
        if name == "ember" and status == "unavailable":
            pytest.skip(f"ember lacks a layer: {reason}")
        raise


def _first_loss(value):
    return value[0] if isinstance(value, tuple) else value


@pytest.mark.parametrize("workload", workloads.TRAIN_WORKLOADS)
def test_training_workload_learns_its_fixed_batch(workload: str) -> None:
    built = _build("ember", lambda f: workloads.build_train(f, workload, batch=2))
    losses = [_first_loss(built.step()) for _ in range(5)]
    assert all(isinstance(v, float) and math.isfinite(v) for v in losses)
    # dcgan's first value is the discriminator loss, which must fall on a fixed batch too
    assert np.mean(losses[-2:]) < losses[0], losses


@pytest.mark.parametrize("workload", workloads.TRAIN_WORKLOADS)
def test_parameter_counts_match_pytorch(workload: str) -> None:
    ours = _build("ember", lambda f: workloads.build_train(f, workload, batch=2)).params
    assert ours == workloads.build_train(_fw("torch"), workload, batch=2).params


@pytest.mark.parametrize("fw", ["ember", "torch"])
def test_gpt_generate_samples_tokens_from_the_vocabulary(fw: str) -> None:
    built = _build(fw, workloads.build_generate)
    tokens = [built.step() for _ in range(3)]
    assert all(isinstance(t, int) and 0 <= t < 65 for t in tokens)
    assert built.params == workloads.build_generate(_fw("torch")).params


def test_gpt_generate_compiled_draws_the_eager_tokens_from_one_graph() -> None:
    eager = _build("ember", workloads.build_generate)
    kept: list = []

    def compile_fn(fn):
        kept.append(ember.jit(fn))
        return kept[-1]

    compiled = _build("ember", lambda f: workloads.build_generate(f, compile_fn))
    n = 70  # past the 64-slot cache: the sequence starts again at position 0
    assert [compiled.step() for _ in range(n)] == [eager.step() for _ in range(n)]
    assert kept[0].traces == 1  # the static cache keeps one shape at every position


@pytest.mark.parametrize("fw", ["ember", "torch"])
def test_cnn_infer_returns_host_logits(fw: str) -> None:
    built = _build(fw, lambda f: workloads.build_cnn_infer(f, 3))
    out = built.step()
    assert isinstance(out, np.ndarray) and out.shape == (3, 10)
    assert built.params == workloads.build_cnn_infer(_fw("torch"), 3).params


def test_flops_follow_the_matmul_and_conv_rules() -> None:
    mlp = 3 * 2 * 128 * (784 * 512 + 512 * 512 + 512 * 10)
    assert flops.train_gflop("mlp") == pytest.approx(mlp / 1e9)
    cnn1 = 2 * 26 * 26 * 32 * 9 + 2 * 24 * 24 * 64 * 32 * 9 + 2 * 9216 * 128 + 2 * 128 * 10
    assert flops.infer_gflop(1) == pytest.approx(cnn1 / 1e9)
    assert flops.conv_t(1, 3, 5, 4, 7, 7) == 2 * 3 * 49 * 5 * 16
    # a cached decode step: 4 layers of one position, the query against 1…64 keys (mean 32.5)
    layer = 2 * (128 * 384 + 128 * 128 + 2 * 128 * 512) + 2 * 2 * 128 * 32.5
    assert flops.generate_gflop_per_token() == pytest.approx((4 * layer + 2 * 128 * 65) / 1e9)


@pytest.mark.skipif(not PEERS.exists(), reason="shared/bench/peers not beside the checkout")
def test_flops_equal_the_peer_scripts() -> None:
    spec = importlib.util.spec_from_file_location("peers_common", PEERS)
    common = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(common)
    for w in workloads.TRAIN_WORKLOADS:
        assert flops.train_gflop(w) == pytest.approx(common.train_flops(w) / 1e9), w
    assert flops.infer_gflop(256) == pytest.approx(common.cnn_infer_flops(256) / 1e9)


def test_summary_statistics_match_numpy() -> None:
    xs = [0.003, 0.001, 0.002, 0.010, 0.004, 0.005]
    s = runner.summarize(xs)
    assert s["median_ms"] == pytest.approx(np.median(xs) * 1e3)
    assert s["p10_ms"] == pytest.approx(np.percentile(xs, 10) * 1e3)
    assert s["p90_ms"] == pytest.approx(np.percentile(xs, 90) * 1e3)
    assert s["steps_per_s"] == pytest.approx(1 / np.median(xs), rel=1e-3)
    assert s["n"] == 6


def test_alternation_interleaves_chunks_and_isolates_failures() -> None:
    calls: list[str] = []

    def failing() -> None:
        calls.append("bad")
        if len([c for c in calls if c == "bad"]) > 2:
            raise RuntimeError("boom")

    out = runner.time_alternating(
        {"a": lambda: calls.append("a"), "b": lambda: calls.append("b"), "bad": failing},
        n_steps=4,
        warmup=1,
        chunk=2,
    )
    assert calls == ["a", "b", "bad", "a", "a", "b", "b", "bad", "bad", "a", "a", "b", "b"]
    assert len(out["a"].times) == 4 and len(out["b"].times) == 4
    assert isinstance(out["bad"].failure, RuntimeError)


def test_missing_layers_are_unavailable_other_failures_are_errors() -> None:
    missing = AttributeError("module 'ember.nn' has no attribute 'LSTM'")
    assert runner.classify_failure(missing) == (
        "unavailable",
        "AttributeError: module 'ember.nn' has no attribute 'LSTM'",
    )
    assert runner.classify_failure(ValueError("matmul: bad"))[0] == "error"


def test_report_layout_is_stable(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    js, md = tmp_path / "r.json", tmp_path / "r.md"
    argv = ["mlp", "gpt-generate", "--compare", "torch", "--json", str(js), "--markdown", str(md)]
    bench.main(argv + TINY)
    data = json.loads(js.read_text())
    assert tuple(data) == report.REPORT_KEYS and data["schema"] == report.SCHEMA
    assert [(r["workload"], r["unit"]) for r in data["results"]] == [
        ("mlp", "step"),
        ("gpt-generate", "token"),
    ]
    for rec in data["results"]:
        assert tuple(rec) == report.RESULT_KEYS
        assert tuple(rec["ember"]) == report.SIDE_KEYS == tuple(rec["torch"])
        assert rec["torch"]["status"] == "ok" and rec["torch"]["n"] == 2
    assert data["results"][0]["gflop"] == pytest.approx(flops.train_gflop("mlp"), rel=1e-4)
    lines = md.read_text().splitlines()
    header = next(line for line in lines if line.startswith("| workload"))
    assert header == "| " + " | ".join(report.MD_COLUMNS) + " |"
    assert "| mlp | 669,706 |" in md.read_text()
    assert md.read_text() in capsys.readouterr().out


def test_update_replaces_only_the_marked_table(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{report.SECTION_START}\nold table\n{report.SECTION_END}\noutro\n")
    readme.chmod(0o644)
    bench.main(["mlp", "--update", str(readme), *TINY])
    text = readme.read_text()
    assert text.startswith(f"intro\n{report.SECTION_START}\n<!-- generated by `ember bench`")
    assert "old table" not in text and "| mlp | 669,706 |" in text
    assert text.endswith(f"{report.SECTION_END}\noutro\n")
    assert readme.stat().st_mode & 0o777 == 0o644


def test_update_without_markers_fails_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    with pytest.raises(ValueError, match="has no '<!-- ember bench table: start -->'"):
        bench.main(["mlp", "--update", str(readme), *TINY])
    assert readme.read_text() == "no markers here\n"


def test_parameter_mismatch_is_loud(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    real = workloads.build_cnn_infer

    def ember_counts_one_parameter(fw, batch, zoo=None):
        if fw.name == "ember":
            return workloads.Built(params=1, step=lambda: None)
        return real(fw, batch, zoo)

    monkeypatch.setattr(workloads, "build_cnn_infer", ember_counts_one_parameter)
    assert bench.main(["cnn-infer", "--compare", "torch", *TINY]) == 1
    assert "PARAMETER COUNT MISMATCH in cnn-infer: ember 1 vs torch 1,199,882" in (
        capsys.readouterr().out
    )


def test_cli_rejects_unknown_workloads(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc:
        bench.main(["mlpp"])
    assert exc.value.code == 2
    assert "invalid choice: 'mlpp'" in capsys.readouterr().err


def test_jit_flag_says_when_ember_jit_is_missing(capsys: pytest.CaptureFixture) -> None:
    if bench._jit_compile_fn(lambda msg: None) is not None:
        pytest.skip("ember.jit has a compile function")
    bench.main(["mlp", "--jit", *TINY])
    assert "ember.jit not available yet" in capsys.readouterr().out


def test_compare_takes_a_comma_list_of_peers(capsys: pytest.CaptureFixture) -> None:
    assert peers.parse_peers("torch") == ("torch",)
    assert peers.parse_peers("jax, torch,torch-compile,jax") == ("jax", "torch", "torch-compile")
    with pytest.raises(SystemExit) as exc:
        bench.main(["mlp", "--compare", "torch,tensorflow"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "unknown peer 'tensorflow': expected a comma list of torch, torch-compile, jax" in err
    sides = {
        "torch": {"status": "ok", "median_ms": 3.0},
        "jax": {"status": "ok", "median_ms": 2.0},
        "torch-compile": {"status": "error", "median_ms": None},
    }
    assert peers.best_peer(sides) == "jax" and peers.best_peer({}) is None


def _jax_or_skip():
    if importlib.util.find_spec("jax") is None or importlib.util.find_spec("optax") is None:
        pytest.skip("jax and optax are not installed (pip install 'ember[bench-jax]')")
    from ember.bench import jax_workloads

    jax_workloads.configure(1)
    return jax_workloads


# deterministic steps: the first two losses follow from the weights, the batch and the update
JAX_EXACT = ["mlp", "resnet", "lstm", "gpt", "dcgan", "ddpm"]


@pytest.mark.parametrize("workload", workloads.TRAIN_WORKLOADS)
def test_jax_workload_trains_the_ember_model(workload: str) -> None:
    jax_workloads = _jax_or_skip()
    ours = _build("ember", lambda f: workloads.build_train(f, workload, batch=2))
    theirs = jax_workloads.build(workload, batch=2)
    assert theirs.params == ours.params
    first, second = [ours.step() for _ in range(2)], [theirs.step() for _ in range(2)]
    if workload in JAX_EXACT:  # same weights, batch and optimizer: same losses
        np.testing.assert_allclose(second[0], first[0], rtol=1e-5)
        np.testing.assert_allclose(second[1], first[1], rtol=2e-3, atol=1e-3)
    losses = [_first_loss(v) for v in second + [theirs.step() for _ in range(3)]]
    assert all(math.isfinite(v) for v in losses) and np.mean(losses[-2:]) < losses[0], losses


def test_jax_inference_rows_compute_the_ember_model() -> None:
    jax_workloads = _jax_or_skip()
    import jax.numpy as jnp

    built = jax_workloads.build("cnn-infer", 3)
    ours = _build("ember", lambda f: workloads.build_cnn_infer(f, 3))
    np.testing.assert_allclose(built.step(), ours.step(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="cnn-infer needs a batch size"):
        jax_workloads.build("cnn-infer")
    # the decode step: the logits of ember's GPT.decode_step, position by position
    params = jax_workloads._weights("gpt-generate")[0]
    ember.manual_seed(workloads.SEED)
    model = workloads.model_zoo(ember).gpt().eval()
    cache, k = model.new_static_cache(1), jnp.zeros((4, 1, 4, 64, 32))
    v = k
    with ember.no_grad():
        for pos, token in enumerate([0, 5, 7, 3, 64]):
            expect = model.decode_step(ember.tensor([[token]]), cache)[0].numpy()
            got, k, v = jax_workloads.decode_logits(
                params, k, v, jnp.asarray(pos), jnp.asarray([[token]])
            )
            np.testing.assert_allclose(np.asarray(got), expect, rtol=1e-4, atol=1e-4)
    generated = jax_workloads.build("gpt-generate")
    assert generated.params == 809_856
    assert all(0 <= generated.step() < 65 for _ in range(66))  # past a full cache


def test_report_names_each_peer_and_the_best(tmp_path: Path) -> None:
    _jax_or_skip()
    js, md = tmp_path / "r.json", tmp_path / "r.md"
    argv = ["mlp", "--compare", "torch,torch-compile,jax", "--threads", "1", "--json", str(js)]
    bench.main(argv + ["--markdown", str(md), *TINY])
    rec = json.loads(js.read_text())["results"][0]
    assert list(rec["peers"]) == ["torch", "torch-compile", "jax"] and rec["params_match"]
    assert rec["peers"]["torch"] == rec["torch"]
    timed = {n: s["median_ms"] for n, s in rec["peers"].items() if s["status"] == "ok"}
    assert set(timed) >= {"torch", "jax"}  # torch-compile may fail; then its reason is noted
    assert rec["best_peer"] == min(timed, key=timed.get)
    assert rec["best_ratio"] == pytest.approx(
        rec["ember"]["median_ms"] / timed[rec["best_peer"]], rel=1e-2
    )
    header = next(line for line in md.read_text().splitlines() if line.startswith("| workload"))
    assert header.endswith(
        "| torch-compile ms (p10–p90) | jax ms (p10–p90) | best peer | ember/best |"
    )


def test_bench_arguments_default_to_every_workload() -> None:
    import argparse

    import ember.bench as bench

    p = argparse.ArgumentParser()
    bench.add_arguments(p)
    assert "all" in p.parse_args([]).workloads  # no "invalid choice: ['all']" (Python 3.11)
    assert p.parse_args(["mlp", "vae"]).workloads == ["mlp", "vae"]
