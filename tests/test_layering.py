"""Imports point downward only (DESIGN.md): parse every module under ember/ and check.

Layers, bottom to top:
arrays → dtypes → ops.core/autograd → ops families → tensor → creation/random → nn → optim →
data → jit → models/train/diagnostics/io/bench → cli. A module may import its own layer or
lower ones at module level; a function-level (lazy) import may also go upward, but only where
it is listed in ``LAZY_UPWARD`` with the reason. ``jit`` never imports ``nn``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ember"

# longest matching prefix wins; the package root re-exports the layers up to creation/random
LAYERS = {
    "ember.arrays": 0,
    "ember.dtypes": 1,
    "ember.ops.core": 2,
    "ember.autograd": 2,
    "ember.ops": 3,
    "ember.tensor": 4,
    "ember.printing": 4,  # how Tensor prints, under set_printoptions
    "ember.creation": 5,
    "ember.random": 5,
    "ember": 5,
    "ember.nn": 6,
    "ember.optim": 7,
    "ember.data": 8,
    "ember.utils": 8,
    "ember.multiprocessing": 8,  # sends Parameters (ember.nn) between processes
    "ember.utils.tensorboard": 10,  # a logger like diagnostics: traces with jit, writes PNGs
    "ember.onnx": 10,  # an exporter: lowers jit's traced graphs to ONNX
    "ember.jit": 9,
    "ember.models": 10,
    "ember.train": 10,
    "ember.diagnostics": 10,
    "ember.io": 10,
    "ember.serialization": 10,
    "ember.bench": 10,
    "ember.metrics": 10,
    "ember.compiler": 10,
    "ember.playground": 10,
    "ember.cli": 11,
    "ember.__main__": 11,
}

LAZY_UPWARD = {
    # the seed gradient of backward() and gradcheck's probes are new tensors
    ("ember.autograd", "ember.creation"),
    ("ember.autograd.gradcheck", "ember.creation"),
    # Tensor(data) is the class-call spelling of ember.tensor(data)
    ("ember.tensor", "ember.creation"),
    # a jit graph's draw() hands its DOT text to the same renderer draw_graph uses
    ("ember.jit.graph", "ember.diagnostics.graph"),
    # eager convolutions (large inputs), the LSTM's recurrence, where, erf and sigmoid run
    # native C kernels compiled with the jit's toolchain and disk cache, the recurrence's
    # products through NumPy's CBLAS GEMM; without a compiler they stay on NumPy
    ("ember.ops.conv", "ember.jit.conv_kernels"),
    ("ember.ops.lstm_native", "ember.jit.native"),
    ("ember.ops.lstm_native", "ember.jit.blas"),
    ("ember.ops.eager_native", "ember.jit.native"),
    # an in-place write that needs no gradient (fill_) keeps the tensor in the graph by a where
    ("ember.ops.core", "ember.ops.elementwise"),
    # index_fill, diag_embed and cartesian_prod build their index grids with arange/meshgrid
    ("ember.ops.extra", "ember.creation"),
}

FORBIDDEN = [("ember.jit", "ember.nn")]


def _layer(module: str) -> int:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in LAYERS:
            return LAYERS[prefix]
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in {__file__}")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (PACKAGE.parent / rel).with_suffix(".py").exists() or (
        PACKAGE.parent / rel / "__init__.py"
    ).exists()


def _imports(path: Path) -> list[tuple[str, bool, int]]:
    """(imported ember module, lazy?, line) for every import statement in ``path``."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    lazy_ids = {
        id(inner)
        for fn in ast.walk(tree)
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef))
        for inner in ast.walk(fn)
        if inner is not fn
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            targets = [
                f"{base}.{a.name}" if _is_module(f"{base}.{a.name}") else base for a in node.names
            ]
        else:
            continue
        found += [
            (t, id(node) in lazy_ids, node.lineno) for t in targets if t.split(".")[0] == "ember"
        ]
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: _module_name(p))
def test_imports_point_downward(path: Path) -> None:
    module = _module_name(path)
    if module == "ember":
        return  # the curated public surface: it re-exports the layers and loads the rest lazily
    here = _layer(module)
    bad = []
    for target, lazy, line in _imports(path):
        if any(module.startswith(a) and target.startswith(b) for a, b in FORBIDDEN):
            bad.append(f"line {line}: {target} (forbidden)")
        elif _layer(target) > here and not (lazy and (module, target) in LAZY_UPWARD):
            kind = "lazy import, not in LAZY_UPWARD" if lazy else "module-level import"
            bad.append(f"line {line}: {target} ({kind})")
    assert not bad, f"{module} (layer {here}) imports upward:\n" + "\n".join(bad)


def test_rule_table_is_current() -> None:
    modules = {_module_name(p) for p in MODULES}
    for module, target in LAZY_UPWARD:
        assert module in modules, f"LAZY_UPWARD names {module}, which no longer exists"
        assert any(t == target and lazy for t, lazy, _ in _imports(_path(module))), (
            f"LAZY_UPWARD allows {module} → {target}, which it no longer imports: remove it"
        )


def _path(module: str) -> Path:
    rel = Path(*module.split(".")[1:])
    file = (PACKAGE / rel).with_suffix(".py")
    return file if file.exists() else PACKAGE / rel / "__init__.py"


def test_checker_catches_an_upward_import(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = PACKAGE / "ops" / "_layering_probe.py"
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: "from ember.nn import Linear\n")
    with pytest.raises(AssertionError, match=r"ember.ops._layering_probe \(layer 3\) imports"):
        test_imports_point_downward(fake)
