"""One ONNX lowering per ember primitive: the mapping ``ember.onnx.export`` applies to a graph.

The primitives know nothing of ONNX (their own lowerings are to C and CUDA); this module is the
ONNX consumer. A lowering gets the ``Lowering`` under construction, the jit ``Node`` and the
ONNX names of the node's inputs, adds ONNX nodes and returns the name of the result (None for
a primitive whose value only its consumer lowers, such as max pooling's argmax). Most are one
ONNX op; the rest are written out as small ONNX subgraphs that compute what the kernel does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from ember.jit.graph import Node
from ember.onnx.builder import ExportError, Lowering

__all__ = ["LOWERINGS", "lower_node"]

Lower = Callable[..., "str | None"]
LOWERINGS: dict[str, Lower] = {}
INT64_MAX = np.iinfo(np.int64).max


def lowers(*names: str) -> Callable[[Lower], Lower]:
    """Register a lowering for the primitives ``names``."""

    def register(fn: Lower) -> Lower:
        for name in names:
            LOWERINGS[name] = fn
        return fn

    return register


def lower_node(low: Lowering, node: Node) -> str | None:
    """Lower ``node`` (its inputs are lowered already); raises ExportError if unsupported."""
    fn = LOWERINGS.get(node.prim.name)
    if fn is None:
        raise ExportError(
            f"ember.onnx.export: primitive {node.prim.name} has no ONNX lowering (inputs "
            f"{[low.graph.avals[v] for v in node.inputs]}, params {node.params})"
        )
    if node.prim.name in _LAZY_INPUTS:
        return fn(low, node)
    return fn(low, node, *[low.name(v) for v in node.inputs])


# -- elementwise ------------------------------------------------------------------------------
_UNARY = {
    "Abs": "Abs", "Acos": "Acos", "Asin": "Asin", "Atan": "Atan", "Ceil": "Ceil", "Cos": "Cos",
    "Cosh": "Cosh", "Erf": "Erf", "Exp": "Exp", "Floor": "Floor", "Log": "Log", "Neg": "Neg",
    "Reciprocal": "Reciprocal", "Relu": "Relu", "Sigmoid": "Sigmoid", "Sign": "Sign",
    "Sin": "Sin", "Sinh": "Sinh", "Sqrt": "Sqrt", "Tan": "Tan", "Tanh": "Tanh",
    "LogicalNot": "Not", "IsNan": "IsNaN", "IsInf": "IsInf",
    "Copy": "Identity", "Contiguous": "Identity", "ToDevice": "Identity",
}  # fmt: skip
_BINARY = {
    "Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "Pow": "Pow",
    "Maximum": "Max", "Minimum": "Min", "Fmod": "Mod",
    "Eq": "Equal", "Gt": "Greater", "Ge": "GreaterOrEqual", "Lt": "Less", "Le": "LessOrEqual",
    "LogicalAnd": "And", "LogicalOr": "Or", "LogicalXor": "Xor",
}  # fmt: skip
_COMPARE = {"Eq", "Gt", "Ge", "Lt", "Le", "Ne"}
_LOGICAL = {"LogicalAnd", "LogicalOr", "LogicalXor"}


def _unary(op_type: str) -> Lower:
    def lower(low: Lowering, node: Node, x: str) -> str:
        return low.op(op_type, [x])

    return lower


for _name, _op in _UNARY.items():
    LOWERINGS[_name] = _unary(_op)


def _operands(low: Lowering, node: Node, names: tuple[str, ...]) -> list[str]:
    """The inputs cast to the dtype the op computes in: bool for logical ops, the promoted
    input dtype for comparisons, the output dtype otherwise (ONNX ops take one dtype)."""
    if node.prim.name in _LOGICAL:
        target = np.dtype(np.bool_)
    elif node.prim.name in _COMPARE:
        target = np.result_type(*[low.dtype(v) for v in node.inputs])
    else:
        target = low.dtype(node.out)
    return [low.cast(n, low.dtype(v), target) for n, v in zip(names, node.inputs)]


def _binary(op_type: str) -> Lower:
    def lower(low: Lowering, node: Node, *names: str) -> str:
        attrs = {"fmod": 1} if op_type == "Mod" else {}
        return low.op(op_type, _operands(low, node, names), **attrs)

    return lower


for _name, _op in _BINARY.items():
    LOWERINGS[_name] = _binary(_op)


@lowers("Ne")
def _ne(low: Lowering, node: Node, a: str, b: str) -> str:
    return low.op("Not", [low.op("Equal", _operands(low, node, (a, b)))])


@lowers("Where")
def _where(low: Lowering, node: Node, c: str, a: str, b: str) -> str:
    target = low.dtype(node.out)
    cond = low.cast(c, low.dtype(node.inputs[0]), np.dtype(np.bool_))
    a, b = (low.cast(n, low.dtype(v), target) for n, v in zip((a, b), node.inputs[1:]))
    return low.op("Where", [cond, a, b])


def _scalar(low: Lowering, node: Node, value: float) -> str:
    """A 0-d initializer of ``value`` in the dtype of ``node``'s result."""
    return low.constant(np.asarray(value, dtype=low.dtype(node.out)))


@lowers("Rsqrt")
def _rsqrt(low: Lowering, node: Node, x: str) -> str:
    return low.op("Reciprocal", [low.op("Sqrt", [x])])


@lowers("Exp2")
def _exp2(low: Lowering, node: Node, x: str) -> str:
    return low.op("Pow", [_scalar(low, node, 2.0), x])


@lowers("Expm1")
def _expm1(low: Lowering, node: Node, x: str) -> str:
    return low.op("Sub", [low.op("Exp", [x]), _scalar(low, node, 1.0)])


@lowers("Log1p")
def _log1p(low: Lowering, node: Node, x: str) -> str:
    return low.op("Log", [low.op("Add", [x, _scalar(low, node, 1.0)])])


@lowers("Log2", "Log10")
def _log_base(low: Lowering, node: Node, x: str) -> str:
    base = 2.0 if node.prim.name == "Log2" else 10.0
    return low.op("Div", [low.op("Log", [x]), _scalar(low, node, math.log(base))])


@lowers("Trunc")
def _trunc(low: Lowering, node: Node, x: str) -> str:
    return low.op("Mul", [low.op("Sign", [x]), low.op("Floor", [low.op("Abs", [x])])])


@lowers("Round")
def _round(low: Lowering, node: Node, x: str) -> str:
    decimals = node.params.get("decimals", 0)
    if not decimals:
        return low.op("Round", [x])
    scale = _scalar(low, node, 10.0**decimals)
    return low.op("Div", [low.op("Round", [low.op("Mul", [x, scale])]), scale])


@lowers("IsFinite")
def _isfinite(low: Lowering, node: Node, x: str) -> str:
    bad = low.op("Or", [low.op("IsNaN", [x]), low.op("IsInf", [x])])
    return low.op("Not", [bad])


@lowers("Clamp")
def _clamp(low: Lowering, node: Node, x: str) -> str:
    for key, op_type in (("min", "Max"), ("max", "Min")):  # np.clip: min first, max wins
        bound = node.params.get(key)
        if bound is not None:
            x = low.op(op_type, [x, _scalar(low, node, bound)])
    return x


@lowers("Remainder")
def _remainder(low: Lowering, node: Node, a: str, b: str) -> str:
    """Python's modulo (the sign of ``b``): ``Mod`` for integers; for floats the exact C fmod,
    plus ``b`` where it is non-zero with the other sign."""
    a, b = _operands(low, node, (a, b))
    if low.dtype(node.out).kind in "iu":
        return low.op("Mod", [a, b], fmod=0)
    r = low.op("Mod", [a, b], fmod=1)
    zero = _scalar(low, node, 0.0)
    signs_differ = low.op("Xor", [low.op("Less", [r, zero]), low.op("Less", [b, zero])])
    fix = low.op("And", [signs_differ, low.op("Not", [low.op("Equal", [r, zero])])])
    return low.op("Where", [fix, low.op("Add", [r, b]), r])


@lowers("FloorDivide")
def _floor_divide(low: Lowering, node: Node, a: str, b: str) -> str:
    """``floor(a / b)`` for floats; for integers ``(a - a mod b) / b``, exactly."""
    a, b = _operands(low, node, (a, b))
    if low.dtype(node.out).kind in "iu":
        remainder = low.op("Mod", [a, b], fmod=0)
        return low.op("Div", [low.op("Sub", [a, remainder]), b])
    return low.op("Floor", [low.op("Div", [a, b])])


@lowers("Cast")
def _cast(low: Lowering, node: Node, x: str) -> str:
    out = low.cast(x, low.dtype(node.inputs[0]), low.dtype(node.out))
    return out if out != x else low.op("Identity", [x])


# -- matrix products --------------------------------------------------------------------------
@lowers("MatMul")
def _matmul(low: Lowering, node: Node, a: str, b: str) -> str:
    return low.op("MatMul", [a, b])


@lowers("Einsum")
def _einsum(low: Lowering, node: Node, *ops: str) -> str:
    return low.op("Einsum", list(ops), equation=node.params["equation"])


# -- reductions -------------------------------------------------------------------------------
_REDUCE = {"Sum": "ReduceSum", "Amax": "ReduceMax", "Amin": "ReduceMin", "Prod": "ReduceProd"}


def _reduction(op_type: str) -> Lower:
    def lower(low: Lowering, node: Node, x: str) -> str:
        dims, keepdim = node.params["dims"], node.params["keepdim"]
        if not dims:  # nothing to reduce (ONNX would reduce everything)
            return low.op("Identity", [x])
        return low.reduce(op_type, x, dims, keepdim)

    return lower


for _name, _op in _REDUCE.items():
    LOWERINGS[_name] = _reduction(_op)


@lowers("All", "Any_")
def _bool_reduction(low: Lowering, node: Node, x: str) -> str:
    if not node.params["dims"]:
        return low.cast(x, low.dtype(node.inputs[0]), np.dtype(np.bool_))
    boolean, int32 = np.dtype(np.bool_), np.dtype(np.int32)
    as_int = low.cast(low.cast(x, low.dtype(node.inputs[0]), boolean), boolean, int32)
    op_type = "ReduceMin" if node.prim.name == "All" else "ReduceMax"
    reduced = low.reduce(op_type, as_int, node.params["dims"], node.params["keepdim"])
    return low.cast(reduced, int32, boolean)


@lowers("ArgMax", "ArgMin")
def _arg_reduction(low: Lowering, node: Node, x: str) -> str:
    dim, keepdim = node.params["dim"], node.params["keepdim"]
    if dim is None:  # over the flattened tensor
        x, dim = low.op("Reshape", [x, low.ints([-1])]), 0
        keepdim = False
    out = low.op(node.prim.name, [x], axis=dim, keepdims=int(keepdim), select_last_index=0)
    if node.params["dim"] is None and node.params["keepdim"]:
        ndim = len(low.graph.avals[node.inputs[0]].shape)
        out = low.op("Reshape", [out, low.ints([1] * ndim)])
    return out


@lowers("Norm")
def _norm(low: Lowering, node: Node, x: str) -> str:
    dims, keepdim, p = node.params["dims"], node.params["keepdim"], node.params["p"]
    if p == 1:
        return low.reduce("ReduceL1", x, dims, keepdim)
    if p == 2:
        return low.reduce("ReduceL2", x, dims, keepdim)
    if p == float("inf"):
        return low.reduce("ReduceMax", low.op("Abs", [x]), dims, keepdim)
    power = _scalar(low, node, p)
    total = low.reduce("ReduceSum", low.op("Pow", [low.op("Abs", [x]), power]), dims, keepdim)
    return low.op("Pow", [total, _scalar(low, node, 1.0 / p)])


@lowers("CumSum")
def _cumsum(low: Lowering, node: Node, x: str) -> str:
    return low.op("CumSum", [x, low.constant(np.asarray(node.params["dim"], dtype=np.int64))])


# -- movement ---------------------------------------------------------------------------------
@lowers("Reshape")
def _reshape(low: Lowering, node: Node, x: str) -> str:
    shape, alt = low.shapes(node.out)
    return low.op("Reshape", [x, low.shape_tensor(shape, alt, "reshape", infer_one=True)])


@lowers("Expand")
def _expand(low: Lowering, node: Node, x: str) -> str:
    """Dimensions the input already has are 1 in the target (Expand broadcasts both ways),
    so only the ones it broadcasts to can depend on a dynamic axis."""
    (shape, alt), (xs, xalt) = low.shapes(node.out), low.shapes(node.inputs[0])
    lead = len(shape) - len(xs)
    keep = [
        i >= lead and xs[i - lead] == shape[i] and xalt[i - lead] == alt[i]
        for i in range(len(shape))
    ]
    target = [1 if k else n for k, n in zip(keep, shape)]
    target_alt = [1 if k else n for k, n in zip(keep, alt)]
    return low.op("Expand", [x, low.shape_tensor(target, target_alt, "expand")])


@lowers("Permute")
def _permute(low: Lowering, node: Node, x: str) -> str:
    return low.op("Transpose", [x], perm=list(node.params["dims"]))


@lowers("Cat")
def _cat(low: Lowering, node: Node, *xs: str) -> str:
    return low.op("Concat", list(xs), axis=node.params["dim"])


def _slice(low: Lowering, x: str, starts: list, ends: list, axes: list, steps: list) -> str:
    ins = [x, low.ints(starts), low.ints(ends), low.ints(axes), low.ints(steps)]
    return low.op("Slice", ins)


@lowers("Flip")
def _flip(low: Lowering, node: Node, x: str) -> str:
    dims = list(node.params["dims"])
    if not dims:
        return low.op("Identity", [x])
    n = len(dims)
    return _slice(low, x, [-1] * n, [-INT64_MAX] * n, dims, [-1] * n)


@lowers("Roll")
def _roll(low: Lowering, node: Node, x: str) -> str:
    shape = low.shapes(node.inputs[0])[0]
    for shift, dim in zip(node.params["shifts"], node.params["dims"]):
        k = shift % shape[dim] if shape[dim] else 0
        if k:
            tail = _slice(low, x, [-k], [INT64_MAX], [dim], [1])
            head = _slice(low, x, [0], [-k], [dim], [1])
            x = low.op("Concat", [tail, head], axis=dim)
    return x


@lowers("ConstantPad")
def _pad(low: Lowering, node: Node, x: str) -> str:
    widths = node.params["widths"]
    pads = [a for a, _ in widths] + [b for _, b in widths]
    value = low.constant(np.asarray(node.params["value"], dtype=low.dtype(node.out)))
    return low.op("Pad", [x, low.ints(pads), value], mode="constant")


@lowers("Tril", "Triu")
def _trilu(low: Lowering, node: Node, x: str) -> str:
    k = low.constant(np.asarray(node.params["diagonal"], dtype=np.int64))
    return low.op("Trilu", [x, k], upper=int(node.prim.name == "Triu"))


# -- indexing ---------------------------------------------------------------------------------
@lowers("GetItem")
def _getitem(low: Lowering, node: Node, x: str, *index: str) -> str:
    """Basic indexing (ints, slices, None, ...) as Slice/Squeeze/Unsqueeze, plus at most one
    integer index tensor as Gather (an embedding lookup is ``weight[idx]``)."""
    spec = node.params["spec"]
    shape = low.shapes(node.inputs[0])[0]
    index_avals = [low.graph.avals[v] for v in node.inputs[1:]]
    tensors = [item for item in spec if item[0] == "tensor"]
    if len(tensors) > 1 or any(a.dtype.np.kind == "b" for a in index_avals):
        raise ExportError(
            "ember.onnx.export: GetItem: indexing with several index tensors or a boolean "
            f"mask has no ONNX lowering here (index {spec})"
        )
    used = sum(1 for item in spec if item[0] in ("int", "slice", "tensor"))
    starts, ends, axes, steps = [], [], [], []
    squeeze, unsqueeze, gather = [], [], None
    dim = mid = out = 0  # position in x, after slicing/gathering, in the result
    for kind, *rest in spec:
        if kind == "ellipsis":
            skip = len(shape) - used
            dim, mid, out = dim + skip, mid + skip, out + skip
        elif kind == "none":
            unsqueeze.append(out)
            out += 1
        elif kind == "int":
            k = rest[0]
            starts.append(k)
            ends.append(k + 1 if k != -1 else INT64_MAX)
            axes.append(dim)
            steps.append(1)
            squeeze.append(mid)
            dim, mid = dim + 1, mid + 1
        elif kind == "slice":
            start, stop, step = rest
            if (start, stop, step) != (None, None, None):
                starts.append(0 if start is None else start)
                ends.append(INT64_MAX if stop is None else stop)
                axes.append(dim)
                steps.append(1 if step is None else step)
            dim, mid, out = dim + 1, mid + 1, out + 1
        else:  # the index tensor: its dims replace this one
            rank = len(index_avals[rest[0]].shape)
            gather = (dim, index[rest[0]])
            dim, mid, out = dim + 1, mid + rank, out + rank
    if starts:
        x = _slice(low, x, starts, ends, axes, steps)
    if gather is not None:
        x = low.op("Gather", [x, gather[1]], axis=gather[0])
    if squeeze:
        x = low.op("Squeeze", [x, low.ints(squeeze)])
    if unsqueeze:
        x = low.op("Unsqueeze", [x, low.ints(unsqueeze)])
    return x


@lowers("Gather")
def _gather(low: Lowering, node: Node, x: str, index: str) -> str:
    return low.op("GatherElements", [x, index], axis=node.params["dim"])


@lowers("Scatter", "ScatterAdd")
def _scatter(low: Lowering, node: Node, x: str, index: str, src: str) -> str:
    reduction = "add" if node.prim.name == "ScatterAdd" else "none"
    return low.op("ScatterElements", [x, index, src], axis=node.params["dim"], reduction=reduction)


# -- convolution and pooling ------------------------------------------------------------------
def _geometry(params: dict) -> dict[str, list[int]]:
    """ONNX's strides, pads and dilations from a window primitive's params."""
    padding = params["padding"]
    return {
        "strides": list(params["stride"]),
        "pads": [a for a, _ in padding] + [b for _, b in padding],
        "dilations": list(params["dilation"]),
    }


@lowers("Conv")
def _conv(low: Lowering, node: Node, x: str, w: str) -> str:
    return low.op("Conv", [x, w], **_geometry(node.params))


@lowers("ConvTranspose")
def _conv_transpose(low: Lowering, node: Node, g: str, w: str) -> str:
    """ember's (N, O, *L) x (O, C, *K) -> (N, C, *size) is ONNX's ConvTranspose; the output
    size fixes output_padding (the rows a strided transpose could leave off)."""
    geom = _geometry(node.params)
    lengths = low.shapes(node.inputs[0])[0][2:]
    kernel = low.shapes(node.inputs[1])[0][2:]
    nd = len(kernel)
    extra = [
        size - (s * (n - 1) + d * (k - 1) + 1 - a - b)
        for size, s, n, d, k, a, b in zip(
            node.params["size"], geom["strides"], lengths, geom["dilations"], kernel,
            geom["pads"][:nd], geom["pads"][nd:],
        )
    ]  # fmt: skip
    return low.op("ConvTranspose", [g, w], output_padding=extra, **geom)


@lowers("MaxPoolIndices")
def _max_pool_indices(low: Lowering, node: Node) -> None:
    """Lowered by the MaxPoolGather that reads it (together they are max pooling)."""
    return None


@lowers("MaxPoolGather")
def _max_pool_gather(low: Lowering, node: Node) -> str:
    x, idx = node.inputs
    producer = low.producers.get(idx)
    if producer is None or producer.prim.name != "MaxPoolIndices" or producer.inputs[0] != x:
        raise ExportError(
            "ember.onnx.export: MaxPoolGather: only max pooling (a gather by the indices of "
            "the maxima of the same input) has an ONNX lowering"
        )
    geom = _geometry(producer.params)
    return low.op("MaxPool", [low.name(x)], kernel_shape=list(producer.params["kernel"]), **geom)


@lowers("Im2Col")
def _im2col(low: Lowering, node: Node, x: str) -> str:
    """Windows as a convolution of each channel with one-hot kernels (exact: the other
    products are zeros), then moved to ember's (C, *kernel, N, *out) layout."""
    kernel = list(node.params["kernel"])
    (n, c, *size), alt = low.shapes(node.inputs[0])
    taps = math.prod(kernel)
    eye = np.eye(taps, dtype=low.dtype(node.out)).reshape([taps, 1, *kernel])
    flat = low.shape_tensor([n * c, 1, *size], [alt[0] * c, 1, *size], "im2col", infer_one=True)
    planes = low.op("Reshape", [x, flat])
    cols = low.op("Conv", [planes, low.constant(eye, "im2col_eye")], **_geometry(node.params))
    out = low.shapes(node.out)[0][len(kernel) + 2 :]
    split = [n, c, *kernel, *out]
    split_alt = [alt[0], c, *kernel, *out]
    cols = low.op("Reshape", [cols, low.shape_tensor(split, split_alt, "im2col", infer_one=True)])
    nd = len(kernel)
    perm = [1, *range(2, 2 + nd), 0, *range(2 + nd, 2 + 2 * nd)]
    return low.op("Transpose", [cols], perm=perm)


@lowers("WindowSum")
def _window_sum(low: Lowering, node: Node, x: str) -> str:
    """Window sums as a convolution of each channel with a kernel of ones."""
    kernel = list(node.params["kernel"])
    (n, c, *size), alt = low.shapes(node.inputs[0])
    ones = np.ones([1, 1, *kernel], dtype=low.dtype(node.out))
    flat = low.shape_tensor([n * c, 1, *size], [alt[0] * c, 1, *size], "pool", infer_one=True)
    planes = low.op("Reshape", [x, flat])
    geom = _geometry({**node.params, "dilation": (1,) * len(kernel)})
    sums = low.op("Conv", [planes, low.constant(ones, "pool_ones")], **geom)
    out = low.shapes(node.out)[0][2:]
    back = low.shape_tensor([n, c, *out], [alt[0], c, *out], "pool", infer_one=True)
    return low.op("Reshape", [sums, back])


# -- recurrent --------------------------------------------------------------------------------
@lowers("LSTMSequence")
def _lstm_sequence(low: Lowering, node: Node, xproj: str, w_hh: str, h0: str, c0: str) -> str:
    """ember's fused LSTM recurrence as an ONNX Scan whose body is one step of the kernel:
    each step's row is [h, c, i, f, g, o], as the primitive returns it."""
    helper = low.onnx.helper
    dtype = helper.np_dtype_to_tensor_dtype(low.dtype(node.out))
    hidden = low.shapes(node.inputs[1])[0][1]
    w_t = low.op("Transpose", [w_hh], perm=[1, 0])
    sizes = low.ints([hidden] * 4)
    body: list[Any] = []

    def step(op_type: str, inputs: list[str], **attrs: Any) -> str:
        out = low.fresh(f"lstm_{op_type.lower()}")
        body.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    h_prev, c_prev, x_t = (low.fresh(n) for n in ("lstm_h", "lstm_c", "lstm_x"))
    pre = step("Add", [step("MatMul", [h_prev, w_t]), x_t])
    gates = [low.fresh("lstm_gate") for _ in range(4)]
    body.append(helper.make_node("Split", [pre, sizes], gates, axis=1))
    i, f, o = (step("Sigmoid", [gates[k]]) for k in (0, 1, 3))
    g = step("Tanh", [gates[2]])
    c = step("Add", [step("Mul", [f, c_prev]), step("Mul", [i, g])])
    h = step("Mul", [step("Tanh", [c]), o])
    row = step("Concat", [h, c, i, f, g, o], axis=1)
    h_out, c_out = step("Identity", [h]), step("Identity", [c])

    def typed(name: str) -> Any:
        return helper.make_tensor_value_info(name, dtype, None)

    graph = helper.make_graph(
        body, low.fresh("lstm_step"), [typed(n) for n in (h_prev, c_prev, x_t)],
        [typed(n) for n in (h_out, c_out, row)],
    )  # fmt: skip
    direction = [int(node.params["reverse"])]
    _, _, rows = low.op(
        "Scan", [h0, c0, xproj], outputs=3, body=graph, num_scan_inputs=1,
        scan_input_directions=direction, scan_output_directions=direction,
    )  # fmt: skip
    return rows


_LAZY_INPUTS = {"MaxPoolIndices", "MaxPoolGather"}  # lowerings that read their inputs themselves
