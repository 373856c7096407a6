"""Training-step timing of ember vs PyTorch at one thread, and a cProfile of ember's step.

Run with one BLAS thread for the whole process (multi-threaded OpenBLAS on a loaded machine
makes large-K products tens of times slower)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/step_profile.py mlp cnn resnet [--steps 20]
    OPENBLAS_NUM_THREADS=1 python benchmarks/step_profile.py resnet --profile [--top 25]

Timing alternates ember and torch in chunks (``ember.bench.runner.time_alternating``) so that
load from other processes hits both; the ratio of medians is the number to compare.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics

import ember
from ember.bench import runner, workloads

__all__ = ["time_steps", "profile_step", "main"]


def _builders(workload: str) -> dict[str, object]:
    import torch

    torch.set_num_threads(1)
    steps = {}
    for name, mod in (("ember", ember), ("torch", torch)):
        steps[name] = workloads.build_train(workloads.Framework(name, mod), workload).step
    return steps


def time_steps(workload: str, n_steps: int = 20, warmup: int = 5) -> dict[str, float]:
    """Median ms per step of ember and torch (alternating), and their ratio."""
    timings = runner.time_alternating(_builders(workload), n_steps, warmup)
    med = {name: 1e3 * statistics.median(t.times) for name, t in timings.items()}
    return {**med, "ratio": med["ember"] / med["torch"]}


def profile_step(workload: str, steps: int = 5, top: int = 25) -> None:
    """Print the ``top`` functions by own time over ``steps`` ember steps (after two warm-ups)."""
    step = workloads.build_train(workloads.Framework("ember", ember), workload).step
    step()
    step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        step()
    prof.disable()
    stats = pstats.Stats(prof)
    print(f"{workload}: {stats.total_tt / steps * 1e3:.1f} ms per step under cProfile")
    stats.sort_stats("tottime").print_stats(top)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("workloads", nargs="+", choices=["mlp", "cnn", "resnet", "dcgan", "ddpm"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--profile", action="store_true")
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args(argv)
    for w in args.workloads:
        if args.profile:
            profile_step(w, top=args.top)
        else:
            r = time_steps(w, args.steps)
            print(
                f"{w:7s} ember {r['ember']:8.1f} ms  torch {r['torch']:8.1f} ms  "
                f"ratio {r['ratio']:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
