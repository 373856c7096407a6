"""The ``ember`` command: argparse only; every command calls a library function."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ember.allocator import keep_freed_memory

__all__ = ["main", "build_parser"]

_MODELS = ("mlp", "cnn", "resnet")
_DATASETS = ("fashion-mnist", "mnist", "kmnist")
_LM_MODELS = ("gpt", "lstm")
# `ember train` of these goes to ember.train.generative.main, which owns their options
_GENERATIVE = ("dcgan", "autoencoder", "vae", "ddpm")
# options that belong to one family of `ember train` only (dest names)
_CLASSIFIER_ONLY = ("dataset", "epochs", "optimizer", "limit", "diagnose", "jit")
_LM_ONLY = (
    "text",
    "layers",
    "heads",
    "width",
    "block_size",
    "iters",
    "eval_interval",
    "eval_iters",
    "tokenizer",
    "vocab_size",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ember", description="ember: train and evaluate models")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser(
        "train",
        help="train a classifier, a language model or a generative model",
        epilog="dcgan, autoencoder, vae and ddpm take their own options (--variant, --schedule, "
        "--label-smoothing, --spectral-norm, --fid-samples, --sample-steps …): "
        "ember train ddpm --help",
    )
    train.add_argument("model", choices=_MODELS + _LM_MODELS + _GENERATIVE)
    train.add_argument("--batch-size", type=int, help="default: the model's recipe")
    train.add_argument("--lr", type=float, help="default: the model's recipe")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", help="run directory (default: runs/MODEL-DATASET or runs/MODEL-lm)")
    train.add_argument("--resume", action="store_true", help="continue from --out's checkpoint")
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.add_argument(
        "--threads", type=int, help="BLAS threads (default: NumPy's; 1 is safest on a busy machine)"
    )
    clf = train.add_argument_group("classifiers (mlp, cnn, resnet)")
    clf.add_argument("--dataset", choices=_DATASETS)
    clf.add_argument("--epochs", type=int, help="default: the model's recipe")
    clf.add_argument("--optimizer", choices=("sgd", "adam", "adamw"))
    clf.add_argument("--limit", type=int, help="use only N training samples (smoke tests)")
    clf.add_argument(
        "--diagnose", action="store_true", help="record gradient statistics for `ember doctor`"
    )
    clf.add_argument("--jit", action="store_true", help="compile the training step with ember.jit")
    lm = train.add_argument_group("language models (gpt, lstm)")
    lm.add_argument("--text", help="UTF-8 training text (default: Python standard-library source)")
    lm.add_argument("--layers", type=int, help="default: gpt 4, lstm 2")
    lm.add_argument("--heads", type=int, help="attention heads (gpt; default 4)")
    lm.add_argument("--width", type=int, help="gpt: embedding width (128); lstm: hidden (256)")
    lm.add_argument("--block-size", type=int, help="context length in tokens (default 64)")
    lm.add_argument("--iters", type=int, help="training steps (default 2000)")
    lm.add_argument("--eval-interval", type=int, help="steps between loss estimates")
    lm.add_argument("--eval-iters", type=int, help="batches per loss estimate (default 20)")
    lm.add_argument("--tokenizer", choices=("char", "bpe"), help="default: char")
    lm.add_argument("--vocab-size", type=int, help="BPE vocabulary size (default 512)")

    smp = sub.add_parser(
        "sample", help="text from a gpt/lstm checkpoint, or an image grid from a generative one"
    )
    smp.add_argument("checkpoint")
    smp.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    smp.add_argument("--tokens", type=int, default=200, help="tokens to generate")
    smp.add_argument("--temperature", type=float, default=1.0)
    smp.add_argument("--top-k", type=int)
    smp.add_argument("--top-p", type=float)
    smp.add_argument("--seed", type=int)
    smp.add_argument("--jit", action="store_true", help="gpt: compiled decoding steps")
    img = smp.add_argument_group("generative models (dcgan, autoencoder, vae, ddpm)")
    img.add_argument("--n", type=int, default=64, help="images in the grid")
    img.add_argument("--out", default="grid.png", help="PNG file to write")
    img.add_argument("--sampler", choices=("ddpm", "ddim"), default="ddim", help="ddpm only")
    img.add_argument("--steps", type=int, default=50, help="ddpm: DDIM steps")

    # Subcommands with their own parser: the rest of the command line goes to them unparsed.
    sub.add_parser(
        "doctor", help="diagnose a run: ember doctor RUN_DIR [--html FILE]", add_help=False
    )
    # bench: ember.bench.main(argv) owns the options (ember bench -h)
    sub.add_parser("bench", help="time the reference workloads", add_help=False)

    ev = sub.add_parser("eval", help="test accuracy of a checkpoint written by `ember train`")
    ev.add_argument("checkpoint")
    ev.add_argument("--dataset", choices=_DATASETS, help="default: the one it was trained on")
    ev.add_argument("--batch-size", type=int, default=1000)

    data = sub.add_parser("data", help="list or download datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True)
    data_sub.add_parser("list", help="known datasets and where they were found")
    fetch = data_sub.add_parser("fetch", help="download a dataset into the cache")
    fetch.add_argument("name", choices=_DATASETS)
    fetch.add_argument("--root", help="target folder (default: $EMBER_DATA or ~/.cache/ember)")
    return parser


def _check_family(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject options of the other model family (``--text`` for mlp, ``--epochs`` for gpt)."""
    wrong = _CLASSIFIER_ONLY if args.model in _LM_MODELS else _LM_ONLY
    given = [f"--{d.replace('_', '-')}" for d in wrong if getattr(args, d) not in (None, False)]
    if given:
        parser.error(f"train {args.model}: {', '.join(given)} does not apply to this model")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] in (["train"], ["bench"]):  # long runs: recycle large arrays (ember.allocator)
        keep_freed_memory()
    if argv[:1] == ["train"] and len(argv) > 1 and argv[1] in _GENERATIVE:
        from ember.train.generative import main as generative_main

        return generative_main(argv)
    parser = build_parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "doctor":
        from ember.diagnostics.doctor import main as doctor_main

        return doctor_main(rest)
    if args.command == "bench":
        from ember.bench import main as bench_main

        return bench_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if getattr(args, "threads", None):
        from ember.threads import set_num_threads

        set_num_threads(args.threads)
    try:
        if args.command == "train" and args.model in _LM_MODELS:
            from ember.train.lm import train_lm

            _check_family(parser, args)
            train_lm(
                args.model,
                args.text,
                layers=args.layers,
                heads=args.heads,
                width=args.width,
                block_size=args.block_size,
                batch_size=args.batch_size,
                iters=args.iters,
                lr=args.lr,
                eval_interval=args.eval_interval,
                eval_iters=args.eval_iters,
                tokenizer=args.tokenizer or "char",
                vocab_size=args.vocab_size,
                out=args.out,
                seed=args.seed,
                resume=args.resume,
                quiet=args.quiet,
            )
        elif args.command == "train":
            from ember.train.run import train_classifier

            _check_family(parser, args)
            train_classifier(
                args.model,
                args.dataset or "fashion-mnist",
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                optimizer=args.optimizer,
                seed=args.seed,
                out=args.out,
                resume=args.resume,
                quiet=args.quiet,
                limit=args.limit,
                diagnose=args.diagnose,
                jit=args.jit,
            )
        elif args.command == "sample" and _is_generative(args.checkpoint):
            from ember.train.generative import sample_checkpoint

            seed = 0 if args.seed is None else args.seed
            paths = sample_checkpoint(
                args.checkpoint, args.n, args.out, seed, args.sampler, args.steps
            )
            print("wrote " + ", ".join(str(p) for p in paths))
        elif args.command == "sample":
            from ember.train.lm import sample

            text = sample(
                args.checkpoint,
                args.prompt,
                args.tokens,
                temperature=args.temperature,
                top_k=args.top_k,
                top_p=args.top_p,
                seed=args.seed,
                jit=args.jit,
            )
            print(text)
        elif args.command == "eval":
            from ember.train.run import evaluate_checkpoint

            print(json.dumps(evaluate_checkpoint(args.checkpoint, args.dataset, args.batch_size)))
        elif args.data_command == "list":
            from ember.data.datasets.idx import describe_datasets

            print(describe_datasets())
        else:
            from ember.data.datasets import fetch as fetch_dataset

            print(f"{args.name}: {fetch_dataset(args.name, args.root)}")
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"ember: error: {exc}", file=sys.stderr)
        return 1
    return 0


def _is_generative(path: str) -> bool:
    from ember.train.generative import is_generative_checkpoint

    return is_generative_checkpoint(path)


if __name__ == "__main__":
    sys.exit(main())
