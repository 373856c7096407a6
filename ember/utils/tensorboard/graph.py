"""An ``ember.jit`` graph as TensorBoard's ``GraphDef``: one node per graph input, constant,
primitive and output, named after the model's parameters where known, with output shapes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tensorboard.compat.proto import attr_value_pb2, graph_pb2, node_def_pb2, tensor_shape_pb2
from tensorboard.compat.proto.versions_pb2 import VersionDef

from ember.jit.graph import Graph

__all__ = ["graph_def"]

AttrValue = attr_value_pb2.AttrValue


def _attrs(aval: Any, **strings: str) -> dict[str, AttrValue]:
    """The node's output shape (drawn on its edges), dtype and any string attributes."""
    dims = [tensor_shape_pb2.TensorShapeProto.Dim(size=int(n)) for n in aval.shape]
    shape = tensor_shape_pb2.TensorShapeProto(dim=dims)
    attrs = {
        "_output_shapes": AttrValue(list=AttrValue.ListValue(shape=[shape])),
        "dtype": AttrValue(s=aval.dtype.name.encode()),
    }
    attrs.update({k: AttrValue(s=v.encode()) for k, v in strings.items()})
    return attrs


def graph_def(graph: Graph, names: Mapping[int, str] | None = None) -> graph_pb2.GraphDef:
    """``graph`` as a GraphDef; ``names`` maps ``id(tensor)`` of parameters and buffers to
    their dotted names, which become scopes ("layer1/weight") that TensorBoard folds."""
    names = names or {}
    node_name: dict[int, str] = {}
    nodes = []

    def add(value: int, name: str, op: str, inputs: list[int], **strings: str) -> None:
        node_name[value] = name
        nodes.append(
            node_def_pb2.NodeDef(
                name=name,
                op=op,
                input=[node_name[v] for v in inputs],
                attr=_attrs(graph.avals[value], **strings),
            )
        )

    for value, source in zip(graph.inputs, graph.sources):
        if source.kind == "arg":
            add(value, f"input/{source.label()}", "Input", [])
            continue
        owner = names.get(id(source.tensor), f"state/{source.label()}").replace(".", "/")
        add(value, owner if source.kind == "data" else f"{owner}/grad", "Parameter", [])
    for value in graph.constants:
        add(value, f"constant_{value}", "Const", [])
    for node in graph.nodes:
        params = ", ".join(f"{k}={p!r}" for k, p in node.params.items())
        add(
            node.out,
            f"{node.prim.name}_{node.out}",
            node.prim.name,
            list(node.inputs),
            params=params,
        )
    for k, value in enumerate(graph.outputs):
        nodes.append(
            node_def_pb2.NodeDef(
                name=f"output/output{k}",
                op="Output",
                input=[node_name[value]],
                attr=_attrs(graph.avals[value]),
            )
        )
    return graph_pb2.GraphDef(node=nodes, versions=VersionDef(producer=22))
