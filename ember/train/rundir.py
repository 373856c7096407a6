"""A run directory: checked before training starts, claimed for one run, never overwritten
by accident, and cleared of the temporary files an interrupted write leaves behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["RunDir", "RUN_FILES"]

CHECKPOINT = "checkpoint.safetensors"
# what a run writes (summary, metrics, plots, sample grids, diagnostics, TensorBoard events)
RUN_FILES = (CHECKPOINT, "metrics.csv", "summary.json", "plot.png", "diagnostics.npz",
             "diagnostics.json")  # fmt: skip
RUN_GLOBS = ("samples-epoch*.png", "events.out.tfevents.*")


class RunDir:
    """``path`` as the home of one training run (``checkpoint``, ``metrics`` …)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.checkpoint = self.path / CHECKPOINT
        self.metrics = self.path / "metrics.csv"
        self.summary = self.path / "summary.json"

    def prepare(self) -> None:
        """Create the directory, prove it writable and remove stale temporary files, so that a
        bad ``--out`` fails now rather than after the first epoch."""
        if self.path.exists() and not self.path.is_dir():
            raise ValueError(f"--out {self.path} is a file: expected a directory for the run")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=self.path, prefix=".tmp-probe-")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise ValueError(f"--out {self.path} is not writable: {exc.strerror or exc}") from None
        for stale in self.path.glob(".tmp-*"):  # left by a write that SIGKILL cut short
            stale.unlink(missing_ok=True)

    def existing(self) -> list[str]:
        """The run files already in the directory."""
        found = [name for name in RUN_FILES if (self.path / name).exists()]
        return found + [p.name for g in RUN_GLOBS for p in sorted(self.path.glob(g))]

    def claim(self, force: bool) -> None:
        """Make the directory this new run's: refuse one holding a run unless ``force``, which
        deletes that run's files."""
        found = self.existing()
        if not found:
            return
        if not force:
            raise ValueError(
                f"{self.path} already holds a run ({', '.join(found[:3])}"
                f"{', …' if len(found) > 3 else ''}): not overwriting it; "
                "hint: --resume continues it, --force starts over and deletes it"
            )
        for name in found:
            (self.path / name).unlink()
