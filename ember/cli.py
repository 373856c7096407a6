"""The ``ember`` command: argparse only; every command calls a library function."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser"]

_MODELS = ("mlp", "cnn", "resnet")
_DATASETS = ("fashion-mnist", "mnist", "kmnist")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ember", description="ember: train and evaluate models")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a classifier on an MNIST-family dataset")
    train.add_argument("model", choices=_MODELS)
    train.add_argument("--dataset", choices=_DATASETS, default="fashion-mnist")
    train.add_argument("--epochs", type=int, help="default: the model's recipe")
    train.add_argument("--batch-size", type=int, help="default: the model's recipe")
    train.add_argument("--lr", type=float, help="default: the model's recipe")
    train.add_argument("--optimizer", choices=("sgd", "adam", "adamw"))
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", help="run directory (default: runs/MODEL-DATASET)")
    train.add_argument("--resume", action="store_true", help="continue from --out's checkpoint")
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.add_argument("--limit", type=int, help="use only N training samples (smoke tests)")

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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            from ember.train.run import train_classifier

            train_classifier(
                args.model,
                args.dataset,
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                optimizer=args.optimizer,
                seed=args.seed,
                out=args.out,
                resume=args.resume,
                quiet=args.quiet,
                limit=args.limit,
            )
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


if __name__ == "__main__":
    sys.exit(main())
