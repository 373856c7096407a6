"""A node of the autograd graph: one recorded primitive application."""

from __future__ import annotations

from typing import Any

__all__ = ["Node", "freed_graph_error"]


def freed_graph_error(node: Node) -> RuntimeError:
    return RuntimeError(
        f"backward: trying to backward through the graph a second time ({node.name()}'s saved "
        "tensors were already freed)\n"
        "hint: pass retain_graph=True to the first backward() (or autograd.grad()) if you need "
        "to backward through the graph again"
    )


class Node:
    """What backward needs to run one primitive's vjp: inputs, params, output, versions.

    The output is held through a weak reference (the output tensor owns the node, so a strong
    reference would make a cycle); anything downstream that needs the node holds the tensor.
    """

    __slots__ = (
        "prim",
        "inputs",
        "params",
        "out_ref",
        "versions",
        "hooks",
        "retain_ref",
        "__weakref__",
    )

    def __init__(self, prim: Any, inputs: tuple, params: dict, versions: tuple) -> None:
        self.prim = prim
        self.inputs: tuple | None = inputs
        self.params = params
        self.out_ref: Any = None
        self.versions = versions  # (index, version) of each saved tensor; index -1 is the output
        self.hooks: list | None = None
        self.retain_ref: Any = None

    def name(self) -> str:
        return f"{self.prim.name}Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    @property
    def next_functions(self) -> tuple:
        """The nodes this one sends gradients to (None for leaves), like PyTorch's."""
        if self.inputs is None:
            return ()
        return tuple((x.node, 0) for x in self.inputs if x.requires_grad)

    def register_hook(self, hook: Any) -> None:
        if self.hooks is None:
            self.hooks = []
        self.hooks.append(hook)

    def free(self) -> None:
        self.inputs = None
        self.out_ref = None
