"""Strict reading of a run directory: ``metrics.csv`` and the monitor's statistics.

``ember doctor`` must not diagnose a damaged file as a sick network (a non-numeric loss read
as NaN looked like an exploding run), so every reader here raises ``ValueError`` naming the
file, the line or array, and what was expected; a directory with nothing to diagnose raises
saying which files were expected.
"""

from __future__ import annotations

import csv
import json
import math
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from ember.diagnostics.monitor import HIST_BINS, JSON_NAME, LIST_FIELDS, NPZ_NAME, RunStats

__all__ = ["METRICS_NAME", "read_metrics", "load_stats", "load_run"]

METRICS_NAME = "metrics.csv"

EXPECTED_FILES = (
    f"expected {METRICS_NAME} (written by `ember train`) and/or {NPZ_NAME} + {JSON_NAME} "
    "(written by GradientMonitor.save, `ember train --diagnose`)"
)

# The shape of every array in diagnostics.npz, in sizes named by what they count. Parameters
# and modules are counted by the name lists in diagnostics.json, histogram bins are fixed, and
# the other sizes are taken from the first array that has them.
_DIMS = {
    "P": "parameters",
    "S": "recorded steps",
    "L": "loss values",
    "A": "activation steps",
    "M": "modules",
    "B": "histogram bins",
    "E": "bin edges",
}
_SHAPES = {
    "param_numel": "P",
    "param_ndim": "P",
    "steps": "S",
    "grad_norm": "SP",
    "weight_norm": "SP",
    "update_ratio": "SP",
    "loss_steps": "L",
    "losses": "L",
    "act_steps": "A",
    "act_mean": "AM",
    "act_std": "AM",
    "act_dead": "AM",
    "act_saturated": "AM",
    "hist_first": "MB",
    "hist_last": "MB",
    "hist_edges_first": "ME",
    "hist_edges_last": "ME",
}


def _number(text: str) -> float:
    """A metrics.csv cell as a float: an empty cell (a column not logged that epoch) is NaN."""
    return float(text) if text.strip() else math.nan


def _is_number(text: str) -> bool:
    try:
        _number(text)
    except ValueError:
        return False
    return True


def _check_header(path: Path, header: list[str]) -> list[str]:
    names = [name.strip() for name in header]
    for i, name in enumerate(names):
        if not name:
            raise ValueError(f"doctor: {path} line 1: column {i + 1} has no name")
        if _is_number(name):
            raise ValueError(
                f"doctor: {path} line 1: {name!r} is a number: expected a header line of "
                "column names (e.g. epoch,loss,val_loss) before the rows"
            )
        if name in names[:i]:
            raise ValueError(f"doctor: {path} line 1: column {name!r} appears twice")
    return names


def read_metrics(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """metrics.csv as column → float array; ValueError naming the line of any damage."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a spreadsheet may add a BOM
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"doctor: {path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    if not text.strip():
        raise ValueError(
            f"doctor: {path}: empty file: expected a header line of column names "
            "(e.g. epoch,loss,val_loss) and one row per epoch"
        )
    reader = csv.reader(text.splitlines())
    try:
        names = _check_header(path, next(reader))
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise ValueError(f"doctor: {path} line {reader.line_num}: {exc}") from None
    if not rows:
        raise ValueError(
            f"doctor: {path}: no rows after the header line: expected one row per epoch"
        )
    columns: list[list[float]] = [[] for _ in names]
    for line, row in rows:
        if len(row) != len(names):
            raise ValueError(
                f"doctor: {path} line {line}: {len(row)} value{'s' * (len(row) != 1)} for the "
                f"{len(names)} columns {','.join(names)}"
            )
        for values, name, cell in zip(columns, names, row):
            try:
                values.append(_number(cell))
            except ValueError:
                raise ValueError(
                    f"doctor: {path} line {line}: {cell!r} is not a number in column {name}"
                ) from None
    return {name: np.array(values) for name, values in zip(names, columns)}


def _read_meta(path: Path) -> dict[str, Any]:
    """diagnostics.json: the name lists (checked) and the per-epoch logs."""
    if not path.exists():
        raise ValueError(
            f"doctor: {path} is missing: GradientMonitor.save writes it beside {NPZ_NAME} "
            "(the names of the parameters and modules)"
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"doctor: {path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"doctor: {path}: expected a JSON object, got {type(meta).__name__}")
    for key in LIST_FIELDS:
        names = meta.setdefault(key, [])  # act_types is absent in runs saved before it existed
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"doctor: {path}: {key} must be a list of names, got {names!r}")
    epochs = meta.get("epochs", {})
    if not isinstance(epochs, dict) or not all(
        isinstance(v, list) and all(x is None or isinstance(x, (int, float)) for x in v)
        for v in epochs.values()
    ):
        raise ValueError(f"doctor: {path}: epochs must map column names to lists of numbers")
    meta["epochs"] = {
        k: np.array([math.nan if x is None else x for x in v], float) for k, v in epochs.items()
    }
    return meta


def _read_arrays(path: Path, sizes: dict[str, int]) -> dict[str, np.ndarray]:
    """diagnostics.npz: every array of ``_SHAPES`` there, numeric and of the stated shape."""
    try:
        with np.load(path) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ValueError(f"doctor: {path}: not a NumPy .npz archive ({exc})") from None
    unexpected = sorted(arrays.keys() - _SHAPES.keys())
    if unexpected:
        raise ValueError(
            f"doctor: {path}: unexpected array {unexpected[0]!r}: expected {', '.join(_SHAPES)}"
        )
    for name, dims in _SHAPES.items():
        if name not in arrays:
            raise ValueError(f"doctor: {path}: array {name} is missing")
        array = arrays[name]
        if array.dtype.kind not in "biuf":
            raise ValueError(f"doctor: {path}: array {name} holds {array.dtype}, not numbers")
        for dim, n in zip(dims, array.shape):
            sizes.setdefault(dim, n)
        expected = tuple(sizes.get(d, -1) for d in dims)
        if array.shape != expected:
            raise ValueError(
                f"doctor: {path}: array {name} has shape {array.shape}: expected {expected} "
                f"({', '.join(_DIMS[d] for d in dims)})"
            )
    return arrays


def load_stats(run_dir: str | os.PathLike) -> RunStats:
    """Read what ``GradientMonitor.save`` wrote (FileNotFoundError when it is not there)."""
    run = Path(run_dir)
    if not (run / NPZ_NAME).exists():
        raise FileNotFoundError(
            f"doctor: no monitor statistics in {run}: {NPZ_NAME} is missing\n"
            "hint: train with a GradientMonitor(model, run_dir=...) callback "
            "(ember train --diagnose)"
        )
    meta = _read_meta(run / JSON_NAME)
    sizes = {"P": len(meta["param_names"]), "M": len(meta["act_names"])}
    sizes |= {"B": HIST_BINS, "E": HIST_BINS + 1}
    arrays = _read_arrays(run / NPZ_NAME, sizes)
    return RunStats(**{k: meta[k] for k in LIST_FIELDS}, **arrays, epochs=meta["epochs"])


def load_run(run_dir: str | os.PathLike) -> RunStats:
    """The monitor statistics of ``run_dir`` with its metrics.csv columns as the epochs."""
    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(f"doctor: no such run directory: {run}")
    has_stats = (run / NPZ_NAME).exists() or (run / JSON_NAME).exists()
    has_metrics = (run / METRICS_NAME).exists()
    if not (has_stats or has_metrics):
        raise FileNotFoundError(
            f"doctor: nothing to diagnose in {run}: neither {NPZ_NAME} nor {METRICS_NAME}: "
            f"{EXPECTED_FILES}"
        )
    stats = load_stats(run) if has_stats else RunStats()
    if has_metrics:
        stats.epochs = read_metrics(run / METRICS_NAME)
    if not (stats.steps.size or stats.losses.size or stats.act_steps.size or stats.epochs):
        raise ValueError(
            f"doctor: nothing to diagnose in {run}: {NPZ_NAME} holds no recorded step, loss or "
            f"epoch and there is no {METRICS_NAME}: {EXPECTED_FILES}"
        )
    return stats
