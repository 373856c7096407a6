"""The backward engine: an iterative topological walk of the recorded graph (never recursive).

Gradients flow node by node in Kahn order; each node's vjp is itself a sequence of ember ops
(recorded again when ``create_graph=True``, which gives higher-order gradients). Broadcasting
is undone here, once, so that vjps can return gradients of the broadcast shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ember.autograd.grad_mode import STATE
from ember.autograd.node import Node, freed_graph_error
from ember.dtypes import FLOATING

__all__ = ["LazyGrad", "run_backward", "unbroadcast", "register_post_accumulate_grad_hook"]

# id(leaf) -> (weak reference to the leaf, its post-accumulate-grad hooks); kept outside the
# Tensor so that the hot Tensor constructor stays as it is (few tensors ever have such hooks)
_POST_HOOKS: dict[int, tuple[Any, list]] = {}


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` down to ``shape`` (the reverse of broadcasting ``shape`` up to ``g.shape``)."""
    gshape = g.shape
    if gshape == shape:
        return g
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and gshape[i + lead] != 1
    )
    if axes:
        g = g.sum(dim=axes, keepdim=True)
    return g.reshape(shape)


def _check_versions(node: Node) -> None:
    inputs = node.inputs
    assert inputs is not None
    for i, version in node.versions:
        t = node.out_ref() if i == -1 else inputs[i]
        if t is not None and t._vc[0] != version:
            raise RuntimeError(
                f"backward: one of the variables needed for gradient computation has been "
                f"modified by an inplace operation: {node.name()}'s "
                f"{'output' if i == -1 else f'input {i}'} of shape {tuple(t.shape)} is at "
                f"version {t._vc[0]}; expected version {version} instead\n"
                "hint: replace the in-place operation (add_, mul_, x[...] = …) that modified it "
                "by its out-of-place form, or clone() the tensor before modifying it"
            )


def _collect(roots: Sequence[Node], held: list, leaf_deps: dict[int, int]) -> dict[Node, int]:
    """Every node reachable from ``roots`` with its number of consumers (graph edges); the
    number of edges into each leaf goes to ``leaf_deps`` (by id).

    The input tuples of the visited nodes are appended to ``held``: nodes are freed as the
    walk passes them, and the tensors must outlive that because a node reaches its own output
    only through a weak reference (see ``Node``).
    """
    deps: dict[Node, int] = {}
    seen: set[Node] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        if node.inputs is None:
            raise freed_graph_error(node)
        held.append(node.inputs)
        for child in node.edges:
            if type(child) is Node:
                deps[child] = deps.get(child, 0) + 1
                if child not in seen:
                    stack.append(child)
            elif child is not None:
                leaf_deps[id(child)] = leaf_deps.get(id(child), 0) + 1
    return deps


class LazyGrad:
    """A gradient a vjp may return in place of a Tensor when summing it eagerly would waste work.

    The engine only sums it with the other gradients of the same input (``accumulate``) and
    asks for the Tensor (``materialize``) once they have all arrived. It must have its input's
    shape and dtype, and is returned only when no graph is recorded (not under
    ``create_graph``, ``ember.jit`` tracing or ``detect_anomaly``). See ``ember.ops.index``.
    """

    __slots__ = ()

    def accumulate(self, other: Any) -> Any:
        """``self + other`` (a Tensor or a LazyGrad); ``self`` may be consumed."""
        raise NotImplementedError

    def materialize(self) -> Any:
        """The gradient as a Tensor."""
        raise NotImplementedError


def _sum(prev: Any, g: Any) -> Any:
    if isinstance(prev, LazyGrad):  # the running sum absorbs the new gradient
        return prev.accumulate(g)
    if isinstance(g, LazyGrad):
        return g.accumulate(prev)
    return prev + g


def _dense(g: Any) -> Any:
    return g.materialize() if isinstance(g, LazyGrad) else g


def _accumulate(store: dict, key: Any, g: Any) -> None:
    prev = store.get(key)
    store[key] = g if prev is None else _sum(prev, g)


def run_backward(
    roots: Sequence[Any],
    root_grads: Sequence[Any],
    *,
    retain_graph: bool,
    create_graph: bool,
    capture: Sequence[Any] | None = None,
) -> list[Any] | None:
    """Propagate ``root_grads`` from ``roots`` back through the graph.

    Without ``capture`` the gradients of leaves are accumulated into their ``.grad``
    (``Tensor.backward``); with it, the gradients of the ``capture`` tensors are returned
    instead and no ``.grad`` is touched (``autograd.grad``). A leaf is finished (hooks, then
    ``.grad``, then post-accumulate hooks) as soon as its last gradient arrives, while the
    walk goes on: DistributedDataParallel starts all-reducing it then.
    """
    node_grads: dict[Node, Any] = {}
    leaf_grads: dict[int, list] = {}
    for r, g in zip(roots, root_grads):
        if r.node is not None:
            _accumulate(node_grads, r.node, g)
        else:
            entry = leaf_grads.setdefault(id(r), [r, None])
            entry[1] = g if entry[1] is None else entry[1] + g
    capture_ids = {id(t): i for i, t in enumerate(capture)} if capture is not None else None
    captured: list[Any] = [None] * len(capture) if capture is not None else []
    capture_nodes = (
        {t.node: i for i, t in enumerate(capture) if t.node is not None} if capture else {}
    )

    handed_out: set[int] = set()
    root_nodes = list(dict.fromkeys(r.node for r in roots if r.node is not None))
    held: list = []
    leaf_deps: dict[int, int] = {}
    deps = _collect(root_nodes, held, leaf_deps)

    def finish(entry: list) -> None:
        leaf, g = entry
        if g is None:
            return
        g = _run_hooks(leaf._hooks, _dense(g))
        if capture_ids is not None:
            if id(leaf) in capture_ids:
                captured[capture_ids[id(leaf)]] = g
            return
        _store_grad(leaf, g, create_graph, handed_out)
        post = _POST_HOOKS.get(id(leaf))
        if post is not None and post[0]() is leaf:
            for hook in list(post[1]):
                hook(leaf)

    ready = [n for n in root_nodes if deps.get(n, 0) == 0]
    prev_mode, prev_autocast = STATE.grad_enabled, STATE.autocast
    # vjps run in the dtypes of the forward pass: autocast stays off for them
    STATE.grad_enabled, STATE.autocast = create_graph, None
    try:
        while ready:
            node = ready.pop()
            g = _dense(node_grads.pop(node, None))
            inputs, edges = node.inputs, node.edges
            if inputs is None:
                raise freed_graph_error(node)
            if g is not None:
                g = _run_hooks(node.hooks, g)
                if node.retain_ref is not None:
                    t = node.retain_ref()
                    if t is not None:
                        _store_grad(t, g, create_graph, handed_out)
                if node in capture_nodes:
                    captured[capture_nodes[node]] = g
                _propagate(node, inputs, g, node_grads, leaf_grads)
            for child in edges:
                if type(child) is Node:
                    deps[child] -= 1
                    if deps[child] == 0:
                        ready.append(child)
                elif child is not None:
                    leaf_deps[id(child)] -= 1
                    if leaf_deps[id(child)] == 0 and id(child) in leaf_grads:
                        finish(leaf_grads.pop(id(child)))
            if not retain_graph:
                node.free()
    finally:
        STATE.grad_enabled, STATE.autocast = prev_mode, prev_autocast

    for entry in leaf_grads.values():  # leaves that are roots themselves
        finish(entry)
    return captured if capture is not None else None


def _propagate(node: Node, inputs: tuple, g: Any, node_grads: dict, leaf_grads: dict) -> None:
    """Run ``node``'s vjp and hand each input its (un-broadcast) gradient."""
    if node.versions:
        _check_versions(node)
    out = node.out_ref() if node.out_ref is not None else None
    grads = node.prim.vjp(g, *inputs, out=out, **node.params)
    for i, (x, gx, edge) in enumerate(zip(inputs, grads, node.edges)):
        if gx is None or edge is None:
            continue
        if callable(gx):
            gx = gx()
        if STATE.anomaly and STATE.anomaly_check_nan:
            _check_anomaly(node, i, gx)
        if gx.shape != x.shape:
            gx = unbroadcast(gx, x.shape)
        if gx.dtype != x.dtype:
            gx = gx.to(x.dtype)
        if type(edge) is Node:
            _accumulate(node_grads, edge, gx)
        else:
            entry = leaf_grads.setdefault(id(edge), [edge, None])
            entry[1] = gx if entry[1] is None else _sum(entry[1], gx)


def _check_anomaly(node: Node, index: int, g: Any) -> None:
    """Under ``detect_anomaly``: fail on a nan gradient, naming the op and where it ran."""
    from ember.arrays import backend_of

    data = g._data
    if data.dtype in FLOATING and bool(backend_of(data).xp.isnan(data).any()):
        trace = "".join(node.stack) if node.stack else "(not recorded: the forward pass ran "
        trace = trace if node.stack else trace + "outside detect_anomaly)\n"
        raise RuntimeError(
            f"Function '{node.name()}' returned nan values in its {index}th output.\n"
            f"Traceback of the forward call that caused the error:\n{trace}"
            "hint: look for log/sqrt/div of values at or outside their domain in that line"
        )


def register_post_accumulate_grad_hook(leaf: Any, hook: Any) -> Any:
    """Call ``hook(leaf)`` each time backward has accumulated a gradient into ``leaf.grad``."""
    import weakref

    key = id(leaf)
    entry = _POST_HOOKS.get(key)
    if entry is None or entry[0]() is not leaf:
        forget = _POST_HOOKS.pop  # bound now: module globals are gone at interpreter exit
        entry = _POST_HOOKS[key] = (weakref.ref(leaf, lambda _: forget(key, None)), [])
    entry[1].append(hook)
    return entry[1]


def _run_hooks(hooks: list | None, g: Any) -> Any:
    if hooks:
        for hook in hooks:
            result = hook(g)
            if result is not None:
                g = result
    return g


def _store_grad(t: Any, g: Any, create_graph: bool, handed_out: set[int]) -> None:
    """Accumulate ``g`` into ``t.grad`` (in place unless building a graph, as PyTorch does).

    ``handed_out`` holds the arrays already stored as a ``.grad`` in this backward: a vjp may
    hand the same tensor to two inputs, or a broadcast view, so those are copied first.
    """
    if not create_graph:
        g = g.detach()
    if t.grad is None:
        data = g._data
        if create_graph:
            t.grad = g
        else:
            if (
                data.base is not None
                or id(data) in handed_out
                or not getattr(data.flags, "writeable", 1)
            ):
                data = data.copy()
                if STATE.tracer is not None:  # ember.jit: the copy holds g's value
                    STATE.tracer.alias(data, g._data)
            handed_out.add(id(data))
            t.grad = type(g)._wrap(data)
    elif create_graph or t.grad.requires_grad:
        t.grad = t.grad + g
    elif STATE.tracer is not None:
        t.grad.add_(g)  # an op that ember.jit records (the raw write below is invisible to it)
    else:
        t.grad._data += g._data
