"""``ember bench``: the reference workloads in ember, timed next to PyTorch in one run.

Flow: ``main(argv)`` parses the command line → ``run_suite`` measures the machine's float32
matmul peak, then for each workload builds the ember (and, with ``--compare torch``, the
PyTorch) version from the same model code (``workloads.model_zoo``), checks that the
parameter counts agree, times both alternately (``runner.time_alternating``) and adds FLOPs
(``flops``), MFU and ember's peak memory → ``report`` writes JSON, Markdown and console lines.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import importlib.util
import os
import platform
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from ember.argtypes import positive_int
from ember.bench import flops, jax_workloads, peers, report, runner, workloads
from ember.bench.workloads import ALL_WORKLOADS, CNN_INFER_BATCHES, GEN_TOKENS, Built, Framework
from ember.config import config
from ember.io.safetensors import atomic_write_bytes

__all__ = ["main", "run_suite", "machine_info"]

STEPS, WARMUP = 20, 5
# ddpm is the slowest step by far; fewer steps keep `ember bench all --compare torch` within
# 15 minutes on a 2-core machine.
DEFAULT_STEPS = {"ddpm": (10, 2)}

MEMORY_METHOD = (
    "ember peak MiB = NumPy/Python memory allocated during one extra untimed step "
    "(tracemalloc peak minus the memory live before it); PyTorch's is not measured"
)


def machine_info() -> dict[str, Any]:
    """CPU model and core count (from /proc/cpuinfo where it exists)."""
    cpu, avx512 = platform.processor() or platform.machine(), False
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    fields = dict(line.split(":", 1) for line in text.split("\n\n")[0].splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    cpu = fields.get("model name", cpu)
    avx512 = "avx512f" in fields.get("flags", "").split()
    return {
        "cpu": cpu + (" with AVX-512" if avx512 else ""),
        "cores": os.cpu_count(),
        "host": platform.node(),
    }


def _import_torch() -> ModuleType | None:
    try:
        return importlib.import_module("torch")
    except ImportError:
        return None


def _jit_compile_fn(log: Callable[[str], None]) -> Callable | None:
    """ember's compile function (``ember.jit.compile`` or ``ember.jit.jit``), if there is one."""
    try:
        jit = importlib.import_module("ember.jit")
    except ImportError:
        jit = None
    fn = getattr(jit, "compile", None) or getattr(jit, "jit", None)
    if fn is None:
        log("ember.jit not available yet: timing eager ember")
    return fn


def _overhead_summary(log: Callable[[str], None]) -> dict[str, Any] | None:
    """Eager per-op overhead (µs per op, ember and PyTorch) from ``benchmarks/overhead.py``.

    Uses that file's ``CASES`` and ``measure``, with and without autograd; ``None`` when the
    file is not beside the package (an installed ember) or cannot run.
    """
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "overhead.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("_ember_bench_overhead", path)
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        summary = {}
        for name, shape, fn in module.CASES:
            for grad in (False, True):
                r = module.measure(fn, shape, grad)
                key = f"`{name}` {list(shape)} autograd {'on' if grad else 'off'}"
                summary[key] = {
                    "ember_us": round(r["ember"], 2),
                    "torch_us": round(r["torch"], 2),
                    "ratio": round(r["ember"] / r["torch"], 2),
                }
        return summary
    except Exception as exc:  # noqa: BLE001 - the suite reports it and goes on
        log(f"per-op overhead skipped: {runner.classify_failure(exc)[1]}")
        return None


def _side(
    timing: runner.Timing | None,
    failure: tuple[str, str] | None,
    gflop: float | None,
    peak: float | None,
) -> dict[str, Any]:
    side = report.empty_side()
    if failure is None and timing is not None and timing.failure is not None:
        failure = runner.classify_failure(timing.failure)
    if failure is not None:
        side["status"], side["reason"] = failure
        return side
    side.update(status="ok", **runner.summarize(timing.times))
    side["first_step_s"] = round(timing.first_step_s, 4)
    if gflop is not None:
        side["gflop_per_s"] = round(gflop / (side["median_ms"] / 1e3), 3)
        side["mfu"] = round(side["gflop_per_s"] / peak, 5) if peak else None
    return side


def _compile_seconds(built: Built) -> float:
    """Seconds the compiled functions of ``built`` spent tracing, optimising and building."""
    return round(sum(getattr(f, "compile_s", 0.0) for f in built.compiled), 3)


def _cold_compile_seconds(build: Callable[[], Built]) -> float | None:
    """Compile time with an empty kernel cache: a separate build, stepped until it has
    compiled (a training step's first call only creates optimizer state), in the current
    ``ember.config.jit_cache_dir``, which the caller made empty. None when the build fails."""
    try:
        built = build()
        for _ in range(3):
            built.step()
    except Exception:  # noqa: BLE001 - the timed build reports the failure
        return None
    return _compile_seconds(built)


@contextlib.contextmanager
def _compile_scope(builders: dict[str, Callable[[], Built]]) -> Iterator[float | None]:
    """With ``--jit`` (an "eager" builder beside the compiled one): run the block with
    ``ember.config.jit_cache_dir`` at a new empty directory and yield the cold compile time of
    a first compiled build, so that the timed build finds its kernels in the disk cache. Else
    None."""
    if "eager" not in builders:
        yield None
        return
    with (
        tempfile.TemporaryDirectory(prefix="ember-bench-cache-") as cache,
        config.override(jit_cache_dir=cache),
    ):
        yield _cold_compile_seconds(builders["ember"])


def _measure(
    workload: str,
    unit: str,
    batch: int | None,
    gflop: float | None,
    builders: dict[str, Callable[[], Built]],
    opts: argparse.Namespace,
    peak: float | None,
    cold_compile_s: float | None,
) -> dict[str, Any]:
    """Build each framework's version, time them alternately, and make the result record."""
    built: dict[str, Built] = {}
    failed: dict[str, tuple[str, str]] = {}
    for name, build in builders.items():
        try:
            built[name] = build()
        except Exception as exc:  # noqa: BLE001 - a missing layer makes it "unavailable"
            failed[name] = runner.classify_failure(exc)
    steps, warmup = DEFAULT_STEPS.get(workload, (STEPS, WARMUP))
    n_steps = opts.tokens if unit == "token" else opts.steps or steps
    timings = runner.time_alternating(
        {k: b.step for k, b in built.items()}, n_steps, opts.warmup or warmup, opts.chunk
    )
    sides = {name: _side(timings.get(name), failed.get(name), gflop, peak) for name in builders}
    if sides["ember"]["status"] == "ok" and opts.memory:
        sides["ember"]["peak_mem_mib"] = runner.step_peak_mib(built["ember"].step)
    if getattr(built.get("ember"), "compiled", []):  # kernels from the disk cache
        sides["ember"]["compile_s"] = _compile_seconds(built["ember"])
        sides["ember"]["compile_cold_s"] = cold_compile_s
    eager = sides.get("eager")
    speedup = None
    if eager and eager["status"] == "ok" and sides["ember"]["status"] == "ok":
        speedup = round(eager["median_ms"] / sides["ember"]["median_ms"], 3)
    params = {name: b.params for name, b in built.items() if name != "eager"}
    match = None if len(params) < 2 else len(set(params.values())) == 1
    peer_sides = {name: sides[name] for name in builders if name in peers.PEERS}
    best = peers.best_peer(peer_sides)
    return {
        "workload": workload,
        "batch": batch,
        "unit": unit,
        "status": sides["ember"]["status"],
        "reason": sides["ember"]["reason"],
        "params": params,
        "params_match": match,
        "gflop": None if gflop is None else round(gflop, 5),
        "ember": sides["ember"],
        "torch": sides.get("torch"),
        "ratio": _ratio(sides["ember"], sides.get("torch")),
        "peers": peer_sides,
        "best_peer": best,
        "best_ratio": _ratio(sides["ember"], peer_sides.get(best)),
        "eager": eager,
        "jit_speedup": speedup,
        "notes": built["ember"].notes if "ember" in built else [],
    }


def _ratio(ember: dict[str, Any], peer: dict[str, Any] | None) -> float | None:
    """ember's median over the peer's, when both were timed."""
    if ember["status"] != "ok" or peer is None or peer["status"] != "ok":
        return None
    return round(ember["median_ms"] / peer["median_ms"], 3)


def _plan(
    workload: str, frameworks: dict[str, Framework], compile_fn: Callable | None, compare: tuple
) -> list[tuple[str, int | None, float | None, dict[str, Callable[[], Built]]]]:
    """(unit, batch, GFLOP, builders per framework) for each row a workload produces."""
    if workload == "gpt-generate":
        rows = [("token", None, flops.generate_gflop_per_token(), workloads.build_generate)]
    elif workload == "cnn-infer":
        rows = [
            (
                "batch",
                b,
                flops.infer_gflop(b),
                lambda fw, c, b=b: workloads.build_cnn_infer(fw, b, c),
            )
            for b in CNN_INFER_BATCHES
        ]
    else:
        rows = [
            (
                "step",
                None,
                flops.train_gflop(workload),
                lambda fw, c: workloads.build_train(fw, workload, c),
            )
        ]
    return [
        (unit, batch, gflop, _builders(frameworks, compile_fn, build, compare, workload, batch))
        for unit, batch, gflop, build in rows
    ]


def _builders(
    frameworks: dict[str, Framework],
    compile_fn: Callable | None,
    build: Callable[[Framework, Callable], Built],
    compare: tuple[str, ...] = (),
    workload: str = "",
    batch: int | None = None,
) -> dict[str, Callable[[], Built]]:
    """A builder for ember and for each peer in ``compare``. With ``compile_fn``, "ember" is
    compiled (keeping what it compiled: their ``compile_s`` is the compile time reported) and
    "eager" is ember as it is, timed beside it. The PyTorch peers build the twin with ``build``
    (torch-compile through ``torch.compile``), JAX its own version of the row."""
    ember_fw = frameworks["ember"]
    builders: dict[str, Callable[[], Built]] = {"ember": lambda: build(ember_fw, lambda f: f)}
    if compile_fn is not None:

        def build_compiled() -> Built:
            compiled: list[Any] = []

            def compile_and_keep(fn: Callable) -> Any:
                compiled.append(compile_fn(fn))
                return compiled[-1]

            built = build(ember_fw, compile_and_keep)
            built.compiled = compiled
            return built

        builders = {"ember": build_compiled, "eager": builders["ember"]}
    torch_fw = frameworks.get("torch")
    for name in compare:
        if name == "torch" and torch_fw is not None:
            builders[name] = lambda: build(torch_fw, lambda f: f)
        elif name == "torch-compile" and torch_fw is not None:
            builders[name] = lambda: build(torch_fw, peers.torch_compile_fn(torch_fw.mod))
        elif name == "jax":
            builders[name] = lambda: jax_workloads.build(workload, batch)
    return builders


def run_suite(opts: argparse.Namespace, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the workloads named in ``opts`` and return the report (see ``report.REPORT_KEYS``)."""
    import ember

    compare = opts.compare or ()
    torch = None
    if any(name in peers.TORCH_PEERS for name in compare):
        torch = _import_torch()
        if torch is None:
            log(f"--compare {','.join(compare)}: PyTorch is not importable; no PyTorch peer")
    frameworks = {"ember": Framework("ember", ember, opts.device)}
    if torch is not None:
        frameworks["torch"] = Framework("torch", torch, opts.device)
    if "jax" in compare:
        jax_workloads.configure(opts.threads, opts.device)
    compile_fn = _jit_compile_fn(log) if opts.jit else None
    results: list[dict[str, Any]] = []
    with runner.thread_limits(opts.threads, torch) as threads_info:
        peak = runner.peak_matmul_gflops(opts.peak_size) if opts.device == "cpu" else None
        log(f"float32 matmul peak (NumPy, {opts.threads} threads): {peak} GFLOP/s")
        for workload in opts.workloads:
            for unit, batch, gflop, builders in _plan(workload, frameworks, compile_fn, compare):
                with _compile_scope(builders) as cold:
                    rec = _measure(workload, unit, batch, gflop, builders, opts, peak, cold)
                if rec["params_match"] is False:
                    counts = " vs ".join(f"{k} {v:,}" for k, v in rec["params"].items())
                    log(f"!!! PARAMETER COUNT MISMATCH in {workload}: {counts}")
                log(report.console_line(rec))
                results.append(rec)
        overhead = _overhead_summary(log) if opts.overhead else None
    meta = {
        "date": datetime.date.today().isoformat(),
        **machine_info(),
        "threads": opts.threads,
        "threads_info": threads_info,
        "device": opts.device,
        "steps": opts.steps or STEPS,
        "warmup": opts.warmup or WARMUP,
        "default_steps": None if opts.steps else DEFAULT_STEPS,
        "chunk": opts.chunk,
        "tokens": opts.tokens,
        "jit": compile_fn is not None,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "ember": ember.__version__,
        "torch": getattr(torch, "__version__", None),
        "peers": list(compare),
        "jax": jax_workloads.versions() if "jax" in compare else None,
        "env": {k: v for k, v in os.environ.items() if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))},
        "memory_method": MEMORY_METHOD,
    }
    return {
        "schema": report.SCHEMA,
        "meta": meta,
        "peak_gflops": peak,
        "overhead": overhead,
        "results": results,
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Define ``ember bench``'s arguments on ``p`` (the main CLI's subparser, or ``main``'s)."""
    p.add_argument(
        "workloads",
        nargs="*",
        default="all",  # a string: Python 3.11's argparse checks a list default against choices
        metavar="WORKLOAD",
        choices=[*ALL_WORKLOADS, "all"],
        help=f"any of {', '.join(ALL_WORKLOADS)}, or 'all' (default)",
    )
    p.add_argument(
        "--steps", type=positive_int, help=f"timed steps per workload (default {STEPS}; ddpm 10)"
    )
    p.add_argument(
        "--warmup", type=positive_int, help=f"untimed warm-up steps (default {WARMUP}; ddpm 2)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="threads for NumPy's BLAS and PyTorch (default: all cores)",
    )
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--jit", action="store_true", help="compile ember's steps with ember.jit")
    p.add_argument(
        "--compare",
        type=peers.parse_peers,
        metavar="PEERS",
        help=f"also time these peers, a comma list of {', '.join(peers.PEERS)} (e.g. torch or "
        "torch,torch-compile,jax); the report gives the best peer and ember/best",
    )
    p.add_argument("--json", metavar="FILE", help="write every number to FILE as JSON")
    p.add_argument("--markdown", metavar="FILE", help="write the results table to FILE")
    p.add_argument(
        "--update",
        metavar="FILE",
        help="replace the table between the bench-table markers in FILE (e.g. README.md)",
    )
    p.add_argument(
        "--chunk",
        type=positive_int,
        default=5,
        help="steps per turn when alternating frameworks (default 5)",
    )
    p.add_argument(
        "--tokens",
        type=positive_int,
        default=GEN_TOKENS,
        help=f"gpt-generate: tokens timed (default {GEN_TOKENS})",
    )
    p.add_argument(
        "--peak-size", type=int, default=2048, help="n of the n×n matmul measuring the peak"
    )
    p.add_argument(
        "--no-memory",
        dest="memory",
        action="store_false",
        help="skip the extra traced step that measures ember's peak memory",
    )
    p.add_argument(
        "--no-overhead",
        dest="overhead",
        action="store_false",
        help="skip the eager per-op overhead summary",
    )
    p.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel scaling instead (default workloads cnn, mlp): --threads processes "
        "x 1 thread against 1 x 1 and 1 x --threads, all-reduce latency and bandwidth next to "
        "mpi4py's, the communication overlapping backward (ember.bench.distributed)",
    )


def run(opts: argparse.Namespace) -> int:
    """Run ``ember bench`` with parsed ``opts``; 1 when a count mismatches or a workload errors."""
    if opts.distributed:
        from ember.bench.distributed import run_distributed

        return run_distributed(opts)
    opts.workloads = list(ALL_WORKLOADS) if "all" in opts.workloads else opts.workloads
    if opts.update:  # fail before a long run, not after it
        report.update_section(Path(opts.update).read_text(), "")
    result = run_suite(opts)
    if opts.json:
        Path(opts.json).write_text(report.to_json(result) + "\n")
    if opts.markdown:
        Path(opts.markdown).write_text(report.to_markdown(result))
    if opts.update:
        target = Path(opts.update)
        atomic_write_bytes(
            target, report.update_section(target.read_text(), report.to_markdown(result)).encode()
        )
    print()
    print(report.to_markdown(result))
    bad = [r for r in result["results"] if r["params_match"] is False or r["status"] == "error"]
    return 1 if bad else 0


def main(argv: Sequence[str] | None = None) -> int:
    """``ember bench`` as a function (the arguments of ``add_arguments``)."""
    p = argparse.ArgumentParser(
        prog="ember bench",
        description="Time the reference workloads (docs/workloads.md) in ember, "
        "optionally next to PyTorch.",
    )
    add_arguments(p)
    return run(p.parse_args(list(sys.argv[1:] if argv is None else argv)))
