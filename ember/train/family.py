"""What a model family declares for ``ember train``: its options and how it builds a job.

A ``Family`` (classifiers, language models, generative models) names its models, declares
its command-line ``Option``s (the CLI builds ``ember train MODEL``'s parser from them) and
turns a run config into a ``Job``: the pieces the ``Trainer`` runs. Everything else (the run
directory, checkpoints, metrics file, resume, Ctrl-C, the summary file) is shared, in
``ember.train.session``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ember.argtypes import fraction, nonnegative_int, positive_float, positive_int
from ember.train.batches import BatchPlan
from ember.train.callbacks import Callback, FitState, History
from ember.train.trainer import Meter

__all__ = [
    "Option",
    "Family",
    "Job",
    "positive_int",
    "nonnegative_int",
    "positive_float",
    "fraction",
    "apply_schedule",
]


@dataclass(frozen=True)
class Option:
    """One ``ember train`` option. Its ``dest`` is also the run config's key; ``recipe``
    options define the run, so ``--resume`` refuses a value other than the run's own."""

    flag: str
    help: str
    type: Callable[[str], Any] | None = None
    choices: Sequence[str] | None = None
    flag_only: bool = False  # a switch (store_true)
    recipe: bool = True
    models: Sequence[str] | None = None  # only these models of the family take it

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        """Add to ``parser`` with no default, so that only options given appear in the result."""
        kwargs: dict[str, Any] = {"help": self.help, "default": argparse.SUPPRESS}
        if self.flag_only:
            kwargs["action"] = "store_true"
        else:
            kwargs.update(type=self.type, choices=self.choices)
        parser.add_argument(self.flag, **kwargs)


@dataclass
class Job:
    """What the Trainer runs for one run config (see ``Trainer`` for each piece)."""

    step: Callable[[Any], dict[str, Any]]
    plan: BatchPlan
    state: FitState
    epochs: int
    meter: Meter | None = None
    evaluate: Callable[[], dict[str, float]] | None = None
    scheduler_interval: str = "epoch"
    unit: str = "epoch"
    callbacks: list[Callback] = field(default_factory=list)
    # after a checkpoint's states are loaded: adapt them to the config (a stretched schedule)
    after_resume: Callable[[], None] = lambda: None
    # the summary's family-specific entries (test accuracy, FID…), from the finished History
    summarize: Callable[[History], dict[str, Any]] = lambda history: {}
    # why this run's step must run eagerly (a callback records inside it), or None
    eager_because: str | None = None


@dataclass(frozen=True)
class Family:
    """A family of ``ember train`` models (see the module docstring).

    ``config(model, given)`` resolves the options given (by dest) against the model's recipe
    into the run config; ``build(cfg, out, quiet)`` returns the ``Job`` of a run in directory
    ``out``; ``prepare(cfg, quiet)`` does, and announces, slow work the run needs before its
    seed is set (the FID classifier). ``length`` is the dest of
    the option that sets the run's length (``epochs`` or ``iters``), the one recipe option
    that ``--resume`` may change (the schedule is stretched to it).
    """

    name: str
    models: Sequence[str]
    options: Sequence[Option]
    length: str
    config: Callable[[str, dict[str, Any]], dict[str, Any]]
    build: Callable[[dict[str, Any], Path, bool], Job]
    description: str = ""
    prepare: Callable[[dict[str, Any], bool], None] = lambda cfg, quiet: None
    default_out: Callable[[dict[str, Any]], str] = lambda cfg: f"runs/{cfg['model']}"


def apply_schedule(scheduler: Any) -> None:
    """Set the optimizer's learning rates to what ``scheduler`` gives for its current step
    (after a resumed run's schedule was stretched to a new length)."""
    for group, lr in zip(scheduler.optimizer.param_groups, scheduler.get_lr()):
        group["lr"] = lr
