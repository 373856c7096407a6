"""Run public PyTorch programs unchanged, once with PyTorch and once with ``torch`` aliased to
ember, on tiny synthetic data, and print a table of what ran (issue 15, item 7).

The programs are not in this repository: bring them with the ``fetch`` tool and extract each
snapshot under ``--programs`` as ``owner+name/`` (see docs/public-programs.md). Each run gets a
fresh copy of the program's folder under ``--work``, with fake data written by
``scripts/public_programs_data.py``; ``scripts/public_programs_shim`` (a synthetic torchvision,
and ``six``) is put on ``sys.path`` for both runs, and for the ember run
``scripts/public_programs_alias`` on ``PYTHONPATH``, whose ``sitecustomize`` aliases ``torch``
in the processes a program starts (``torch.multiprocessing``).

What the harness adds around an unchanged program, in both runs alike:

- ``Tensor.backward`` records the value of each scalar it is called on (the losses), and stops
  the program (``StopRun``) after ``max_steps`` calls for programs without an iteration flag.
- ``Module.__call__``: at the first outermost call of each module, the PyTorch run writes its
  parameters and buffers to ``torch_init.npz`` and the ember run copies them in: both start
  from the same weights.
- ``torch.randn/rand/randint/randperm/randn_like/rand_like`` called from the program's own files
  draw from one NumPy generator, so noise and batch offsets match; so do the masks of
  ``F.dropout`` and ``nn.Dropout``, and the permutations of ``RandomSampler`` (without
  replacement). Other draws inside the framework (``Dropout2d``, dropout inside ``nn.LSTM`` or
  ``nn.Transformer*``, samplers with replacement) are left alone; Python's and NumPy's global
  generators are seeded with 0.

Usage::

    OMP_NUM_THREADS=1 python scripts/public_programs.py [--only mnist,vae] [--table-only]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.abc
import importlib.machinery
import json
import os
import pty
import random
import runpy
import shlex
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHIM = ROOT / "scripts" / "public_programs_shim"
ALIAS = ROOT / "scripts" / "public_programs_alias"  # sitecustomize: the alias in child processes
DEFAULT_PROGRAMS = Path("/tmp/programs")
DEFAULT_WORK = Path("/tmp/public_programs_runs")


# -- torch -> ember aliasing --------------------------------------------------------------------
class TorchAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import ``torch`` and ``torch.X.Y`` as ``ember`` and ``ember.X.Y`` (same module objects).

    A missing ember module surfaces as ``ModuleNotFoundError: No module named 'ember.X'``.
    """

    def __init__(self, target: str = "ember") -> None:
        self.target = target

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """Claim ``torch`` and every ``torch.*`` name."""
        if fullname == "torch" or fullname.startswith("torch."):
            return importlib.machinery.ModuleSpec(fullname, self)
        return None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        """Default (throwaway) module; ``exec_module`` swaps in ember's."""
        return None

    def exec_module(self, module: ModuleType) -> None:
        """Put the ember module in ``sys.modules`` under the torch name; the import system
        returns whatever ``sys.modules`` holds after this."""
        real = importlib.import_module(self.target + module.__name__[len("torch") :])
        sys.modules[module.__name__] = real


def alias_torch_to_ember() -> ModuleType:
    """Make ``import torch`` (and its submodules) give ember; returns ember."""
    for name in [n for n in sys.modules if n == "torch" or n.startswith("torch.")]:
        del sys.modules[name]
    import ember

    sys.meta_path.insert(0, TorchAlias("ember"))
    sys.modules["torch"] = ember
    return ember


# -- program specs ------------------------------------------------------------------------------
@dataclass
class Program:
    """One public program: where it lives, how it is run, what data it gets."""

    name: str
    repo: str  # owner/name
    script: str  # path of the program inside the repository
    copy: str  # folder of the repository copied into the run directory ("" = whole repo)
    cwd: str  # working directory, relative to the copied folder
    argv: list[str]
    data: str = ""  # function of public_programs_data.py that writes its data
    env: dict[str, str] = field(default_factory=dict)
    syspath: list[str] = field(default_factory=list)  # extra sys.path entries (copied folder)
    max_steps: int | None = None  # stop after this many backward calls (no iteration flag)
    tty: bool = False  # give the program a terminal on stdin (``stty size``)
    timeout: int = 900
    note: str = ""


EX = "pytorch/examples"
SMALL = {"SHIM_TRAIN_SIZE": "20", "SHIM_TEST_SIZE": "20"}
LM = "--emsize 16 --nhid 16 --nlayers 1 --bptt 8 --batch_size 4 --dropout 0 --log-interval 1"
MINGPT = "--trainer.max_iters=3 --trainer.batch_size=4 --trainer.num_workers=0"
MNIST = "--epochs 1 --batch-size 20 --test-batch-size 20 --log-interval 1"


def _p(name: str, repo: str, script: str, copy: str, cwd: str, argv: str, **kw: Any) -> Program:
    return Program(name, repo, script, copy, cwd, shlex.split(argv), **kw)


PROGRAMS: list[Program] = [
    _p(
        "nanogpt",
        "karpathy/nanoGPT",
        "train.py",
        "",
        ".",
        "config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=1"
        " --eval_interval=2 --log_interval=1 --block_size=16 --batch_size=4 --n_layer=1"
        " --n_head=2 --n_embd=16 --max_iters=3 --lr_decay_iters=3 --dropout=0.0 --out_dir=out",
        data="nanogpt",
    ),
    _p(
        "mingpt-chargpt",
        "karpathy/minGPT",
        "projects/chargpt/chargpt.py",
        "",
        "projects/chargpt",
        f"{MINGPT} --model.model_type=gpt-nano --data.block_size=16 --system.work_dir=out",
        data="chargpt",
        syspath=["."],
    ),
    _p(
        "mingpt-adder",
        "karpathy/minGPT",
        "projects/adder/adder.py",
        "",
        "projects/adder",
        f"{MINGPT} --model.model_type=gpt-nano --system.work_dir=out",
        syspath=["."],
        max_steps=3,
        note="stopped after 3 steps: its evaluation at iteration 0 decodes the whole test split",
    ),
    _p(
        "makemore",
        "karpathy/makemore",
        "makemore.py",
        "",
        ".",
        "-i tiny_names.txt -o out --type transformer --max-steps 3 --num-workers 0 --n-layer 1"
        " --n-head 2 --n-embd 16 --n-embd2 16 --batch-size 4 --device cpu",
        data="makemore",
    ),
    _p(
        "word-lm-lstm",
        EX,
        "word_language_model/main.py",
        "word_language_model",
        ".",
        f"--data tiny --epochs 1 {LM} --save model.pt",
        data="word_lm",
    ),
    _p(
        "word-lm-transformer",
        EX,
        "word_language_model/main.py",
        "word_language_model",
        ".",
        f"--data tiny --model Transformer --nhead 2 --epochs 1 {LM} --save model.pt",
        data="word_lm",
    ),
    _p(
        "mnist",
        EX,
        "mnist/main.py",
        "mnist",
        ".",
        f"{MNIST} --no-accel --save-model",
        env={"SHIM_TRAIN_SIZE": "60", "SHIM_TEST_SIZE": "20"},
    ),
    _p("mnist-rnn", EX, "mnist_rnn/main.py", "mnist_rnn", ".", f"{MNIST} --save-model", env=SMALL),
    _p(
        "mnist-hogwild",
        EX,
        "mnist_hogwild/main.py",
        "mnist_hogwild",
        ".",
        f"{MNIST} --num-processes 2 --dry-run",
        env=SMALL,
    ),
    _p(
        "vae",
        EX,
        "vae/main.py",
        "vae",
        ".",
        "--epochs 2 --batch-size 20 --no-accel --log-interval 1",
        env=SMALL,
    ),
    _p(
        "dcgan",
        EX,
        "dcgan/main.py",
        "dcgan",
        ".",
        "--dataset fake --batchSize 8 --imageSize 64 --nz 8 --ngf 4 --ndf 4 --niter 1"
        " --workers 0 --outf out --manualSeed 1",
        env={"SHIM_TRAIN_SIZE": "8"},
    ),
    _p(
        "regression",
        EX,
        "regression/main.py",
        "regression",
        ".",
        "",
        max_steps=5000,
        note="runs until its loss is below 1e-3; the harness would stop it after 5000 steps",
    ),
    _p(
        "time-sequence",
        EX,
        "time_sequence_prediction/train.py",
        "time_sequence_prediction",
        ".",
        "--steps 1",
        data="sine_waves",
        note="traindata.pt is written by the harness with torch.save (6 waves of 40 points)",
    ),
    _p(
        "siamese",
        EX,
        "siamese_network/main.py",
        "siamese_network",
        ".",
        f"{MNIST} --no-accel",
        env=SMALL,
    ),
    _p(
        "super-resolution",
        EX,
        "super_resolution/main.py",
        "super_resolution",
        ".",
        "--upscale_factor 3 --batchSize 2 --testBatchSize 2 --nEpochs 1 --threads 0",
        data="bsds300",
    ),
    _p(
        "fast-neural-style",
        EX,
        "fast_neural_style/neural_style/neural_style.py",
        "fast_neural_style",
        ".",
        "train --dataset tiny_images --style-image tiny_style.jpg --save-model-dir saved"
        " --epochs 1 --batch-size 2 --image-size 32 --log-interval 1",
        data="style_images",
        note="no --style-size: resizing the style image uses PIL's Image.ANTIALIAS,"
        " removed in Pillow 10, so it fails under PyTorch too",
    ),
    _p(
        "cifar-dla",
        "kuangliu/pytorch-cifar",
        "main.py",
        "",
        ".",
        "--lr 0.1",
        env={"SHIM_TRAIN_SIZE": "8", "SHIM_TEST_SIZE": "8"},
        max_steps=2,
        tty=True,
        note="200 epochs and no flag for fewer: the harness stops it after 2 steps",
    ),
]


# -- the child: one program under one backend ---------------------------------------------------
class StopRun(BaseException):
    """Raised by the backward hook after ``max_steps``; ends the program as a success."""


def _shape(size: Sequence[Any]) -> tuple[int, ...]:
    if len(size) == 1 and not isinstance(size[0], int):
        return tuple(int(s) for s in size[0])
    return tuple(int(s) for s in size)


def _install_shared_random(torch: Any, root: str, seed: int = 0) -> None:
    """Random draws made by the program's own files come from one NumPy generator."""
    rng = np.random.default_rng(seed)

    def from_program() -> bool:
        return os.path.realpath(sys._getframe(2).f_code.co_filename).startswith(root)

    def finish(arr: np.ndarray, kw: dict[str, Any], like: Any = None) -> Any:
        t = torch.tensor(arr)
        dtype = kw.get("dtype") or (like.dtype if like is not None else None)
        device = kw.get("device") or (like.device if like is not None else None)
        if dtype is not None:
            t = t.to(dtype)
        if device is not None:
            t = t.to(device)
        if kw.get("requires_grad"):
            t.requires_grad_(True)
        return t

    def randint(*args: Any, **kw: Any) -> Any:
        pos = list(args)
        size = kw.get("size") or (pos.pop() if pos and not isinstance(pos[-1], int) else None)
        low, high = (0, pos[0]) if len(pos) == 1 else (pos[0], pos[1]) if pos else (0, 0)
        low, high = kw.get("low", low), kw.get("high", high)
        return rng.integers(int(low), int(high), size=tuple(size), dtype=np.int64)

    draws: dict[str, Callable[..., Any]] = {
        "randn": lambda *a, **kw: rng.standard_normal(_shape(a or kw["size"])).astype(np.float32),
        "rand": lambda *a, **kw: rng.random(_shape(a or kw["size"])).astype(np.float32),
        "randperm": lambda n, **kw: rng.permutation(int(n)).astype(np.int64),
        "randint": randint,
        "randn_like": lambda x, **kw: rng.standard_normal(tuple(x.shape)).astype(np.float32),
        "rand_like": lambda x, **kw: rng.random(tuple(x.shape)).astype(np.float32),
    }
    for name, draw in draws.items():
        original = getattr(torch, name, None)
        if original is None:
            continue

        def shared(*a: Any, _o: Any = original, _d: Any = draw, _n: str = name, **kw: Any) -> Any:
            if not from_program():
                return _o(*a, **kw)
            kw.pop("generator", None)
            return finish(_d(*a, **kw), kw, a[0] if _n.endswith("_like") else None)

        setattr(torch, name, shared)
    _install_shared_dropout(torch, seed + 1)
    _install_shared_shuffle(torch, seed + 2)


def _install_shared_shuffle(torch: Any, seed: int) -> None:
    """``RandomSampler`` without replacement permutes with one NumPy generator (``DataLoader(...,
    shuffle=True)``); with replacement it is left as it is."""
    rng = np.random.default_rng(seed)
    cls = torch.utils.data.RandomSampler

    def perms(self: Any) -> Any:
        n = len(self.data_source)
        for _ in range(self.num_samples // n):
            yield rng.permutation(n)
        yield rng.permutation(n)[: self.num_samples % n]

    for attr, wrap in (("__iter__", True), ("index_chunks", False)):
        original = getattr(cls, attr, None)
        if original is None:
            continue

        def method(self: Any, _o: Any = original, _wrap: bool = wrap) -> Any:
            if self.replacement:
                return _o(self)
            chunks = perms(self)
            return (int(i) for c in chunks for i in c) if _wrap else chunks

        setattr(cls, attr, method)


def _install_shared_dropout(torch: Any, seed: int) -> None:
    """``F.dropout`` and ``nn.Dropout`` draw their masks from one NumPy generator."""
    rng = np.random.default_rng(seed)
    functional = torch.nn.functional

    def dropout(x: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> Any:
        if not training or p == 0.0:
            return x
        keep = (rng.random(tuple(x.shape)) >= p).astype(np.float32) / (1.0 - p)
        return x * torch.tensor(keep).to(x.dtype).to(x.device)

    functional.dropout = dropout
    torch.nn.Dropout.forward = lambda self, x: dropout(x, self.p, self.training)


def _install_hooks(torch: Any, backend: str, work: Path, max_steps: int | None) -> dict[str, Any]:
    """Record losses at ``backward``; share initial weights at optimizer construction."""
    record: dict[str, Any] = {"losses": [], "backward_calls": 0, "transplanted": 0}
    original_backward = torch.Tensor.backward

    def backward(self: Any, *a: Any, **kw: Any) -> Any:
        if max_steps is not None and record["backward_calls"] >= max_steps:
            raise StopRun
        record["backward_calls"] += 1
        try:
            if self.numel() == 1 and len(record["losses"]) < 20:
                record["losses"].append(float(self.detach().item()))
        except Exception:  # noqa: BLE001 - recording must never change the program's outcome
            pass
        return original_backward(self, *a, **kw)

    torch.Tensor.backward = backward
    _install_transplant(torch, backend, work / "torch_init.npz", record)
    return record


def _install_transplant(torch: Any, backend: str, init_file: Path, record: dict[str, Any]) -> None:
    """At the first outermost call of each module, the PyTorch run stores its parameters and
    buffers (by name) and the ember run copies the stored values in: same starting weights."""
    module_cls = torch.nn.Module
    original_call = module_cls.__call__
    state = {"depth": 0, "count": 0, "seen": set()}

    def transplant(module: Any) -> None:
        key, state["count"] = f"m{state['count']}", state["count"] + 1
        tensors = [*module.named_parameters(), *module.named_buffers()]
        if backend == "torch":
            stored = dict(np.load(init_file)) if init_file.exists() else {}
            for name, t in tensors:
                stored[f"{key}/{name}"] = t.detach().cpu().numpy().copy()
            np.savez(init_file, **stored)
            return
        stored = dict(np.load(init_file)) if init_file.exists() else {}
        with torch.no_grad():
            for name, t in tensors:
                value = stored.get(f"{key}/{name}")
                if value is not None and value.shape == tuple(t.shape):
                    t.copy_(torch.tensor(value).to(t.dtype))
                    record["transplanted"] += 1
                else:
                    record.setdefault("not_transplanted", []).append(f"{key}/{name}")

    def call(self: Any, *a: Any, **kw: Any) -> Any:
        if state["depth"] == 0 and id(self) not in state["seen"]:
            state["seen"].add(id(self))
            try:
                transplant(self)
            except Exception as e:  # noqa: BLE001 - never change the program's outcome
                record["transplant_error"] = f"{type(e).__name__}: {e}"
        state["depth"] += 1
        try:
            return original_call(self, *a, **kw)
        finally:
            state["depth"] -= 1

    module_cls.__call__ = call


def _first_error(exc: BaseException, root: str) -> dict[str, str]:
    """Exception type, message, and the innermost frame in the program and overall."""
    frames = traceback.extract_tb(exc.__traceback__)
    in_program = [f for f in frames if os.path.realpath(f.filename).startswith(root)]
    where = in_program[-1] if in_program else (frames[-1] if frames else None)
    return {
        "error_type": type(exc).__name__,
        "error": str(exc).splitlines()[0][:300] if str(exc) else "",
        "where": f"{Path(where.filename).name}:{where.lineno}: {where.line}" if where else "",
        "innermost": f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "",
    }


def run_child(spec_file: Path) -> None:
    """Run one program in this process (cwd, argv and env already set by the parent)."""
    spec = json.loads(spec_file.read_text())
    backend, run_root, script = spec["backend"], spec["run_root"], spec["script"]
    work = Path(spec["work"])
    out: dict[str, Any] = {"backend": backend, "status": "ok"}
    started = time.perf_counter()
    record: dict[str, Any] = {}
    try:
        torch = alias_torch_to_ember() if backend == "ember" else importlib.import_module("torch")
        importlib.import_module("torch.optim")
        random.seed(0)  # the programs that use Python's or NumPy's RNG unseeded
        np.random.seed(0)
        record = _install_hooks(torch, backend, work, spec["max_steps"])
        _install_shared_random(torch, run_root)
        sys.path[:0] = [str(Path(script).parent), *spec["syspath"], str(SHIM)]
        sys.argv = [script, *spec["argv"]]
        runpy.run_path(script, run_name="__main__")
    except StopRun:
        out["status"] = "ok (stopped)"
    except SystemExit as e:
        if e.code not in (None, 0):
            out.update(status="error", error_type="SystemExit", error=str(e.code))
    except BaseException as e:  # noqa: BLE001 - any failure is the measurement
        out.update(status="error", **_first_error(e, run_root))
        traceback.print_exc()
    out.update(record)
    out["seconds"] = round(time.perf_counter() - started, 1)
    (work / f"{backend}.json").write_text(json.dumps(out, indent=1))
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown (DataLoader/atexit hooks of a half-run program)


# -- the parent: copy, write data, run both, print ----------------------------------------------
def _copy_program(prog: Program, programs: Path, dest: Path) -> Path:
    src = programs / prog.repo.replace("/", "+") / prog.copy
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)
    return dest


def _run_one(prog: Program, backend: str, programs: Path, work: Path) -> dict[str, Any]:
    from public_programs_data import WRITERS  # scripts/ is on sys.path when run as a script

    run_dir = _copy_program(prog, programs, work / backend)
    cwd = run_dir / prog.cwd
    if prog.data:
        WRITERS[prog.data](cwd)
    spec = {
        "backend": backend,
        "run_root": os.path.realpath(run_dir),
        "script": str(run_dir / prog.script.removeprefix(prog.copy).lstrip("/")),
        "argv": prog.argv,
        "syspath": [str((run_dir / p).resolve()) for p in prog.syspath],
        "max_steps": prog.max_steps,
        "work": str(work),
    }
    spec_file = work / f"{backend}_spec.json"
    spec_file.write_text(json.dumps(spec))
    (work / f"{backend}.json").unlink(missing_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", **prog.env}
    paths = [str(ROOT), *([str(ALIAS)] if backend == "ember" else []), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(paths).rstrip(os.pathsep)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(spec_file)]
    log = (work / f"{backend}.log").open("w")
    stdin: Any = subprocess.DEVNULL
    tty_fds: tuple[int, int] | None = None
    if prog.tty:
        tty_fds = pty.openpty()
        stdin = tty_fds[1]
    started = time.perf_counter()
    try:
        subprocess.run(
            cmd,
            cwd=cwd,
            env=env,
            stdin=stdin,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=prog.timeout,
            check=False,
        )
        result_file = work / f"{backend}.json"
        if result_file.exists():
            result = json.loads(result_file.read_text())
        else:
            result = {"status": "error", "error_type": "crash", "error": "no result written"}
    except subprocess.TimeoutExpired:
        result = {"status": "error", "error_type": "timeout", "error": f"> {prog.timeout} s"}
    finally:
        log.close()
        if tty_fds:
            os.close(tty_fds[0])
            os.close(tty_fds[1])
    result["wall"] = round(time.perf_counter() - started, 1)
    return result


def run_program(prog: Program, programs: Path, work_root: Path) -> dict[str, Any]:
    """Both runs of one program (PyTorch first: it writes the shared initial weights)."""
    work = work_root / prog.name
    work.mkdir(parents=True, exist_ok=True)
    (work / "torch_init.npz").unlink(missing_ok=True)
    row: dict[str, Any] = {"program": asdict(prog), "commit": _commit(programs, prog.repo)}
    for backend in ("torch", "ember"):
        print(f"[{prog.name}] {backend} ...", file=sys.stderr, flush=True)
        row[backend] = _run_one(prog, backend, programs, work)
    (work / "row.json").write_text(json.dumps(row, indent=1))
    return row


def _commit(programs: Path, repo: str) -> str:
    """The commit of the checkout of ``repo`` under ``programs`` ("?" when it is not a git
    checkout: an extracted archive)."""
    try:
        return subprocess.run(
            ["git", "-C", str(programs / repo.replace("/", "+")), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def _loss_cell(losses: list[float], n: int = 3) -> str:
    return ", ".join(f"{v:.6g}" for v in losses[:n]) or "-"


def _verdict(row: dict[str, Any]) -> str:
    e = row["ember"]
    if e["status"].startswith("ok"):
        return "runs unchanged"
    return f"`{e.get('error_type')}: {e.get('error', '')}`"


def table(rows: list[dict[str, Any]]) -> str:
    """Markdown table: program, torch status, ember result, first losses side by side."""
    lines = [
        "| program | torch | ember | first losses torch | first losses ember | max rel. diff |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        t, e = row["torch"], row["ember"]
        tl, el = t.get("losses", []), e.get("losses", [])
        n = min(len(tl), len(el), 3)
        diff = (
            f"{max(abs(a - b) / max(abs(a), 1e-12) for a, b in zip(tl[:n], el[:n])):.1e}"
            if n
            else "-"
        )
        tstat = t["status"] if t["status"].startswith("ok") else f"{t.get('error_type')}"
        lines.append(
            f"| {row['program']['name']} | {tstat} | {_verdict(row)} | {_loss_cell(tl)} | "
            f"{_loss_cell(el)} | {diff} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the selected programs (or reprint the last results) and print the table."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--programs", type=Path, default=DEFAULT_PROGRAMS)
    p.add_argument("--work", type=Path, default=DEFAULT_WORK)
    p.add_argument("--only", default="", help="comma-separated program names")
    p.add_argument("--table-only", action="store_true", help="reprint from the last results")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        run_child(args.child)
        return
    chosen = [x for x in args.only.split(",") if x]
    rows = []
    for prog in PROGRAMS:
        if chosen and prog.name not in chosen:
            continue
        row_file = args.work / prog.name / "row.json"
        if args.table_only:
            if row_file.exists():
                rows.append(json.loads(row_file.read_text()))
            continue
        rows.append(run_program(prog, args.programs, args.work))
    print(table(rows))


if __name__ == "__main__":
    main()
