"""How much of PyTorch's public API ember covers: writes docs/torch-coverage.md.

Run ``.venv/bin/python scripts/torch_coverage.py`` (a few minutes: it runs the tests).

It walks the public names of ``torch`` (functions), ``torch.nn`` (classes),
``torch.nn.functional``, ``torch.optim``, ``torch.optim.lr_scheduler``, ``torch.utils.data`` and
``torch.Tensor`` in the installed torch, and reports for each whether ember has it, whether the
parameters match (names, order, defaults; builtins' signatures come from the lambdas of
``torch.overrides.get_testing_overrides()``), and whether it is covered. Names left out of the
measure are listed with the reason read from ``scripts/torch_coverage_reasons.toml``.

Covered means a passing test exercises the name against PyTorch. This is measured, not declared:
an explicit registry of tested names would drift from the tests and could list a stub. Instead
the script runs the torch-comparison tests in this process with both ember's and torch's
namespaces instrumented (``torchcov.recorder``): each wrapper notes its name when it is called
directly from test code, and a name is covered when one passing test calls it in both
libraries. Calls the libraries make internally do not count, so a name is not credited merely
because something else uses it, and a stub that is never compared with torch is not covered.
The wrappers change object identities, so the few tests that check ``f is g`` (and torch code
that does, such as TransformerEncoder's fast-path test) fail during the measurement and their
names earn nothing from them; the failing tests are listed in the pytest output.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest
import torch
import torchcov.catalog as catalog
from torchcov.reasons import Reasons
from torchcov.recorder import EMBER, TORCH, Recorder
from torchcov.report import Row, Summary, render
from torchcov.signatures import differences, signature_of

ROOT = Path(__file__).resolve().parent.parent
TESTS = ["tests/ops", "tests/nn", "tests/optim", "tests/data", "tests/compat", "tests/autograd",
         "tests/io", "tests/test_tensor.py", "tests/test_creation.py", "tests/test_dtypes.py",
         "tests/test_random.py", "tests/test_import_surface.py",
         "tests/test_toplevel_aliases.py", "tests/test_autocast.py",
         "tests/test_windows.py", "tests/test_multiprocessing.py",
         "tests/test_flags.py", "tests/test_random_inplace.py"]  # fmt: skip


def measured(namespaces: list[catalog.Namespace], reasons: Reasons) -> list[tuple]:
    """(namespace, name, reason or None) for every walked name."""
    return [(ns, n, reasons.reason(ns.title, n)) for ns in namespaces for n in ns.names()]


def signature_cell(ns: catalog.Namespace, name: str, overrides: dict) -> str:
    bound = isinstance(ns.torch_obj, type)
    theirs = signature_of(ns.torch_attr(name), overrides, bound=bound)
    ours = signature_of(ns.ember_attr(name), bound=bound)
    if theirs is None or ours is None:
        return ""
    return "; ".join(differences(theirs, ours)) or "yes"


def record(names: list[tuple], tests: list[str]) -> dict[str, list[list]]:
    """Run the tests with both libraries instrumented; per passing test the keys each called."""
    recorder = Recorder(ROOT / "tests")
    present = [(ns, n) for ns, n, why in names if why is None and _has(ns, n)]
    recorder.instrument(EMBER, [(ns.ember_obj, n, (ns.title, n)) for ns, n in present])
    recorder.instrument(TORCH, [(ns.torch_obj, n, (ns.title, n)) for ns, n in present])
    for key, why in recorder.failed_to_wrap.items():
        print(f"not instrumented: {key}: {why}", file=sys.stderr)
    options = ["-q", "-p", "no:xdist", "-p", "no:cacheprovider", "-m", "not slow and not cuda"]
    try:
        code = pytest.main([*(str(ROOT / t) for t in tests), *options], [recorder])
    finally:
        recorder.restore()
    print(f"pytest exited with {code}; {len(recorder.passed)} tests passed", file=sys.stderr)
    return {t: [sorted(e), sorted(t_)] for t, (e, t_) in recorder.calls().items()}


def _has(ns: catalog.Namespace, name: str) -> bool:
    return ns.ember_attr(name) is not catalog.MISSING


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tests", nargs="*", default=TESTS, help="test paths to run")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "torch-coverage.md")
    parser.add_argument(
        "--reasons", type=Path, default=ROOT / "scripts/torch_coverage_reasons.toml"
    )
    parser.add_argument("--record", type=Path, help="also save the per-test calls as JSON")
    parser.add_argument("--replay", type=Path, help="read saved calls instead of running tests")
    args = parser.parse_args(argv)

    overrides = torch.overrides.get_testing_overrides()
    namespaces = catalog.pytorch_namespaces()
    names = measured(namespaces, Reasons.load(args.reasons))
    signatures = {
        (ns.title, n): signature_cell(ns, n, overrides)
        for ns, n, why in names
        if why is None and _has(ns, n)
    }
    calls = json.loads(args.replay.read_text()) if args.replay else record(names, args.tests)
    if args.record:
        args.record.write_text(json.dumps(calls, indent=0))
    covered = {tuple(k) for ember_keys, torch_keys in calls.values() for k in ember_keys
               if k in torch_keys}  # fmt: skip

    sections = []
    for ns in namespaces:
        rows = [
            Row(ns.title, n, why, _has(ns, n), signatures.get((ns.title, n), ""),
                (ns.title, n) in covered)
            for space, n, why in names
            if space is ns
        ]  # fmt: skip
        sections.append((Summary.of(ns.title, rows, ns.target), rows))
    header = [
        "# PyTorch API coverage",
        "",
        f"Generated by `scripts/torch_coverage.py` against torch {torch.__version__}; "
        "see its docstring for the method. A name is **covered** when a passing test calls it "
        "in both ember and torch (directly from test code); percentages are of the names "
        "measured, those left out being listed with their reasons below each namespace. "
        "Signature differences name the parameters that do not match torch's.",
    ]
    args.out.write_text(render(header, sections) + "\n")
    for summary, _ in sections:
        print(f"{summary.namespace}: {summary.covered}/{summary.measured} covered")


if __name__ == "__main__":
    main()
