"""``export``: trace a model with ``ember.jit``, lower its graph to ONNX and write the file.

Flow: the model is switched to eval mode and called once under ``ember.jit`` (no grad), which
gives the optimised graph of the call → when ``dynamic_axes`` are given, a second trace with
each dynamic axis one size larger tells which shapes depend on them → every node is lowered
by ``lowerings`` (parameters and buffers become initializers under their state_dict names,
captured constants become initializers too) → the ONNX model is checked for unsupported
state writes and random draws and saved. The model's training flags are restored after.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

import numpy as np

import ember
from ember.config import config
from ember.jit.graph import Graph
from ember.onnx.builder import DynamicAxis, ExportError, Lowering
from ember.onnx.lowerings import lower_node
from ember.tensor import Tensor

__all__ = ["export", "is_in_onnx_export", "DEFAULT_OPSET"]

DEFAULT_OPSET = 18
_MIN_OPSET = 17
_EXPORTING = [False]
_EMBER_CORE = tuple(
    os.path.join(os.path.dirname(os.path.abspath(ember.__file__)), part)
    for part in ("ops", "jit", "onnx", "autograd", "tensor.py", "nn/functional.py", "nn/module.py")
)


def is_in_onnx_export() -> bool:
    """True while ``ember.onnx.export`` traces a model (models may branch on it)."""
    return _EXPORTING[0]


def require_onnx() -> Any:
    """The ``onnx`` package, or an ImportError that says how to install it."""
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(
            "ember.onnx.export needs the onnx package\nhint: pip install 'ember[onnx]' "
            "(onnx and onnxruntime)"
        ) from exc
    return onnx


def _tensors(obj: Any, out: list[Tensor]) -> list[Tensor]:
    """The tensors in ``obj`` (nested lists, tuples and dicts), in ``ember.jit``'s order."""
    if isinstance(obj, Tensor):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for x in obj:
            _tensors(x, out)
    elif isinstance(obj, dict):
        for x in obj.values():
            _tensors(x, out)
    return out


def _trace(model: Any, args: tuple, kwargs: dict) -> tuple[Graph, int]:
    """The optimised jit graph of ``model(*args, **kwargs)`` and its number of outputs."""

    def forward(*a: Any, **k: Any) -> Any:
        return model(*a, **k)

    compiled = ember.jit(forward)
    enabled, config.jit_enabled = config.jit_enabled, True
    try:
        with ember.no_grad():
            result = compiled(*args, **kwargs)
    finally:
        config.jit_enabled = enabled
    return compiled.graph, len(_tensors(result, []))


def _alt_shapes(graph: Graph, alt: Graph) -> dict[int, tuple[int, ...]]:
    """The shape each value of ``graph`` has in ``alt``, a trace at other dynamic sizes."""
    same = len(graph.inputs) == len(alt.inputs) and [n.prim for n in graph.nodes] == [
        n.prim for n in alt.nodes
    ]
    if not same:
        raise ExportError(
            "ember.onnx.export: the model's graph changes with the size of a dynamic axis (it "
            "branches on a shape), so that axis cannot be dynamic\nhint: export without it in "
            "dynamic_axes, or trace at a size whose code path every size takes"
        )
    mapping = dict(zip(graph.inputs, alt.inputs))
    mapping.update(zip(graph.outputs, alt.outputs))
    for node, other in zip(graph.nodes, alt.nodes):
        mapping.update(zip(node.inputs, other.inputs))
        mapping[node.out] = other.out
    return {v: tuple(alt.avals[w].shape) for v, w in mapping.items()}


def _resized(t: Tensor, axes: dict[int, int]) -> Tensor:
    """``t`` with each axis in ``axes`` grown to its new size by repeating its entries (valid
    indices stay valid, so token ids can be resized too)."""
    arr = t.detach().cpu().numpy()
    for axis, size in axes.items():
        arr = np.take(arr, np.arange(size) % arr.shape[axis], axis=axis)
    return ember.tensor(arr, dtype=t.dtype, device=t.device)


def _call_site(model: Any, args: tuple, kwargs: dict, primitive: str) -> str | None:
    """``file:line`` of the model code that applied ``primitive`` first (by an eager rerun
    that watches ``apply``), or None when it cannot be found."""
    from ember.autograd.grad_mode import STATE
    from ember.jit.trace import Tracer

    class Locator(Tracer):
        site: str | None = None

        def record(self, prim: Any, inputs: tuple, params: dict) -> Any:
            if prim.name == primitive and self.site is None:
                frame = sys._getframe(1)
                while frame is not None and frame.f_code.co_filename.startswith(_EMBER_CORE):
                    frame = frame.f_back
                if frame is not None:
                    self.site = f"{frame.f_code.co_filename}:{frame.f_lineno}"
            return super().record(prim, inputs, params)

    locator = Locator("export", _tensors((args, kwargs), []), [], fallback=True)
    previous, STATE.tracer = STATE.tracer, locator
    try:
        with ember.no_grad():
            model(*args, **kwargs)
    except Exception:  # noqa: BLE001 - only a hint for the error being raised
        return None
    finally:
        STATE.tracer = previous
    return locator.site


def _default_names(model: Any, args: tuple, count: int) -> list[str]:
    """The forward's parameter names when each argument is one tensor, else input_<i>."""
    try:
        params = inspect.signature(getattr(model, "forward", model)).parameters.values()
    except (TypeError, ValueError):
        params = []
    params = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(params) >= count == len(args) and all(isinstance(a, Tensor) for a in args):
        return params[:count]
    return [f"input_{i}" for i in range(count)]


def _state_names(model: Any) -> dict[int, str]:
    """id(tensor) -> its state_dict name, for the parameters and buffers of a module."""
    names: dict[int, str] = {}
    if isinstance(model, ember.nn.Module):
        for name, t in [*model.named_parameters(remove_duplicate=False), *model.named_buffers()]:
            names.setdefault(id(t), name)
    return names


def _value_info(onnx: Any, name: str, shape: Sequence[int], dtype: Any, dims: dict) -> Any:
    """A typed graph input/output; the axes in ``dims`` get their symbolic names."""
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    shape = [dims.get(axis, n) for axis, n in enumerate(shape)]
    return onnx.helper.make_tensor_value_info(name, elem, shape)


def _axes_of(spec: Any) -> dict[int, str]:
    """A dynamic_axes entry (a list of axes, or {axis: name}) as {axis: name or ''}."""
    if isinstance(spec, Mapping):
        return {int(k): str(v) for k, v in spec.items()}
    return {int(k): "" for k in spec}


def _write(onnx: Any, proto: Any, f: str | os.PathLike | BinaryIO) -> None:
    if hasattr(f, "write"):
        f.write(proto.SerializeToString())  # type: ignore[union-attr]
    else:
        onnx.save(proto, os.fspath(f))


def export(
    model: Any,
    args: Any,
    f: str | os.PathLike | BinaryIO,
    *,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_axes: Mapping[str, Any] | None = None,
    opset_version: int | None = None,
) -> Any:
    """Export ``model(*args)`` as an ONNX model to ``f`` (a path or a binary file object).

    Arguments as ``torch.onnx.export``'s: ``args`` is a tensor or a tuple (a trailing dict
    holds keyword arguments); ``dynamic_axes`` maps input/output names to the axes (a list,
    or {axis: name}) whose size may change. The model runs in eval mode; its parameters and
    buffers become initializers under their state_dict names. Returns the ``onnx.ModelProto``.
    """
    onnx = require_onnx()
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    newest = onnx.defs.onnx_opset_version()
    if not _MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"ember.onnx.export: opset_version must be in [{_MIN_OPSET}, {newest}], got {opset}"
        )
    args = args if isinstance(args, tuple) else (args,)
    kwargs: dict = {}
    if args and isinstance(args[-1], dict):
        args, kwargs = args[:-1], args[-1]
    modes = [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []
    if modes:
        model.eval()
    _EXPORTING[0] = True
    try:
        return _export(onnx, model, args, kwargs, f, input_names, output_names, dynamic_axes, opset)
    finally:
        _EXPORTING[0] = False
        for m, training in modes:
            m.training = training


def _export(
    onnx: Any,
    model: Any,
    args: tuple,
    kwargs: dict,
    f: Any,
    input_names: Sequence[str] | None,
    output_names: Sequence[str] | None,
    dynamic_axes: Mapping[str, Any] | None,
    opset: int,
) -> Any:
    inputs = _tensors((args, kwargs), [])
    graph, n_out = _trace(model, args, kwargs)
    if len(graph.outputs) > n_out or any(s.kind == "grad" for s in graph.sources):
        raise ExportError(
            "ember.onnx.export: the model draws random numbers in eval mode (a Sample node), "
            "which an ONNX graph cannot replay\nhint: pass the noise in as an input"
        )
    if graph.writes:
        raise ExportError(
            "ember.onnx.export: the model writes to its state (buffers, caches) when called "
            "in eval mode; an ONNX graph is a pure function of its inputs"
        )
    in_names = list(input_names or _default_names(model, args, len(inputs)))
    in_names += [f"input_{i}" for i in range(len(in_names), len(inputs))]
    out_names = list(output_names or [])
    out_names += [f"output_{i}" for i in range(len(out_names), n_out)]
    dyn = {name: _axes_of(spec) for name, spec in (dynamic_axes or {}).items()}
    unknown = set(dyn) - set(in_names) - set(out_names)
    if unknown:
        raise ValueError(f"ember.onnx.export: dynamic_axes names unknown values {sorted(unknown)}")
    for name, axes in dyn.items():  # unnamed axes: <value>_dim<axis>
        dyn[name] = {a: label or f"{name}_dim{a}" for a, label in axes.items()}

    axes, alt_shapes = _second_trace(model, args, kwargs, inputs, in_names, dyn, graph)
    low = Lowering(onnx, graph, opset, alt_shapes, axes)
    names = _state_names(model)
    initializers = []
    for vid, source in zip(graph.inputs, graph.sources):
        if source.kind == "arg":
            low.names[vid] = in_names[source.index]
        else:
            low.names[vid] = names.get(id(source.tensor), f"state_{source.index}")
            array = np.asarray(source.tensor.detach().cpu().numpy())
            initializers.append(onnx.numpy_helper.from_array(array, low.names[vid]))
    for vid, array in graph.constants.items():
        low.names[vid] = _constant(low, vid, np.asarray(array))
    for node in graph.nodes:
        try:
            out = lower_node(low, node)
        except ExportError as exc:
            site = _call_site(model, args, kwargs, node.prim.name)
            raise ExportError(f"{exc}\n  called at {site}" if site else str(exc)) from None
        if out is not None:
            low.names[node.out] = out
    for vid, name in zip(graph.outputs, out_names):
        low.nodes.append(onnx.helper.make_node("Identity", [low.name(vid)], [name]))

    def typed(name: str, vid: int) -> Any:
        shape, alt = low.shapes(vid)
        labels = dict(dyn.get(name, {}))
        for axis, (a, b) in enumerate(zip(shape, alt)):
            if a != b:
                labels.setdefault(axis, f"{name}_dim{axis}")
        return _value_info(onnx, name, shape, low.dtype(vid), labels)

    arg_values = {s.index: v for v, s in zip(graph.inputs, graph.sources) if s.kind == "arg"}
    graph_inputs = [
        typed(name, arg_values[i])
        if i in arg_values
        else _value_info(onnx, name, t.shape, t.dtype.np, dyn.get(name, {}))
        for i, (name, t) in enumerate(zip(in_names, inputs))
    ]
    proto = onnx.helper.make_model(
        onnx.helper.make_graph(
            low.nodes,
            type(model).__name__,
            graph_inputs,
            [typed(name, vid) for vid, name in zip(graph.outputs, out_names)],
            initializers + low.initializers,
        ),
        opset_imports=[onnx.helper.make_opsetid("", opset)],
        producer_name="ember",
        producer_version=ember.__version__,
    )
    _write(onnx, proto, f)
    return proto


def _second_trace(
    model: Any,
    args: tuple,
    kwargs: dict,
    inputs: list[Tensor],
    in_names: list[str],
    dyn: dict[str, dict[int, str]],
    graph: Graph,
) -> tuple[list[DynamicAxis], dict[int, tuple[int, ...]]]:
    """The dynamic input axes and every value's shape when each is traced one size larger
    (distinct growth per axis name, so that two axes of equal size are told apart)."""
    labels = sorted({label for name in in_names for label in dyn.get(name, {}).values()})
    if not labels:
        return [], {}
    grow = {label: k + 1 for k, label in enumerate(labels)}
    axes: list[DynamicAxis] = []
    replace: dict[int, Tensor] = {}
    for name, t in zip(in_names, inputs):
        sizes = {a: t.shape[a] + grow[label] for a, label in dyn.get(name, {}).items()}
        if sizes:
            axes += [DynamicAxis(name, a, t.shape[a], n) for a, n in sizes.items()]
            replace[id(t)] = _resized(t, sizes)

    def swap(obj: Any) -> Any:
        if isinstance(obj, Tensor):
            return replace.get(id(obj), obj)
        if isinstance(obj, (list, tuple)):
            return type(obj)(swap(x) for x in obj)
        if isinstance(obj, dict):
            return {k: swap(v) for k, v in obj.items()}
        return obj

    alt, _ = _trace(model, swap(args), swap(kwargs))
    return axes, _alt_shapes(graph, alt)


def _constant(low: Lowering, vid: int, array: np.ndarray) -> str:
    """A captured constant: an initializer, or (when its shape depends on a dynamic axis and
    all its entries are equal, like a zero initial state) its value expanded at run time."""
    shape, alt = low.shapes(vid)
    if shape == alt:
        return low.constant(array)
    flat = array.reshape(-1)
    if flat.size == 0 or not (flat == flat[0]).all():
        raise ExportError(
            f"ember.onnx.export: a constant of shape {shape} captured in the trace depends on "
            "a dynamic axis\nhint: compute it from the inputs inside the model"
        )
    fill = low.constant(flat[:1].reshape(()))
    return low.op("Expand", [fill, low.shape_tensor(shape, alt, "constant")])
