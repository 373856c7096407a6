"""A node of the autograd graph: one recorded primitive application."""

from __future__ import annotations

import os
import traceback
from typing import Any

from ember.autograd.grad_mode import STATE

__all__ = ["Node", "freed_graph_error"]


def freed_graph_error(node: Node) -> RuntimeError:
    return RuntimeError(
        f"backward: trying to backward through the graph a second time ({node.name()}'s saved "
        "tensors were already freed)\n"
        "hint: pass retain_graph=True to the first backward() (or autograd.grad()) if you need "
        "to backward through the graph again"
    )


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _user_stack() -> list[str]:
    """The current stack, formatted, without the innermost frames that are inside ember."""
    frames = traceback.extract_stack()
    while frames and frames[-1].filename.startswith(_PACKAGE_DIR):
        frames.pop()
    return traceback.format_list(frames)


class Node:
    """What backward needs to run one primitive's vjp: inputs, params, output, versions.

    The output is held through a weak reference (the output tensor owns the node, so a strong
    reference would make a cycle); anything downstream that needs the node holds the tensor.
    """

    __slots__ = (
        "prim",
        "inputs",
        "edges",
        "params",
        "out_ref",
        "versions",
        "hooks",
        "retain_ref",
        "stack",
        "__weakref__",
    )

    def __init__(self, prim: Any, inputs: tuple, params: dict, versions: tuple) -> None:
        self.prim = prim
        self.inputs: tuple | None = inputs
        # where each input's gradient goes (its node, the leaf itself, or None), fixed now: a
        # later in-place op gives the input tensor a new node that must not reroute this one
        self.edges: tuple = tuple((x.node or x) if x.requires_grad else None for x in inputs)
        self.params = params
        self.out_ref: Any = None
        self.versions = versions  # (index, version) of each saved tensor; index -1 is the output
        self.hooks: list | None = None
        self.retain_ref: Any = None
        # under detect_anomaly, where the forward op ran (shown if its backward yields nan)
        self.stack: list[str] | None = _user_stack() if STATE.anomaly else None

    def name(self) -> str:
        return f"{self.prim.name}Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    @property
    def next_functions(self) -> tuple:
        """The nodes this one sends gradients to (None for leaves), like PyTorch's."""
        return tuple((e if isinstance(e, Node) else None, 0) for e in self.edges if e is not None)

    def register_hook(self, hook: Any) -> None:
        if self.hooks is None:
            self.hooks = []
        self.hooks.append(hook)

    def free(self) -> None:
        self.inputs = None
        self.edges = ()
        self.out_ref = None
