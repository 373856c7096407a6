"""CUDA code generation without a GPU: the kernels generated for a reference set of graphs
compile with NVRTC (the path that runs) and with nvcc, for sm_80 and sm_90; their structure
(launch shape, broadcast reads, reductions) is what the executor launches; the cubin cache
and NVRTC's errors. Running them is tested on a GPU (tests/backends/test_cuda_jit.py)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.jit import cuda_codegen, nvrtc
from ember.jit.fusion import Split, fuse
from ember.jit.graph import Graph
from tests.jit.test_native import _broadcast_graph

ARCHES = ["sm_80", "sm_90"]
needs_nvrtc = pytest.mark.skipif(
    not nvrtc.available(),
    reason="needs NVRTC: pip install 'ember[cuda-compile]' (the nvidia-cuda-nvrtc wheel)",
)


@pytest.fixture(autouse=True)
def cache(tmp_path: Path) -> Iterator[Path]:
    """A private kernel cache per test (cubins go to its cuda/ folder)."""
    with ember.config.override(jit_cache_dir=tmp_path / "jit"):
        yield tmp_path / "jit" / "cuda"


def _traced(model: nn.Module, x: np.ndarray, y: np.ndarray, dtype: ember.dtype) -> Graph:
    """The optimised graph of a jitted training step (forward, backward, Adam)."""
    model = model.to(dtype)
    opt = ember.optim.Adam(model.parameters(), lr=1e-3)

    @ember.jit
    def step(x: ember.Tensor, y: ember.Tensor) -> ember.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    xs, ys = ember.tensor(x, dtype=dtype), ember.tensor(y)
    for _ in range(3):  # the first step creates Adam's state; the next ones compile
        step(xs, ys)
    return step.graph


def _reference_graphs() -> dict[str, Graph]:
    """Graphs with every kind of group: broadcasts, scalars, softmax and norm rows, bias
    gradient columns, GELU's erf, LeakyReLU's comparison and where (booleans), Adam's update;
    float32 and float64."""
    rng = np.random.default_rng(0)
    ember.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(20, 32), nn.GELU(), nn.LayerNorm(32), nn.Linear(32, 10))
    cnn = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.LeakyReLU(0.1), nn.Flatten(),
        nn.Linear(4 * 36, 10),
    )  # fmt: skip
    y = rng.integers(0, 10, 8)
    return {
        "broadcast-f32": _broadcast_graph(ember.float32),
        "broadcast-f64": _broadcast_graph(ember.float64),
        "mlp-adam-f32": _traced(mlp, rng.standard_normal((8, 20)), y, ember.float32),
        "cnn-adam-f64": _traced(cnn, rng.standard_normal((8, 1, 8, 8)), y, ember.float64),
    }


@pytest.fixture(scope="module")
def reference() -> dict[str, tuple[Graph, list[cuda_codegen.Kernel]]]:
    out = {}
    for name, graph in _reference_graphs().items():
        groups = fuse(graph, reductions=True)
        kernels = [
            cuda_codegen.kernel_source(f"g{k}", g, graph)
            for k, g in enumerate(groups)
            if cuda_codegen.cuda_capable(g, graph)
        ]
        out[name] = (graph, groups, kernels)
    return out


def test_reference_graphs_cover_every_kind_of_kernel(reference) -> None:
    splits = {
        g.split.kind if g.split else None
        for _, groups, _ in reference.values()
        for g in groups
        if len(g.nodes) + len(g.reductions) > 1
    }
    assert splits == {None, Split.ROWS, Split.COLUMNS}
    for name, (graph, groups, kernels) in reference.items():
        several = [g for g in groups if len(g.nodes) + len(g.reductions) > 1]
        assert several and all(cuda_codegen.cuda_capable(g, graph) for g in several), name
        assert len(kernels) >= len(several)
    # LeakyReLU's comparison reaches its kernels as a boolean value (a byte), saved for the
    # backward's where
    assert any("unsigned char" in k.source for _, _, ks in reference.values() for k in ks)


@needs_nvrtc
@pytest.mark.parametrize("arch", ARCHES)
def test_reference_kernels_compile_with_nvrtc(reference, arch: str) -> None:
    for name, (_, _, kernels) in reference.items():
        cubin = nvrtc.compile_cubin(cuda_codegen.module_source(kernels), arch, name=name)
        assert cubin[:4] == b"\x7fELF", name  # a cubin is an ELF image
        for k in kernels:
            function = k.source.split("(")[0].split()[-1]
            assert function.encode() in cubin, (name, function)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc (CUDA's compiler)")
@pytest.mark.parametrize("arch", ARCHES)
def test_reference_kernels_compile_with_nvcc(reference, arch: str, tmp_path: Path) -> None:
    for name, (_, _, kernels) in reference.items():
        source = tmp_path / f"{name}.cu"
        source.write_text(cuda_codegen.module_source(kernels))
        done = subprocess.run(
            ["nvcc", "-cubin", f"-arch={arch}", "-o", str(tmp_path / "k.cubin"), str(source)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{name}: {done.stderr[-3000:]}"


def test_launch_shapes_follow_the_split(reference) -> None:
    for graph, groups, _ in reference.values():
        for k, g in enumerate(groups):
            if not cuda_codegen.cuda_capable(g, graph):
                continue
            kernel = cuda_codegen.kernel_source(f"g{k}", g, graph)
            size = int(np.prod(g.shape))
            if g.split is None:
                assert kernel.blocks == cuda_codegen.launch(size)
                assert "i += (long)blockDim.x * gridDim.x" in kernel.source
            elif g.split.kind == Split.ROWS:
                assert kernel.blocks == g.split.outer  # a block per row
                assert "__syncthreads" in kernel.source and "partial" in kernel.source
            else:
                assert kernel.blocks == cuda_codegen.launch(g.split.inner)  # a thread per column
                assert f"r < {g.split.outer}L" in kernel.source
            assert kernel.threads == cuda_codegen.THREADS


def test_broadcast_inputs_are_read_through_their_index_and_constants_inlined() -> None:
    graph = _broadcast_graph(ember.float32, scale=0.5)
    (group,) = fuse(graph)
    kernel = cuda_codegen.kernel_source("g", group, graph)
    # x (4,5) whole, row (5,) by column, column (4,1) by row; the scalar as an exact literal;
    # w (5,5) is read by the matmul only
    assert "x0 = a0[i]" in kernel.source
    assert "a1[(i % 5L)]" in kernel.source
    assert "a2[(((i / 5L) % 4L) * 1L)]" in kernel.source
    assert "0x1.0000000000000p-1" in kernel.source
    assert len(kernel.pointers) == 3 and kernel.source.startswith('extern "C" __global__')
    assert cuda_codegen.launch(10**12) == 65535 * 32 and cuda_codegen.launch(0) == 1


def test_non_finite_constants_are_portable_literals() -> None:
    from ember.ops.core import c_literal

    assert c_literal(float("inf")) == "(1.0 / 0.0)" and c_literal(-np.inf) == "(-1.0 / 0.0)"
    assert c_literal(np.nan) == "(0.0 / 0.0)" and c_literal(0.75) == "0x1.8000000000000p-1"


def test_int_groups_are_not_cuda_capable() -> None:
    graph = _broadcast_graph(ember.float32)
    (group,) = fuse(graph)
    group.dtype = ember.int32
    assert not cuda_codegen.cuda_capable(group, graph)


@needs_nvrtc
def test_cubins_are_cached_by_source_and_arch(cache: Path, monkeypatch) -> None:
    source = 'extern "C" __global__ void k(float *o) { o[threadIdx.x] = 1.0f; }\n'
    first = nvrtc.cubin_file(source, "sm_90")
    assert first.parent == cache and first.is_file()
    calls = []
    real = nvrtc._compile
    monkeypatch.setattr(nvrtc, "_compile", lambda *a: calls.append(a) or real(*a))
    assert nvrtc.cubin_file(source, "sm_90") == first and not calls  # from the cache
    other = nvrtc.cubin_file(source, "sm_80")
    assert other != first and len(calls) == 1
    assert not list(cache.glob(".tmp-*"))


@needs_nvrtc
def test_nvrtc_errors_name_the_program_and_hold_its_log() -> None:
    with pytest.raises(nvrtc.NvrtcError, match=r"could not compile bad\.cu:[\s\S]*undefined"):
        nvrtc.compile_cubin(
            'extern "C" __global__ void k() { undefined_name(); }', "sm_90", name="bad.cu"
        )
    with pytest.raises(ValueError, match="must look like 'sm_90'"):
        nvrtc.compile_cubin("", "compute_90")


def test_missing_nvrtc_says_how_to_install_it(monkeypatch) -> None:
    monkeypatch.setattr(nvrtc, "_candidates", lambda: ["/nonexistent/libnvrtc.so.13"])
    nvrtc.library.cache_clear()
    try:
        with pytest.raises(nvrtc.NvrtcError, match=r"ember\[cuda-compile\]"):
            nvrtc.library()
        assert not nvrtc.available()
    finally:
        nvrtc.library.cache_clear()
