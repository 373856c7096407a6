"""The executor's CUDA side: the fused groups of a graph on a GPU as generated kernels.

``compile_groups`` writes one kernel per group (``cuda_codegen``), compiles them together with
NVRTC for the current GPU's architecture (cached on disk: ``nvrtc.cubin_file``) and loads the
module with CuPy. ``cuda_step`` is the plan step launching one of them: inputs made
C-contiguous, outputs into fresh memory, a planned buffer or the state array itself.
"""

from __future__ import annotations

from typing import Any

from ember.jit import cuda_codegen, nvrtc
from ember.jit.fusion import Group
from ember.jit.graph import Graph

__all__ = ["arch", "compile_groups", "cuda_step", "runtime_major"]


def arch() -> str:
    """The current GPU's NVRTC architecture, ``"sm_90"`` on an H100."""
    import cupy

    return f"sm_{cupy.cuda.Device().compute_capability}"


def runtime_major() -> int:
    """The CUDA major version CuPy runs on (NVRTC of that version makes loadable cubins)."""
    import cupy

    return cupy.cuda.runtime.runtimeGetVersion() // 1000


def compile_groups(
    groups: list[Group], chosen: list[bool], graph: Graph
) -> dict[int, tuple[Any, cuda_codegen.Kernel]]:
    """``{group index: (launchable function, its Kernel)}`` for the chosen groups."""
    import cupy

    kernels = {
        k: cuda_codegen.kernel_source(f"g{k}", g, graph) for k, g in enumerate(groups) if chosen[k]
    }
    if not kernels:
        return {}
    source = cuda_codegen.module_source(list(kernels.values()))
    path = nvrtc.cubin_file(source, arch(), major=runtime_major())
    module = cupy.RawModule(path=str(path))
    return {k: (module.get_function(f"g{k}"), kern) for k, kern in kernels.items()}


def cuda_step(function: Any, kernel: cuda_codegen.Kernel, ins: list[int], outs: list[tuple]):
    """A step launching ``function`` on slots ``ins`` and writing slots ``outs``
    (``(slot, fresh, shape, dtype)``: fresh memory per call, else the planned buffer or state
    array already in the slot; shape None for the group's own)."""

    def run(env: list[Any], shape: tuple[int, ...]) -> None:
        import cupy

        operands = [cupy.ascontiguousarray(env[s]) for s in ins]
        late = []
        for s, fresh, own, dtype in outs:
            if fresh:
                env[s] = cupy.empty(shape if own is None else own, dtype)
            out = env[s]
            if not out.flags.c_contiguous:  # a strided state array: written through a copy
                late.append((out, cupy.empty(out.shape, dtype)))
                out = late[-1][1]
            operands.append(out)
        function((kernel.blocks,), (kernel.threads,), tuple(operands))
        for target, value in late:
            target[...] = value

    return run
