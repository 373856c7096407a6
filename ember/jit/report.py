"""``ember.jit.explain``'s report: op counts per pass, the fused kernels and the memory plan."""

from __future__ import annotations

from ember.jit.executor import Executor
from ember.jit.fusion import Group
from ember.jit.graph import Graph

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
    fused = [
        (k, grp)
        for k, grp in enumerate(executor.groups)
        if len(grp.nodes) + executor.native[k] * len(grp.reductions) > 1
    ]
    singles = len(executor.groups) - len(fused)
    n_native = sum(executor.native[k] for k, _ in fused)
    sums = [(k, r) for k, grp in fused if executor.native[k] for r in grp.reductions]
    lines.append(
        f"  fusion: {len(fused)} fused kernels ({n_native} native C, "
        f"{len(fused) - n_native} NumPy out=) covering "
        f"{sum(len(grp.nodes) for _, grp in fused) + len(sums)} ops; "
        f"{singles} elementwise ops alone; {len(sums)} reductions (sums, row maxima) fused "
        "into C kernels"
    )
    for k, grp in fused:
        ops = " ".join(g.nodes[i].prim.name for i in grp.nodes)
        where = "C" if executor.native[k] else "NumPy"
        lines.append(
            f"    kernel {k:<3} {where:<5} {grp.dtype.name}[{_dims(grp.shape)}] "
            f"{len(grp.inputs)} in -> {len(grp.outputs)} out: {ops}"
        )
        if executor.native[k]:
            lines += [f"      {_sum(g, grp, r)} fused into kernel {k}" for r in grp.reductions]
    lines += _classes(executor)
    pooled = len(plan.buffer)
    naive = sum(g.avals[v].dtype.np.itemsize * _size(g.avals[v].shape) for v in plan.buffer)
    lines.append(
        f"  memory plan: {len(plan.buffers)} buffers ({_mib(plan.nbytes())}) hold {pooled} "
        f"intermediate values ({_mib(naive)} without reuse); "
        f"{len(plan.target)} of {len(g.writes)} state updates computed in place"
    )
    return "\n".join(lines)


def _classes(executor: Executor) -> list[str]:
    """One line per multi-tensor class (``ember.jit.multi``): the kernels one C call runs, or
    the lone nodes moved together."""
    lines = []
    for c in executor.classes:
        if c.lone:
            ops = executor.graph.nodes[c.members[0]].prim.name
            lines.append(f"  {len(c.members)} {ops} nodes moved together (multi-tensor class)")
        else:
            kernels = ", ".join(map(str, c.members))
            lines.append(f"  one C call runs groups {kernels} (multi-tensor class)")
    return lines


def _dims(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape)) or "scalar"


def _sum(graph: Graph, group: Group, r: int) -> str:
    """``sum(%v, dim=(1,)) -> float32[4x1]`` (or ``amax(…)``) and whether the reduced value
    is stored."""
    node = graph.nodes[r]
    (v,) = node.inputs
    kept = "stored: read elsewhere" if v in group.outputs else "never stored"
    return (
        f"{node.prim.name.lower()}(%{v}, dim={node.params['dims']}, "
        f"keepdim={node.params['keepdim']}) -> "
        f"[{_dims(graph.avals[node.out].shape)}] ({kept})"
    )


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n
