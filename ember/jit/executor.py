"""The executors: run an optimised graph as a flat list of steps on raw arrays.

No Tensor objects, no autograd and no ``apply`` in the loop. ``fusion.fuse`` groups the
elementwise nodes; each group runs either as one native C kernel (``native``, when a compiler
is present and the group has C expressions) or, in the plan executor, member by member through
NumPy ``out=`` kernels. ``memory.plan_memory`` then places every value: pooled buffers
allocated once per executor and reused by liveness, state updated in place, fresh memory for
what the caller keeps. A step is one of

* ``ALLOC``: ``env[out] = prim.forward(xp, *ins, **params)`` (the kernel allocates);
* ``INTO``:  ``prim.write(xp, *ins, out=env[out], **params)`` (a planned buffer or a state array);
* ``NATIVE``: a compiled kernel reading and writing ``env`` slots.

Afterwards the remaining mutated state is written back (``target[...] = value``) and new
``.grad`` tensors are attached.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from ember.arrays import backend_of
from ember.config import config
from ember.jit import (
    blas,
    conv_kernels,
    cuda_codegen,
    cuda_executor,
    cuda_graph,
    matmul_kernels,
    multi,
    native,
    pool_kernels,
)
from ember.jit.addresses import NativeCall, Operands
from ember.jit.fusion import Group, fuse
from ember.jit.graph import Graph, Source
from ember.jit.memory import MemoryPlan, StepIO, plan_memory
from ember.jit.step_code import ALLOC, INTO, NATIVE, SameView, bind_function, loop_function
from ember.jit.trace import Sample
from ember.ops.core import ELEMENTWISE, widened, widened_write, widening
from ember.ops.elementwise import Copy
from ember.ops.linalg import MatMul
from ember.tensor import Tensor

__all__ = ["Executor", "resolve"]

_wrap = Tensor._wrap
FRESH, POOLED, TARGET = 0, 1, 2  # where a native kernel's output goes


def resolve(source: Source, args: list[Tensor]) -> Any:
    """The array behind ``source`` now (None when a ``.grad`` is missing)."""
    if source.kind == "arg":
        return args[source.index]._data
    if source.kind == "data":
        return source.tensor._data
    grad = source.tensor.grad
    return None if grad is None else grad._data


def _element_strides(a: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    """``a``'s strides in elements once broadcast to ``shape`` (0 along broadcast dims)."""
    return tuple(st // a.itemsize for st in np.broadcast_to(a, shape).strides)


def _native_step(
    kernel: Any,
    ins: list[int],
    outs: list[tuple[int, int, tuple | None, Any]],
    like: list[int],
    strided: Callable[[list[tuple[int, ...]]], Any] | None = None,
):
    """A step calling ``kernel`` on the table of the addresses of the arrays in slots
    ``ins``, then of slots ``outs`` (``(slot, placement, shape, dtype)``: FRESH memory per
    call, a POOLED buffer or a TARGET state array; shape None for the group's shape, else a
    reduction's).

    When an input of the group's shape (slots ``like``) is not C-contiguous, the outputs of
    that shape take its memory layout, as NumPy's eager kernels do: a later reduction then sums
    in the same order as in eager mode and rounds the same way. ``strided(strides)`` (groups
    without sums) then gives a kernel for exactly those layouts, made once per layout, that
    reads and writes the operands in place; without it (or when it returns None) the inputs
    are copied to C order and the outputs written through temporaries.
    """
    contiguous = np.ascontiguousarray
    buffers: dict[tuple, Any] = {}  # (slot, strides) -> an output buffer of that layout
    layouts: dict[tuple, Any] = {}  # operand shapes, strides -> a kernel (None: copy instead)
    operands = Operands(len(ins) + len(outs))  # their addresses, kept between calls
    fresh = any(placement == FRESH for _, placement, _, _ in outs)

    def allocate(env: list[Any], shape: tuple[int, ...], layout: Any) -> None:
        """Fresh and pooled outputs, in ``layout`` when it is given."""
        for s, placement, own, dtype in outs:
            if own is not None:  # a reduction: C order, its own shape
                if placement == FRESH:
                    env[s] = np.empty(own, dtype)
            elif placement == FRESH:
                env[s] = np.empty(shape, dtype) if layout is None else np.empty_like(layout, dtype)
            elif layout is not None and placement == POOLED:
                key = (s, layout.strides)
                if key not in buffers:
                    buffers[key] = np.empty_like(layout, dtype)
                env[s] = buffers[key]

    def run_in_place(env: list[Any], inputs: list[Any], shape: tuple[int, ...]) -> bool:
        operands = inputs + [env[s] for s, *_ in outs]
        key = tuple((a.shape, a.strides) for a in operands)
        if key not in layouts:
            layouts[key] = strided([_element_strides(a, shape) for a in operands])
        kernel = layouts[key]
        if kernel is None:
            return False
        kernel(*[a.ctypes.data for a in operands])
        return True

    slots = (*ins, *(s for s, *_ in outs))
    step = NativeCall(None, kernel, operands.table, slots)

    def run(env: list[Any], shape: tuple[int, ...]) -> None:
        step.last = None
        layout = None
        for s in like:
            if not env[s].flags.c_contiguous:
                layout = env[s]
                break
        inputs = [env[s] for s in ins]  # before an output takes the slot of one of them
        if fresh or layout is not None:
            allocate(env, shape, layout)
        if layout is not None and strided is not None and run_in_place(env, inputs, shape):
            return
        see = operands.see
        keep = []  # C-order copies of the other inputs, alive until the call returns
        for k, a in enumerate(inputs):
            if not see(k, a):
                keep.append(contiguous(a))
                see(k, keep[-1])
        late = []
        for k, (s, *_) in enumerate(outs, len(inputs)):
            a = env[s]
            if not see(k, a):  # kernels write C order: through a temporary
                late.append((a, np.empty(a.shape, a.dtype)))
                see(k, late[-1][1])
        kernel(operands.table)
        for target, value in late:
            target[...] = value
        if not (fresh or keep or late):
            step.last = tuple([env[s] for s in slots])

    step.run = run
    return step


def _keep_layout(write: Callable, like: tuple[int, ...], pooled: bool) -> Callable:
    """``write`` into the planned buffer, minding the layout of the inputs of the output's
    shape (positions ``like``) that are not C-contiguous (a transposed gradient, a
    convolution's output). When they all share one layout and the output is a pooled buffer,
    the output takes that layout too, as in eager NumPy, so a later reduction adds in the same
    order; otherwise they are first copied to C order, so that the kernel does not mix row-
    and column-major operands (a cache miss per element). Buffers are made once per layout."""
    buffers: dict[tuple, Any] = {}

    def cached(xp: Any, key: tuple, like_array: Any, order: str) -> Any:
        buf = buffers.get(key)
        if buf is None:
            buf = buffers[key] = xp.empty_like(like_array, order=order)
        return buf

    def run(xp: Any, *arrays: Any, out: Any, **params: Any) -> Any:
        odd = [k for k in like if not arrays[k].flags.c_contiguous]
        if odd:
            first = arrays[odd[0]]
            if (
                pooled
                and len(odd) == len(like)
                and all(arrays[k].strides == first.strides for k in odd)
            ):
                out = cached(xp, ("out", first.strides), first, "K")
            else:
                arrays = list(arrays)
                for k in odd:
                    buf = cached(xp, (k, arrays[k].strides), arrays[k], "C")
                    buf[...] = arrays[k]
                    arrays[k] = buf
        return write(xp, *arrays, out=out, **params)

    return run


def _given_draws(steps: list[tuple], drawn: dict[int, Any]) -> list[tuple]:
    """``steps`` with each draw step ``k`` of ``drawn`` handing out ``drawn[k]`` instead."""
    steps = list(steps)
    for k, array in drawn.items():
        kind, _, ins, params, out, dying = steps[k]
        steps[k] = (kind, lambda xp, _array=array, **_: _array, ins, params, out, dying)
    return steps


class Executor:
    """A graph compiled into steps over slots (see the module docstring)."""

    def __init__(
        self, graph: Graph, aliases: set[int], *, use_native: Any = None, gpu: bool = False
    ) -> None:
        """``use_native``: None (``ember.config.jit_native``, default True), False, True (the
        groups C is measured to win on), or "all" (every group C can compile, libm calls
        included). Sums join native kernels unless ``ember.config.jit_fuse_reductions`` is off.
        ``gpu``: the graph runs on CuPy arrays; every group of several ops with CUDA
        expressions then runs as one generated CUDA kernel (``cuda_executor``)."""
        self.graph = graph
        self.gpu = gpu
        mode = config.jit_native if use_native is None else use_native
        # a copy has no C lowering: in a group it would keep the group's other members off C
        # (an optimizer update reading a copied gradient); on a GPU it saves a launch there
        apart = (Copy,) if mode and not gpu else ()
        # (CUDA kernels reduce by sums only)
        self.groups: list[Group] = fuse(
            graph,
            reductions=bool(mode) and config.jit_fuse_reductions,
            maxima=not gpu,
            apart=apart,
        )
        self.library, self.kernels = None, {}
        # a step with native convolutions holds OpenBLAS at one thread (see below): its
        # kernels may go parallel from a smaller size
        pooled = bool(mode) and not gpu and conv_kernels.covers(graph)
        self.parallel_min = config.jit_parallel_min_pooled if pooled else config.jit_parallel_min
        self.classes: list[multi.Class] = []  # groups run by one multi-tensor call
        self.strided_libs: list[Any] = []  # kernels for inputs in other layouts (``_strided``)
        if gpu:
            self.native = [bool(mode) and self._cuda_worthy(g) for g in self.groups]
            if any(self.native):
                self.kernels = cuda_executor.compile_groups(self.groups, self.native, graph)
        else:
            vector_math = bool(mode) and native.vector_math()
            chosen = [
                bool(mode) and (g.native if mode == "all" else g.prefer_native(vector_math))
                for g in self.groups
            ]
            if mode:
                self.classes = multi.classes(self.groups, chosen, graph)
                for k in (k for c in self.classes if not c.lone for k in c.members):
                    chosen[k] = True
            if any(chosen):
                self.library, self.kernels = self._compile(chosen)
            self.native = [c and self.library is not None for c in chosen]
        on_host = bool(mode) and not gpu
        # max pooling's and the convolution data gradient's native kernels, by node
        self.pools = pool_kernels.build(graph) if on_host else pool_kernels.Kernels(None, {})
        self.convs = conv_kernels.build(graph) if on_host else pool_kernels.Kernels(None, {})
        self.native_ops = {**self.pools.by_node, **self.convs.by_node}
        # with native convolutions (OpenMP), OpenBLAS is held at one thread for the whole step
        # and products are cut across OpenMP's threads: one pool, none spinning against another
        self.blas = blas.find() if self.convs.by_node else None
        # products into planned buffers call BLAS from C as NumPy would (no hold to cut for)
        self.direct_products = on_host and self.blas is None
        graph.groups = [
            g.nodes + g.reductions if on else g.nodes
            for g, on in zip(self.groups, self.native)
            if len(g.nodes) + on * len(g.reductions) > 1
        ]
        order, self.step_io, kinds = self._schedule()
        self.plan: MemoryPlan = plan_memory(graph, self.step_io, aliases)
        self._assemble(order, kinds, aliases)
        # the steps drawing random numbers, in order (a CUDA graph replay draws them first)
        self.draw_steps = [k for k, step in enumerate(self.steps) if step[1] is Sample.forward]
        self.has_native = any(kind == NATIVE for kind, *_ in self.steps)
        capture = gpu and config.jit_cuda_graphs
        self.replayer = cuda_graph.Replayer(self) if capture else None

    def _cuda_worthy(self, g: Group) -> bool:
        """A group of several ops that CUDA can compile: one launch instead of several."""
        return len(g.nodes) + len(g.reductions) > 1 and cuda_codegen.cuda_capable(g, self.graph)

    def _compile(self, chosen: list[bool]) -> tuple[Any, dict[int, tuple[Any, list[int]]]]:
        """One shared library with a kernel per chosen group: ``{group: (fn, pointers)}``; ``fn``
        takes the table of its operands' addresses (one ctypes argument converts in a fifth
        of the time of five)."""
        sources, pointers = [], {}
        for k, g in enumerate(self.groups):
            if chosen[k]:
                src, ptrs = native.kernel_source(f"g{k}", g, self.graph, self.parallel_min)
                sources.append(src)
                sources.append(
                    multi.wrapper_source(f"t{k}", [(f"g{k}", len(ptrs) + len(g.outputs))])
                )
                pointers[k] = ptrs
        for c, cls in enumerate(self.classes):
            if cls.lone:
                continue
            calls = [(f"g{k}", len(pointers[k]) + len(self.groups[k].outputs)) for k in cls.members]
            sources.append(multi.wrapper_source(f"m{c}", calls))
        lib = native.load("\n\n".join(sources))
        if lib is None:
            self.classes = []
            return None, {}
        kernels = {k: (getattr(lib, f"t{k}"), ptrs) for k, ptrs in pointers.items()}
        for c, cls in enumerate(self.classes):
            if not cls.lone:
                kernels["m", c] = getattr(lib, f"m{c}")
        return lib, kernels

    def _strided(self, k: int, strides: list[tuple[int, ...]]) -> Any:
        """A kernel for group ``k`` on operands of these element ``strides`` (None if it
        cannot be built: the caller then copies them to C order)."""
        g = self.groups[k]
        source = native.strided_kernel_source(f"g{k}", g, self.graph, strides, self.parallel_min)
        lib = native.load(source)
        if lib is None:
            return None
        fn = getattr(lib, f"g{k}")
        fn.argtypes = [native.ctypes.c_void_p] * len(strides)
        fn.restype = None
        self.strided_libs.append(lib)  # kept loaded while the executor lives
        return fn

    def _schedule(self) -> tuple[list[Any], list[StepIO], list[int]]:
        """The steps in execution order: each group runs where its last member was traced (its
        epilogue sums too: in the kernel, or after the members on the plan executor)."""
        graph = self.graph
        place = list(range(len(graph.nodes)))
        group_of: dict[int, int] = {}
        for k, g in enumerate(self.groups):
            for i in g.nodes + g.reductions:
                place[i] = g.nodes[-1]
                group_of[i] = k
        class_of: dict[int, int] = {}
        emitted: set[int] = set()
        for c, cls in enumerate(self.classes):
            if cls.lone:  # nodes run one by one, at the class's position
                for i in cls.members:
                    place[i] = cls.at
                continue
            for k in cls.members:
                class_of[k] = c
                for i in self.groups[k].nodes:
                    place[i] = cls.at
        order: list[Any] = []  # node index, ("group", k) for a native group, ("class", c)
        steps: list[StepIO] = []
        kinds: list[int] = []
        for i in sorted(range(len(graph.nodes)), key=lambda i: (place[i], i)):
            k = group_of.get(i)
            c = class_of.get(k)
            if c is not None:
                if c not in emitted:
                    emitted.add(c)
                    members = [self.groups[m] for m in self.classes[c].members]
                    ins = tuple(v for g in members for v in g.inputs)
                    outs = tuple(v for g in members for v in g.outputs)
                    order.append(("class", c))
                    steps.append(StepIO(ins, outs, True, own_targets=True))
                    kinds.append(NATIVE)
                continue
            if k is not None and self.native[k]:
                if i != self.groups[k].nodes[-1]:
                    continue
                g = self.groups[k]
                order.append(("group", k))
                sums = tuple(graph.nodes[r].out for r in g.reductions)
                steps.append(StepIO(tuple(g.inputs), tuple(g.outputs), True, True, sums))
                kinds.append(NATIVE)
                continue
            node = graph.nodes[i]
            into = node.prim.write is not None and not node.aliasing
            order.append(i)
            steps.append(StepIO(node.inputs, (node.out,), into, into and k is not None))
            kinds.append(INTO if into else ALLOC)
        return order, steps, kinds

    def _assemble(self, order: list[Any], kinds: list[int], aliases: set[int]) -> None:
        graph, plan = self.graph, self.plan
        slot: dict[int, int] = {}
        for v in graph.inputs:
            slot[v] = len(slot)
        nslots = len(slot)
        buffer_slot = list(range(nslots, nslots + len(plan.buffers)))
        nslots += len(plan.buffers)
        for v, b in plan.buffer.items():
            slot[v] = buffer_slot[b]
        for v, t in plan.target.items():
            slot[v] = slot[t]
        for v in [*graph.constants, *(n.out for n in graph.nodes), *graph.roots()]:
            if v not in slot:
                slot[v] = nslots
                nslots += 1
        self.size = nslots
        self.buffer_slots = list(zip(buffer_slot, plan.buffers))
        self.inputs = [
            (slot[v], s, graph.avals[v].shape, graph.avals[v].dtype.np)
            for v, s in zip(graph.inputs, graph.sources)
        ]
        self.constants = [(slot[v], c) for v, c in graph.constants.items()]
        in_target = set(plan.target)
        aliases = aliases | in_target
        # slots holding the same array at every call: pooled buffers, state, constants, and
        # the views of them that ``SameView`` hands out again
        static = {s for s, _ in self.buffer_slots} | {s for s, _ in self.constants}
        static |= {s for s, src, *_ in self.inputs if src.kind == "data"}
        self.steps = []
        for item, kind, dying in zip(order, kinds, plan.dying):
            free = tuple(slot[v] for v in dying)
            if kind == NATIVE and item[0] == "class":
                run = self._class_step(item[1], slot, in_target)
                params = {"shape": ()}
                self.steps.append((NATIVE, run, (), params, -1, free))
                continue
            if kind == NATIVE:
                g = self.groups[item[1]]
                sums = {graph.nodes[r].out for r in g.reductions}
                params = {"shape": g.shape}
                if self.gpu:
                    function, kernel = self.kernels[item[1]]
                    outs = [
                        (slot[v], v not in in_target and v not in plan.buffer,
                         graph.avals[v].shape if v in sums else None, graph.avals[v].dtype.np)
                        for v in g.outputs
                    ]  # fmt: skip
                    ins = [slot[v] for v in kernel.pointers]
                    run = cuda_executor.cuda_step(function, kernel, ins, outs)
                    self.steps.append((NATIVE, run, (), params, -1, free))
                    continue
                fn, ptrs = self.kernels[item[1]]
                outs = [
                    (
                        slot[v],
                        TARGET if v in in_target else POOLED if v in plan.buffer else FRESH,
                        graph.avals[v].shape if v in sums else None,
                        graph.avals[v].dtype.np,
                    )
                    for v in g.outputs
                ]
                like = [slot[v] for v in ptrs if graph.avals[v].shape == g.shape]
                strided = None if g.reductions else functools.partial(self._strided, item[1])
                run = _native_step(fn, [slot[v] for v in ptrs], outs, like, strided)
                self.steps.append((NATIVE, run, (), params, -1, free))
                continue
            node = graph.nodes[item]
            ins = tuple(slot[v] for v in node.inputs)
            out = node.out
            low = widening(node.prim, [graph.avals[v].dtype.np for v in node.inputs])
            # a host product: the jit's lowering (one GEMM per stack, cut across held threads)
            host_product = node.prim is MatMul and low is None and not self.gpu
            into_buffer = kind == INTO and (out in plan.buffer or out in in_target)
            direct = None
            if into_buffer and host_product and self.direct_products:
                direct = matmul_kernels.product_step(*ins, slot[out], graph.avals[out].dtype.np)
            if direct is not None:
                self.steps.append((NATIVE, direct, (), {}, -1, free))
            elif into_buffer:
                fn = node.prim.write if low is None else widened_write(node.prim.forward, low)
                if host_product:
                    fn = matmul_kernels.matmul
                shape = graph.avals[out].shape
                like = tuple(k for k, v in enumerate(node.inputs) if graph.avals[v].shape == shape)
                if like and node.prim.kind == ELEMENTWISE:  # (a matmul reads any strides)
                    fn = _keep_layout(fn, like, out in plan.buffer)
                self.steps.append((INTO, fn, ins, node.params, slot[out], free))
            elif item in self.native_ops:
                self.steps.append((ALLOC, self.native_ops[item], ins, node.params, slot[out], free))
            else:
                fn = node.prim.forward if low is None else widened(node.prim.forward, low)
                if host_product:
                    fn = matmul_kernels.matmul
                if node.aliasing and not self.gpu and ins and set(ins) <= static:
                    fn = SameView(fn, len(ins))
                    static.add(slot[out])
                self.steps.append((ALLOC, fn, ins, node.params, slot[out], free))
        self.in_place = len(plan.target)
        self.outputs = [slot[v] for v in graph.outputs]
        owned: set[int] = set()
        # values handed out (returned, or attached as .grad) must own fresh memory
        self.out_copy = []
        for v in graph.outputs:
            self.out_copy.append(v in aliases or v in owned)
            owned.add(v)
        done = set(plan.done)
        self.writes = [
            (s, slot[v], v in aliases) for k, (s, v) in enumerate(graph.writes) if k not in done
        ]
        self.grad_sets = []
        for t, v in graph.grad_sets:
            if v is None:
                self.grad_sets.append((t, None, False))
            else:
                self.grad_sets.append((t, slot[v], v in aliases or v in owned))
                owned.add(v)
        self.xp = None
        for _, s, *_ in self.inputs:
            if s.kind == "data":
                self.xp = backend_of(s.tensor._data).xp
                break
        self._template: list[Any] | None = None
        self._loop: tuple | None = None  # (the steps, host, their loop_function)
        self._bind: Callable | None = None  # bind_function(self.inputs), made at the first call

    def _class_step(self, c: int, slot: dict[int, int], in_target: set[int]) -> Callable:
        """The step of class ``c``: one call over its members' operands, or, for operands in
        other layouts, each member's own native step."""
        graph, plan = self.graph, self.plan
        members, fallback = [], []
        for k in self.classes[c].members:
            g = self.groups[k]
            fn, ptrs = self.kernels[k]
            ins = [slot[v] for v in ptrs]
            fresh = [v not in in_target and v not in plan.buffer for v in g.outputs]
            shape, dtypes = g.shape, [graph.avals[v].dtype.np for v in g.outputs]
            members.append(
                (ins, [(slot[v], f, shape, d) for v, f, d in zip(g.outputs, fresh, dtypes)])
            )
            outs = [(slot[v], FRESH if f else TARGET if v in in_target else POOLED, None, d)
                    for v, f, d in zip(g.outputs, fresh, dtypes)]  # fmt: skip
            like = [slot[v] for v in ptrs if graph.avals[v].shape == shape]
            run = _native_step(fn, ins, outs, like, functools.partial(self._strided, k))
            fallback.append(functools.partial(run, shape=shape))
        return multi.multi_step(self.kernels["m", c], members, fallback)

    def bind(self, args: list[Tensor]) -> list[Any] | None:
        """The input arrays for this call, or None if one no longer matches the graph."""
        if self._bind is None:
            self._bind = bind_function(self.inputs)
        return self._bind(args)

    def _env(self, xp: Any) -> list[Any]:
        """A fresh slot list holding the constants and the planned buffers (made once)."""
        if self._template is None:
            env: list[Any] = [None] * self.size
            for s, c in self.constants:
                env[s] = c
            for s, (shape, dtype) in self.buffer_slots:
                env[s] = xp.empty(shape, dtype.np)
            self._template = env
        return list(self._template)

    def run(self, args: list[Tensor], arrays: list[Any]) -> list[Tensor]:
        """Execute the steps, write the state back, and return the outputs as tensors: on a
        GPU as a replayed CUDA graph where the step allows (``cuda_graph``)."""
        if self.replayer is not None:
            replayed = self.replayer.run(args, arrays)
            if replayed is not None:
                return replayed
        return self.execute(args, arrays)

    def execute(self, args: list[Tensor], arrays: list[Any]) -> list[Tensor]:
        """Run the steps one by one (``run`` without a CUDA graph)."""
        return self.hand_out(*self.collect(args, self.execute_steps(arrays)))

    def execute_steps(
        self, arrays: list[Any], *, keep: bool = False, drawn: dict[int, Any] | None = None
    ) -> list[Any]:
        """The slots after running every step on these input ``arrays``; ``keep`` holds on to
        every value (a captured CUDA graph writes into them again at each replay); ``drawn``
        gives the arrays of the steps ``draw_steps`` instead of drawing (a graph's buffers)."""
        xp = self.xp
        if xp is None:
            xp = backend_of(arrays[0]).xp if arrays else np
        host = xp is np
        if host == self.gpu and self.has_native:
            where = "GPU" if self.gpu else "host"
            raise RuntimeError(f"ember.jit: these compiled kernels run on {where} arrays only")
        env = self._env(xp)
        for (slot, *_), arr in zip(self.inputs, arrays):
            env[slot] = arr
        pool = blas.hold(self.blas) if self.blas is not None and host else contextlib.nullcontext()
        with pool, np.errstate(all="ignore"):  # like eager mode's quiet kernels: no warnings
            if keep or drawn is not None:
                self._run_each(env, xp, _given_draws(self.steps, drawn or {}), keep)
            else:
                loop = self._loop
                if loop is None or loop[0] is not self.steps or loop[1] != host:
                    self._loop = (self.steps, host, loop_function(self.steps, host))
                self._loop[2](env, xp)
        return env

    @staticmethod
    def _run_each(env: list[Any], xp: Any, steps: list[tuple], keep: bool) -> None:
        """The steps one by one, as ``loop_function`` writes them out (for a CUDA graph's
        capture: ``keep``, ``drawn``)."""
        host = xp is np
        for kind, fn, ins, params, out, dying in steps:
            if kind == ALLOC:
                r = fn(xp, *[env[s] for s in ins], **params)
                env[out] = np.asarray(r) if host and type(r) is not np.ndarray else r
            elif kind == INTO:
                env[out] = fn(xp, *[env[s] for s in ins], out=env[out], **params)
            else:
                fn(env, **params)
            if not keep:
                for d in dying:
                    env[d] = None

    def collect(self, args: list[Tensor], env: list[Any]) -> tuple[list, list]:
        """The output arrays, then the mutated state written back, then the new gradients'
        arrays (``(tensor, array or None)``), in that order: a value may be a view of a
        target, so it is read (copied) before any target is written."""
        results = [
            env[s].copy() if copy else env[s] for s, copy in zip(self.outputs, self.out_copy)
        ]
        pending = [(s, env[v].copy() if copy else env[v]) for s, v, copy in self.writes]
        for source, value in pending:
            resolve(source, args)[...] = value
        grads = [
            (t, None if s is None else env[s].copy() if copy else env[s])
            for t, s, copy in self.grad_sets
        ]
        return results, grads

    def draw(self) -> dict[int, Any]:
        """This call's random draws, in the order the steps would make them."""
        xp = self.xp if self.xp is not None else np
        return {k: self.steps[k][1](xp, **self.steps[k][3]) for k in self.draw_steps}

    @staticmethod
    def hand_out(results: list[Any], grads: list, *, copy: bool = False) -> list[Tensor]:
        """Attach the gradients and wrap the outputs (``copy``: of arrays a CUDA graph's next
        replay overwrites)."""
        for t, a in grads:
            t.grad = None if a is None else _wrap(a.copy() if copy else a)
        return [_wrap(a.copy() if copy else a) for a in results]
