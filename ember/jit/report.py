"""``ember.jit.explain``'s report: op counts per pass, the fused kernels and the memory plan."""

from __future__ import annotations

from ember.jit.executor import Executor

__all__ = ["describe"]


def _mib(n: int) -> str:
    return f"{n / 2**20:.2f} MiB"


def describe(name: str, counts: list[tuple[str, int]], executor: Executor) -> str:
    """A readable report of one compiled graph (see ``ember.jit.explain``)."""
    g, plan = executor.graph, executor.plan
    lines = [f"ember.jit.explain({name}):"]
    lines += [f"  {step:<15} {n:5d} ops" for step, n in counts]
    lines.append(
        f"  {len(g.inputs)} inputs, {len(g.constants)} constants, {len(g.outputs)} outputs, "
        f"{len(g.writes)} state write-backs, {len(g.grad_sets)} .grad sets"
    )
    fused = [(k, grp) for k, grp in enumerate(executor.groups) if len(grp.nodes) > 1]
    singles = len(executor.groups) - len(fused)
    n_native = sum(executor.native[k] for k, _ in fused)
    lines.append(
        f"  fusion: {len(fused)} fused kernels ({n_native} native C, "
        f"{len(fused) - n_native} NumPy out=) covering "
        f"{sum(len(grp.nodes) for _, grp in fused)} ops; {singles} elementwise ops alone"
    )
    for k, grp in fused:
        ops = " ".join(g.nodes[i].prim.name for i in grp.nodes)
        where = "C" if executor.native[k] else "NumPy"
        shape = "x".join(map(str, grp.shape)) or "scalar"
        lines.append(
            f"    kernel {k:<3} {where:<5} {grp.dtype.name}[{shape}] "
            f"{len(grp.inputs)} in -> {len(grp.outputs)} out: {ops}"
        )
    pooled = len(plan.buffer)
    naive = sum(g.avals[v].dtype.np.itemsize * _size(g.avals[v].shape) for v in plan.buffer)
    lines.append(
        f"  memory plan: {len(plan.buffers)} buffers ({_mib(plan.nbytes())}) hold {pooled} "
        f"intermediate values ({_mib(naive)} without reuse); "
        f"{len(plan.target)} of {len(g.writes)} state updates computed in place"
    )
    return "\n".join(lines)


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
