"""``ember bench --distributed``: data-parallel scaling, all-reduce cost and overlap on one machine.

Three measurements, each in fresh processes started by ``ember run`` (MPI, one BLAS thread per
rank unless said otherwise):

* **Step throughput** of each training workload at one global batch: N processes x 1 thread
  (DistributedDataParallel, each rank on batch/N rows) against 1 process x 1 thread and
  1 process x N threads, the configurations alternated over several rounds (the machine may be
  shared) and the medians compared: efficiency against 1 x 1 is throughput / (N x its), against
  1 x N throughput / its.
* **All-reduce** latency and bus bandwidth by message size, ember's ``all_reduce`` next to
  mpi4py's ``Allreduce`` on the same buffers (the MPI library's own cost, with the least
  Python around it), alternated in one job.
* **Overlap**: the share of the buckets' all-reduce time that ran before backward ended,
  from DDP's bucket timestamps (``DistributedDataParallel.communication``).

``python -m ember.bench.distributed ROLE …`` is the per-process side (``ember run`` starts it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["run_distributed", "DEFAULT_WORKLOADS", "SIZES"]

DEFAULT_WORKLOADS = ("cnn", "mlp")
# the workloads whose step is one forward, backward and update of one model (build_train's)
WORKLOADS = ("mlp", "cnn", "resnet", "lstm", "gpt", "vae")
SIZES = tuple(4**k for k in range(1, 13))  # 4 B .. 16 MiB
ROUNDS = 3
_TAG = "ember-bench-distributed:"  # the line a rank-0 worker prints its JSON result on


# -- the parent: start the configurations, collect, report -----------------------------------
def run_distributed(opts: argparse.Namespace, log: Callable[[str], None] = print) -> int:
    """``ember bench --distributed``: measure, print the report, write ``--json``; 0 on success."""
    _refuse_other_options(opts)
    names = list(DEFAULT_WORKLOADS) if "all" in opts.workloads else list(opts.workloads)
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        raise SystemExit(
            f"ember bench --distributed: {', '.join(unknown)} cannot be timed data-parallel; "
            f"expected any of {', '.join(WORKLOADS)} (default {', '.join(DEFAULT_WORKLOADS)})"
        )
    n = opts.threads
    if n < 2:
        raise SystemExit("ember bench --distributed: --threads must be at least 2 (the ranks)")
    steps, warmup = opts.steps or 10, opts.warmup or 3
    from ember.bench import machine_info

    result: dict[str, Any] = {"machine": machine_info(), "ranks": n, "jit": opts.jit}
    result["loadavg_before"] = _loadavg()
    configs = [(n, 1), (1, 1), (1, n)]  # (processes, threads per process)
    result["throughput"] = []
    for name in names:
        runs: dict[tuple[int, int], list[dict[str, Any]]] = {c: [] for c in configs}
        for r in range(ROUNDS):
            for procs, threads in configs:
                extra = ["--steps", str(steps), "--warmup", str(warmup)]
                extra += ["--jit"] if opts.jit else []
                got = _launch(procs, threads, ["train", name, *extra])
                runs[(procs, threads)].append(got)
                log(
                    f"{name} round {r + 1}: {procs} process(es) x {threads} thread(s): "
                    f"{got['samples_per_s']:.1f} samples/s"
                )
        result["throughput"].append(_throughput_row(name, runs, n))
    log("all-reduce sweep (ember.distributed.all_reduce vs mpi4py Allreduce) …")
    result["allreduce"] = _launch(n, 1, ["allreduce"])["sizes"]
    result["loadavg_after"] = _loadavg()
    text = to_markdown(result)
    print(text)
    if opts.json:
        Path(opts.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0


def _refuse_other_options(opts: argparse.Namespace) -> None:
    given = [
        flag
        for flag, value in (
            ("--compare", opts.compare),
            ("--markdown", opts.markdown),
            ("--update", opts.update),
        )
        if value
    ]
    if opts.device != "cpu":
        given.append(f"--device {opts.device}")
    if given:
        raise SystemExit(
            f"ember bench --distributed: {', '.join(given)} applies to the single-process "
            "benchmark only; --distributed takes workloads, --threads (the ranks), --steps, "
            "--warmup, --jit and --json"
        )


def _loadavg() -> list[float] | None:
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def _launch(procs: int, threads: int, argv: list[str], timeout: float = 1800) -> dict[str, Any]:
    """Run the worker on ``procs`` ranks of ``threads`` threads; rank 0's JSON result (a run
    past ``timeout`` seconds fails)."""
    command = [sys.executable, "-m", "ember", "run", "-n", str(procs), "--threads", str(threads)]
    command += ["--", sys.executable, "-m", "ember.bench.distributed", *argv]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    lines = [x for x in done.stdout.splitlines() if x.startswith(_TAG)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"ember bench --distributed: {' '.join(command)} failed (status "
            f"{done.returncode}):\n{done.stdout}{done.stderr}"
        )
    return json.loads(lines[-1][len(_TAG) :])


def _throughput_row(name: str, runs: dict, n: int) -> dict[str, Any]:
    def median(config: tuple[int, int]) -> float:
        return statistics.median(r["samples_per_s"] for r in runs[config])

    parallel, single, threaded = median((n, 1)), median((1, 1)), median((1, n))
    last = runs[(n, 1)][-1]
    return {
        "workload": name,
        "batch": last["batch"],
        "samples_per_s": {f"{n}x1": parallel, "1x1": single, f"1x{n}": threaded},
        "rounds": {f"{p}x{t}": [r["samples_per_s"] for r in v] for (p, t), v in runs.items()},
        "efficiency_vs_1x1": parallel / (n * single),
        "efficiency_vs_1xN": parallel / threaded,
        "overlap": statistics.median(r["overlap"] for r in runs[(n, 1)]),
        "comm_ms_per_step": statistics.median(r["comm_ms"] for r in runs[(n, 1)]),
        "buckets_bytes": last["buckets_bytes"],
    }


def to_markdown(result: dict[str, Any]) -> str:
    """The report: throughput and efficiency, overlap and buckets, the all-reduce sweep."""
    n = result["ranks"]
    m = result["machine"]
    lines = [
        f"## ember bench --distributed ({m['cpu']}, {m['cores']} cores; load average "
        f"{result['loadavg_before']} before, {result['loadavg_after']} after; "
        f"{'compiled' if result['jit'] else 'eager'} steps; medians of {ROUNDS} rounds)",
        "",
        f"| workload | global batch | {n} proc x 1 thread | 1 x 1 | 1 x {n} threads "
        f"| efficiency vs 1x1 | vs 1x{n} | comm overlapping backward | comm per step "
        "| buckets |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["throughput"]:
        s = row["samples_per_s"]
        buckets = ", ".join(_size(b) for b in row["buckets_bytes"])
        lines.append(
            f"| {row['workload']} | {row['batch']} | {s[f'{n}x1']:.1f}/s | {s['1x1']:.1f}/s "
            f"| {s[f'1x{n}']:.1f}/s | {row['efficiency_vs_1x1']:.0%} "
            f"| {row['efficiency_vs_1xN']:.0%} | {row['overlap']:.0%} "
            f"| {row['comm_ms_per_step']:.2f} ms | {buckets} |"
        )
    lines += [
        "",
        f"All-reduce on {n} ranks, float32, one call each (latency = median time per call; "
        "bus bandwidth = bytes x 2(n-1)/n / time):",
        "",
        "| size | ember latency | mpi4py latency | ember/mpi4py | ember bus GB/s "
        "| mpi4py bus GB/s |",
        "|---|---|---|---|---|---|",
    ]
    factor = 2 * (n - 1) / n
    for row in result["allreduce"]:
        e, r = row["ember_s"], row["mpi_s"]
        lines.append(
            f"| {_size(row['bytes'])} | {e * 1e6:.1f} µs | {r * 1e6:.1f} µs | {e / r:.2f} "
            f"| {row['bytes'] * factor / e / 1e9:.3g} | {row['bytes'] * factor / r / 1e9:.3g} |"
        )
    return "\n".join(lines) + "\n"


def _size(nbytes: int) -> str:
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes} B"


# -- the worker: one process of one configuration --------------------------------------------
def _worker_train(name: str, steps: int, warmup: int, jit: bool) -> dict[str, Any]:
    """Time ``steps`` training steps of ``name`` at its global batch, split over the ranks."""
    import ember
    import ember.distributed as dist
    from ember.bench.workloads import Framework, build_train, make_inputs

    world = dist.get_world_size()
    batch = len(next(iter(make_inputs(name).values())))
    if batch % world:
        raise SystemExit(f"{name}: a global batch of {batch} does not split into {world} ranks")
    wrapped: list[Any] = []

    def compile_fn(fn: Callable) -> Callable:
        return ember.jit(fn) if jit else fn

    built = build_train(Framework("ember", ember), name, compile_fn, batch=batch // world)
    if world > 1:  # DDP's gradient hooks do the averaging: the step calls the model itself
        from ember.nn.parallel import DistributedDataParallel

        wrapped.append(DistributedDataParallel(built.state[0]))
    for _ in range(warmup):
        built.step()
    dist.barrier()
    comm = overlapped = 0.0
    start = time.perf_counter()
    for _ in range(steps):
        built.step()
        if wrapped:
            c, o = _overlap(wrapped[0])
            comm, overlapped = comm + c, overlapped + o
    elapsed = time.perf_counter() - start
    slowest = np.zeros(1)
    slowest[0] = elapsed
    if world > 1:  # the ranks' throughput is the slowest rank's
        t = ember.tensor(slowest)
        dist.all_reduce(t, dist.ReduceOp.MAX)
        elapsed = float(t.item())
    return {
        "batch": batch,
        "samples_per_s": batch * steps / elapsed,
        "overlap": overlapped / comm if comm else 0.0,
        "comm_ms": comm / steps * 1e3,
        "buckets_bytes": [b for b, _, _ in wrapped[0].communication()] if wrapped else [],
    }


def _overlap(ddp: Any) -> tuple[float, float]:
    """Seconds of all-reduce in the last backward, and how many of them preceded its end."""
    total = before = 0.0
    for _, start, end in ddp.communication():
        total += end - start
        before += max(0.0, min(end, ddp.backward_end) - start)
    return total, before


def _worker_allreduce() -> dict[str, Any]:
    """Per-call time of ember's all_reduce and mpi4py's Allreduce at each size, alternated."""
    import ember
    import ember.distributed as dist
    from ember.distributed.mpi import import_mpi

    MPI = import_mpi()
    comm = MPI.COMM_WORLD
    rows = []
    for nbytes in SIZES:
        n = nbytes // 4
        t = ember.zeros(n)
        a, b = np.zeros(n, np.float32), np.zeros(n, np.float32)
        calls = max(3, min(300, (2**24) // max(nbytes, 1) // 4))
        times: dict[str, list[float]] = {"ember": [], "mpi": []}
        fns = {"ember": lambda: dist.all_reduce(t), "mpi": lambda: comm.Allreduce(a, b, MPI.SUM)}
        for _ in range(5):
            for key, fn in fns.items():
                comm.Barrier()
                start = time.perf_counter()
                for _ in range(calls):
                    fn()
                times[key].append((time.perf_counter() - start) / calls)
        rows.append(
            {
                "bytes": nbytes,
                "ember_s": statistics.median(times["ember"]),
                "mpi_s": statistics.median(times["mpi"]),
            }
        )
    return {"sizes": rows}


def _worker(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="python -m ember.bench.distributed")
    roles = p.add_subparsers(dest="role", required=True)
    train = roles.add_parser("train")
    train.add_argument("workload", choices=WORKLOADS)
    train.add_argument("--steps", type=int, required=True)
    train.add_argument("--warmup", type=int, required=True)
    train.add_argument("--jit", action="store_true")
    roles.add_parser("allreduce")
    args = p.parse_args(argv)
    import ember.distributed as dist

    dist.init_process_group("gloo")
    if args.role == "train":
        out = _worker_train(args.workload, args.steps, args.warmup, args.jit)
    else:
        out = _worker_allreduce()
    if dist.get_rank() == 0:
        print(_TAG + json.dumps(out), flush=True)
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    _worker(sys.argv[1:])
