"""``ember train MODEL``: one training run of any family, from options to summary file.

Flow: the options given → the family's run config → the run directory checked (a file, not
writable, an existing run without ``--resume``/``--force``: refused now) → on ``--resume`` the
checkpoint's config, with the options given checked against it (conflicts refused; a longer
``--epochs``/``--iters`` stretches the schedule) → the family's ``Job`` → the ``Trainer``
with the checkpoint and metrics callbacks → ``summary.json``. With ``distributed`` the same
flow runs on every rank of an MPI job (ember.train.parallel).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ember.io.safetensors import atomic_write_bytes
from ember.random import manual_seed
from ember.train import checkpoint
from ember.train.callbacks import Callback, CSVLogger, History, ModelCheckpoint
from ember.train.classifier import CLASSIFIERS
from ember.train.family import Family
from ember.train.generative import GENERATIVE
from ember.train.lm import LANGUAGE_MODELS
from ember.train.parallel import GlobalMeter, join, leave, on_rank0
from ember.train.progress import format_duration
from ember.train.rundir import RunDir
from ember.train.trainer import MeanMeter, Trainer, TrainingInterrupted

__all__ = ["FAMILIES", "family_of", "train", "RunInterrupted"]

FAMILIES: tuple[Family, ...] = (CLASSIFIERS, LANGUAGE_MODELS, GENERATIVE)


class RunInterrupted(Exception):
    """Ctrl-C stopped a run; the message says what was saved and how to continue."""


def family_of(model: str) -> Family:
    for family in FAMILIES:
        if model in family.models:
            return family
    known = [m for f in FAMILIES for m in f.models]
    raise ValueError(f"train: unknown model {model!r}: expected one of {', '.join(known)}")


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def _resumed_config(
    family: Family,
    model: str,
    saved: dict[str, Any],
    given: dict[str, Any],
    fresh: dict,
    quiet: bool,
) -> dict[str, Any]:
    """The saved run's config, after refusing the options that contradict it and stretching
    its length to a larger ``--epochs``/``--iters``."""
    extra = saved["extra"] or {}
    old, position = extra.get("config"), extra.get("position")
    if old is None or position is None:
        raise ValueError(
            "--resume: the checkpoint was not written by this version of `ember train` "
            "(no run config or position inside); hint: --force starts a new run"
        )
    conflicts = []
    if old.get("model") != model:
        conflicts.append(f"model {model} (the run trains {old.get('model')})")
    recipe = {o.dest for o in family.options if o.recipe}
    for dest in given:
        if dest in recipe and dest != family.length and fresh.get(dest) != old.get(dest):
            conflicts.append(f"{_flag(dest)} {given[dest]} (the run has {old.get(dest)})")
    if conflicts:
        raise ValueError(
            "--resume continues a run with its own settings; these differ from it: "
            + "; ".join(conflicts)
            + "; hint: drop them, or start a new run in another --out"
        )
    cfg = dict(old)
    length, new = family.length, given.get(family.length)
    if new is not None and new != old[length]:
        done = position["step"] if length == "iters" else position["epoch"]
        if new < done:
            raise ValueError(
                f"--resume: {_flag(length)} {new} is less than the {done} {length} already done"
            )
        if not quiet:
            print(f"resume: schedule stretched from {old[length]} to {new} {length}", flush=True)
        cfg[length] = new
    return cfg


def _open(run: RunDir, resume: bool, force: bool, quiet: bool) -> dict[str, Any] | None:
    """Check the run directory and return the checkpoint to resume (None: a new run, for
    which the directory is claimed)."""
    run.prepare()
    saved = checkpoint.read(run.checkpoint) if resume and run.checkpoint.exists() else None
    if resume and saved is None and not quiet:
        print(f"no checkpoint in {run.path}; starting a new run", flush=True)
    if saved is None:
        run.claim(force)
    return saved


def train(
    model: str,
    options: dict[str, Any] | None = None,
    *,
    out: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    quiet: bool = False,
    jit: bool = True,
    tensorboard: bool = False,
    distributed: bool = False,
) -> dict[str, Any]:
    """Train ``model`` with the ``options`` given (by dest; the rest come from its recipe)
    into the run directory ``out``; return the summary (also written to summary.json).
    ``tensorboard``: also log the run as TensorBoard event files in ``out``.
    ``distributed``: this process is one rank of an MPI job that trains the run together,
    each rank on its share of every global batch (ember.train.parallel); rank 0 alone writes
    and prints, and the other ranks return the summary without the final evaluation."""
    if tensorboard:  # before the run directory is touched: the package is optional
        from ember.train.tensorboard import TensorBoard
    rank, world = join() if distributed else (0, 1)
    quiet = quiet or rank > 0
    options = dict(options or {})
    family = family_of(model)
    fresh = family.config(model, options)
    run = RunDir(out or family.default_out(fresh))
    saved = on_rank0(lambda: _open(run, resume, force, quiet))
    cfg = fresh if saved is None else _resumed_config(family, model, saved, options, fresh, quiet)
    if cfg["batch_size"] % world:
        raise ValueError(
            f"--distributed: a global batch of {cfg['batch_size']} does not split into {world} "
            f"equal shares, one per rank; hint: a --batch-size divisible by {world}"
        )
    if rank == 0:  # what the final evaluation needs: rank 0 alone evaluates
        family.prepare(cfg, quiet)
    manual_seed(cfg["seed"])
    job = family.build(cfg, run.path, quiet)
    state = job.state
    state.extra = {"config": cfg}
    if saved is not None:
        checkpoint.restore(saved, state.model, state.optimizer, state.scheduler)
        state.history = History(saved["extra"]["history"])
        job.after_resume()
    if rank > 0:  # rank 0 keeps the one-process random stream; the others draw their own
        manual_seed(hash((cfg["seed"], rank, saved["extra"]["position"]["step"] if saved else 0)))
    if world > 1:
        job.plan.shard(rank, world)
    loggers: list[Callback] = []
    if tensorboard and rank == 0:
        loggers.append(TensorBoard(run.path, sources=job.callbacks))
    if jit and job.eager_because:
        jit = False  # a compiled step would replay without the recording
        if not quiet:
            print(f"running the step eagerly: {job.eager_because}", flush=True)
    trainer = Trainer(
        job.step,
        job.plan,
        state,
        job.epochs,
        # the family's callbacks first: what they draw (sample grids) precedes the checkpoint,
        # so a resumed run's random stream is the uninterrupted run's
        callbacks=[
            *job.callbacks,
            *loggers,
            ModelCheckpoint(run.checkpoint),
            CSVLogger(run.metrics),
        ]
        if rank == 0
        else [],
        meter=GlobalMeter(job.meter or MeanMeter()) if world > 1 else job.meter,
        # rank 0 evaluates for all: the families' evaluations (a test loader, fixed random
        # blocks) are not shardable as they stand, and every rank needs the same logs
        evaluate=job.evaluate and (lambda: on_rank0(job.evaluate)),
        scheduler_interval=job.scheduler_interval,
        unit=job.unit,
        jit=jit,
        progress=not quiet,
    )
    if saved is not None:
        state.restore_position(saved["extra"]["position"])
    resume_cmd = f"ember train {model} --out {run.path} --resume"
    start = time.perf_counter()
    try:
        history = trainer.run()
    except TrainingInterrupted as stop:
        raise RunInterrupted(
            f"interrupted: saved {stop.state.epoch} epochs + {stop.state.batch} steps "
            f"({stop.state.step} steps in all) to {run.checkpoint}; continue with: {resume_cmd}"
        ) from None
    except OSError as exc:
        kept = checkpoint.read(run.checkpoint)["epoch"] if run.checkpoint.exists() else None
        intact = f"the checkpoint of epoch {kept} is intact" if kept is not None else "no loss"
        raise OSError(
            exc.errno,
            f"could not write to {run.path}: {exc.strerror or exc} ({intact}); "
            f"free space, then continue with: {resume_cmd}",
        ) from exc
    if distributed:
        leave()
    wall = time.perf_counter() - start
    summary = {
        "model": model,
        "params": sum(p.numel() for p in state.model.parameters()),
        family.length: cfg[family.length],
        "wall_time_s": wall,  # this invocation (a resumed run's earlier epochs are in history)
        "train_time_s": sum(r.get("time", 0.0) for r in history.rows),
        **(job.summarize(history) if rank == 0 else {}),
        "config": cfg,
    }
    if rank > 0:
        return summary
    atomic_write_bytes(run.summary, json.dumps(summary, indent=2).encode())
    if not quiet:
        results = [f"{k} {v:.4f}" for k, v in summary.items() if k.startswith("test_")]
        if "fid" in summary:
            results.append(f"FID {summary['fid']['fid']:.1f}")
        print(f"{model}: {', '.join(results) or 'done'} in {format_duration(wall)} → {run.path}")
    return summary
