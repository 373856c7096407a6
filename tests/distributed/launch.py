"""Running a ranks.py program on N ranks from a test, with a wall-clock limit."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

RANKS = Path(__file__).with_name("ranks.py")
ROOT = Path(__file__).parents[2]


def _missing() -> str | None:
    if find_spec("mpi4py") is None:
        return "mpi4py is not installed (pip install 'ember[distributed]')"
    from ember.distributed.launch import find_mpiexec

    try:
        find_mpiexec()
    except FileNotFoundError:
        return "no mpiexec (pip install mpich)"
    return None


needs_mpi = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


def ember_run(
    n: int, *program: str, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess:
    """``ember run -n N -- python ranks.py PROGRAM…``; a hang fails the test after ``timeout``."""
    command = [sys.executable, "-m", "ember", "run", "-n", str(n), "--", "python", str(RANKS)]
    return subprocess.run(
        [*command, *program],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )


def assert_ok(result: subprocess.CompletedProcess, name: str, n: int) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    for rank in range(n):
        assert f"ok {name} rank {rank}" in result.stdout, result.stdout + result.stderr
