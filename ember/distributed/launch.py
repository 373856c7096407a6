"""``ember run -n N -- COMMAND``: N ranks of COMMAND on this machine, as one MPI job.

The ranks are started by the MPI launcher (the ``mpiexec`` beside this Python, which the
``mpich`` wheel installs, or the first on PATH) rather than as plain subprocesses: MPI ranks
can only find each other through their launcher. Each rank also gets torchrun's variables
(RANK, LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), so PyTorch scripts
that read them work, and one BLAS/OpenMP thread unless ``--threads`` says otherwise, so that
N ranks do not fight over the cores. With MPICH the launcher keeps the other ranks alive when
one fails and signals them (SIGUSR1), which ember.distributed turns into a clear error on
each; ``ember run`` then reports the failure and exits with status 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

from ember.argtypes import positive_int

__all__ = ["add_arguments", "run", "find_mpiexec", "launch_command"]

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Define ``ember run``'s arguments on ``p``."""
    p.add_argument("-n", "--nproc", type=positive_int, default=2, help="ranks (default 2)")
    p.add_argument("--threads", type=positive_int, default=1, help="BLAS threads per rank")
    p.add_argument("--mpiexec", help="the MPI launcher (default: beside python, then PATH)")
    p.add_argument(
        "command", nargs=argparse.REMAINDER, help="after --: the program, e.g. ember train cnn"
    )


def find_mpiexec() -> str:
    """The mpiexec of this Python's environment (the mpich wheel's), else the one on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:
        raise FileNotFoundError(
            "ember run: no mpiexec found beside this Python or on PATH\n"
            "hint: pip install 'ember[distributed]' (the mpich wheel brings mpiexec)"
        )
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_command(mpiexec: str, n: int, command: list[str], threads: int = 1) -> list[str]:
    """mpiexec's command line: one MPMD section per rank, each with its own RANK."""
    version = subprocess.run([mpiexec, "--version"], capture_output=True, text=True).stdout
    hydra = "HYDRA" in version or "MPICH" in version
    if command and command[0] in ("python", "python3"):
        command = [sys.executable, *command[1:]]
    elif command and command[0].endswith(".py"):
        command = [sys.executable, *command]
    shared = {"WORLD_SIZE": n, "LOCAL_WORLD_SIZE": n, "MASTER_ADDR": "127.0.0.1",
              "MASTER_PORT": _free_port(), **dict.fromkeys(_THREAD_VARS, threads)}  # fmt: skip
    line = [mpiexec, "-disable-auto-cleanup"] if hydra else [mpiexec, "--oversubscribe"]
    if not hydra and os.geteuid() == 0:
        line.append("--allow-run-as-root")  # Open MPI refuses root without it
    for rank in range(n):
        env = {**shared, "RANK": rank, "LOCAL_RANK": rank}
        if rank:
            line.append(":")
        line += ["-n", "1"]
        for key, value in env.items():
            line += ["-env", key, str(value)] if hydra else ["-x", f"{key}={value}"]
        line += command
    return line


def run(args: argparse.Namespace) -> int:
    """Start the ranks, wait for them, and report a failure of any."""
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise ValueError("ember run: no command given (ember run -n 2 -- ember train cnn)")
    line = launch_command(args.mpiexec or find_mpiexec(), args.nproc, command, args.threads)
    proc = subprocess.Popen(line)
    try:
        status = proc.wait()
    except KeyboardInterrupt:
        proc.send_signal(signal.SIGINT)  # mpiexec forwards it to the ranks
        proc.wait()
        raise
    if status != 0:
        print(
            f"ember run: a rank failed (mpiexec exit status {status}); every rank was stopped "
            "— the first error above is the cause",
            file=sys.stderr,
        )
        return 1
    return 0
