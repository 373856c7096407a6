"""The ``ember`` command: one argparse parser; every command calls a library function.

``ember train MODEL`` has a subparser per model, built from its family's declared options
(ember.train.family), so ``ember train cnn --help`` lists cnn's options only. Every failure
is one ``ember: error: …`` line: usage errors exit with 2 (as argparse does), other failures
with 1, Ctrl-C with 130; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from ember.allocator import keep_freed_memory
from ember.argtypes import positive_int
from ember.train.family import Family

__all__ = ["main", "build_parser"]

_DATASETS = ("fashion-mnist", "mnist", "kmnist")


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors as one ``ember: error:`` line (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"ember: error: {self.prog}: {message} (see {self.prog} --help)\n")


def _one_line(exc: BaseException) -> str:
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def _add_train(sub: Any, families: Sequence[Family], common: argparse.ArgumentParser) -> None:
    train = sub.add_parser(
        "train",
        parents=[common],
        help="train a model: ember train MODEL --help lists its options",
        description="Train a reference model; each writes a run directory (checkpoint, "
        "metrics.csv, summary.json) and can be resumed.",
    )
    models = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    for family in families:
        for model in family.models:
            p = models.add_parser(
                model, parents=[common], help=family.description, description=family.description
            )
            for option in family.options:
                if option.models is None or model in option.models:
                    option.add_to(p)
            run = p.add_argument_group("the run")
            run.add_argument("--out", help="run directory (default: runs/MODEL-DATA)")
            run.add_argument("--resume", action="store_true", help="continue --out's run")
            run.add_argument(
                "--force", action="store_true", help="start over in an --out that holds a run"
            )
            run.add_argument("--quiet", action="store_true", help="no progress output")
            run.add_argument(
                "--tensorboard",
                action="store_true",
                help="also log to TensorBoard event files in --out (needs ember[tensorboard])",
            )
            run.add_argument(
                "--threads",
                type=positive_int,
                help="BLAS and kernel threads (default: the cores not busy at the start)",
            )
            run.add_argument(
                "--no-jit",
                dest="jit",
                action="store_false",
                help="run the training step eagerly (default: compiled by ember.jit)",
            )
            run.add_argument(
                "--distributed",
                action="store_true",
                help="one rank of `ember run -n N` (or mpiexec): each rank trains on 1/N of "
                "every batch",
            )
            p.set_defaults(run=_train, family=family)


def _train(args: argparse.Namespace) -> int:
    from ember.train.session import train

    run_keys = {"run", "family", "command", "model", "debug", "out", "resume", "force", "quiet",
                "threads", "jit", "tensorboard", "distributed"}  # fmt: skip
    options = {k: v for k, v in vars(args).items() if k not in run_keys}
    keep_freed_memory()  # long runs: recycle large arrays (ember.allocator)
    if args.distributed:
        from ember.train.parallel import join

        args.quiet = args.quiet or join()[0] > 0  # only rank 0 prints
    _set_threads(args.threads, args.quiet)
    train(
        args.model,
        options,
        out=args.out,
        resume=args.resume,
        force=args.force,
        quiet=args.quiet,
        jit=args.jit,
        tensorboard=args.tensorboard,
        distributed=args.distributed,
    )
    return 0


def _set_threads(threads: int | None, quiet: bool) -> None:
    """Use ``threads`` threads, or as many as there are free cores (at most NumPy's count): a
    multi-threaded BLAS slows down sharply when another process holds one of its cores.
    Without threadpoolctl the default leaves NumPy's count as it is; ``--threads`` needs it."""
    from ember.threads import free_cores, get_num_threads, set_num_threads

    if threads is None:
        try:
            import threadpoolctl  # noqa: F401
        except ImportError:
            return
        threads = min(free_cores(), get_num_threads())
        if not quiet:
            print(f"threads: {threads} (the cores not busy now; --threads N to choose)")
    set_num_threads(threads)


def _sample(args: argparse.Namespace) -> int:
    from ember.models.gpt2 import is_hf_checkpoint
    from ember.train.generative import is_generative_checkpoint

    if not is_hf_checkpoint(args.checkpoint) and is_generative_checkpoint(args.checkpoint):
        from ember.train.generative import sample_checkpoint

        seed = 0 if args.seed is None else args.seed
        paths = sample_checkpoint(args.checkpoint, args.n, args.out, seed, args.sampler, args.steps)
        print("wrote " + ", ".join(str(p) for p in paths))
        return 0
    from ember.train.lm import sample

    print(
        sample(
            args.checkpoint,
            args.prompt,
            args.tokens,
            temperature=args.temperature,
            top_k=args.top_k,
            top_p=args.top_p,
            seed=args.seed,
            jit=args.jit,
        )
    )
    return 0


def _eval(args: argparse.Namespace) -> int:
    from ember.train.classifier import evaluate_checkpoint

    print(json.dumps(evaluate_checkpoint(args.checkpoint, args.dataset, args.batch_size)))
    return 0


def _data_list(args: argparse.Namespace) -> int:
    from ember.data.datasets.idx import describe_datasets

    print(describe_datasets())
    return 0


def _data_fetch(args: argparse.Namespace) -> int:
    from ember.data.datasets import fetch

    print(f"{args.name}: {fetch(args.name, args.root)}")
    return 0


def _delegate(module: str) -> Callable[[argparse.Namespace], int]:
    """The ``run(args)`` of a command whose arguments ``module.add_arguments`` defines."""

    def run(args: argparse.Namespace) -> int:
        import importlib

        if module == "ember.bench":
            keep_freed_memory()
        return importlib.import_module(module).run(args)

    return run


def build_parser() -> argparse.ArgumentParser:
    from ember.bench import add_arguments as bench_arguments
    from ember.diagnostics.doctor import add_arguments as doctor_arguments
    from ember.distributed.launch import add_arguments as run_arguments
    from ember.onnx.cli import add_arguments as export_arguments
    from ember.playground.server import add_arguments as playground_arguments
    from ember.train.session import FAMILIES

    common = _Parser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="tracebacks on errors"
    )
    parser = _Parser(prog="ember", description="ember: train and evaluate models", parents=[common])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub, FAMILIES, common)

    smp = sub.add_parser(
        "sample",
        parents=[common],
        help="text from a gpt/lstm checkpoint, or an image grid from a generative one",
    )
    smp.add_argument(
        "checkpoint",
        help="an `ember train` checkpoint, or a GPT-2 directory in Hugging Face's layout "
        "(config.json, model.safetensors, vocab.json, merges.txt)",
    )
    smp.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    smp.add_argument("--tokens", type=positive_int, default=200, help="tokens to generate")
    smp.add_argument("--temperature", type=float, default=1.0)
    smp.add_argument("--top-k", type=positive_int)
    smp.add_argument("--top-p", type=float)
    smp.add_argument("--seed", type=int)
    smp.add_argument("--jit", action="store_true", help="gpt: compiled decoding steps")
    img = smp.add_argument_group("generative models (dcgan, autoencoder, vae, ddpm)")
    img.add_argument("--n", type=positive_int, default=64, help="images in the grid")
    img.add_argument("--out", default="grid.png", help="PNG file to write")
    img.add_argument("--sampler", choices=("ddpm", "ddim"), default="ddim", help="ddpm only")
    img.add_argument("--steps", type=positive_int, default=50, help="ddpm: DDIM steps")
    smp.set_defaults(run=_sample)

    ev = sub.add_parser("eval", parents=[common], help="test accuracy of a classifier checkpoint")
    ev.add_argument("checkpoint")
    ev.add_argument("--dataset", choices=_DATASETS, help="default: the one it was trained on")
    ev.add_argument("--batch-size", type=positive_int, default=1000)
    ev.set_defaults(run=_eval)

    doctor = sub.add_parser(
        "doctor", parents=[common], help="diagnose a run: vanishing/exploding gradients, …"
    )
    doctor_arguments(doctor)
    doctor.set_defaults(run=_delegate("ember.diagnostics.doctor"))

    bench = sub.add_parser("bench", parents=[common], help="time the reference workloads")
    bench_arguments(bench)
    bench.set_defaults(run=_delegate("ember.bench"))

    onnx = sub.add_parser("export", parents=[common], help="a checkpoint's model as an ONNX file")
    export_arguments(onnx)
    onnx.set_defaults(run=_delegate("ember.onnx.cli"))

    launch = sub.add_parser(
        "run", parents=[common], help="start N ranks of a command: ember run -n 2 -- ember train …"
    )
    run_arguments(launch)
    launch.set_defaults(run=_delegate("ember.distributed.launch"))

    playground = sub.add_parser(
        "playground", parents=[common], help="a local page where a small network learns live"
    )
    playground_arguments(playground)
    playground.set_defaults(run=_delegate("ember.playground.server"))

    data = sub.add_parser("data", parents=[common], help="list or download datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    data_sub.add_parser("list", help="known datasets and where they were found").set_defaults(
        run=_data_list
    )
    fetch = data_sub.add_parser("fetch", help="download a dataset into the cache")
    fetch.add_argument("name", choices=_DATASETS)
    fetch.add_argument("--root", help="target folder (default: $EMBER_DATA or ~/.cache/ember)")
    fetch.set_defaults(run=_data_fetch)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv``; return the exit status."""
    args = build_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        if debug:
            raise
        print("ember: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        from ember.train.session import RunInterrupted

        if isinstance(exc, RunInterrupted):
            print(f"ember: {exc}", file=sys.stderr)
            return 130
        if debug:
            raise
        known = isinstance(exc, (ValueError, OSError, RuntimeError, KeyError, TypeError))
        where = "" if known else f" ({type(exc).__name__}; --debug shows the traceback)"
        print(f"ember: error: {_one_line(exc)}{where}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
