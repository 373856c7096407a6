"""Optimizer: the base class owning param groups, per-parameter state and state_dict.

A subclass gives two small per-parameter rules: ``_init_state(p, group)`` (the fresh state
dict) and ``_update(p, grad, state, group)`` (one step, with ember in-place ops). ``step`` runs
the rule under no-grad for every parameter that has a gradient. The rule is the only
description of the update: eagerly it runs op by op, and a step compiled by ``ember.jit``
traces it like any other code; the jit fuses each parameter's update and runs the updates of
all parameters as a few multi-tensor calls (``ember.jit.multi``).

PyTorch's ``foreach`` and ``capturable`` flags are accepted where PyTorch has them and change
nothing: ember has one implementation of each rule (``foreach`` picks between PyTorch's
kernels), and its rules already keep step counts as device tensors that they never read on
the host (what ``capturable`` asks for, and what lets ``ember.jit`` compile a step).
``differentiable=True`` is refused: steps run under no-grad.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ember.autograd import enable_grad, no_grad
from ember.creation import tensor, zeros
from ember.dtypes import float32
from ember.tensor import Tensor

__all__ = ["Optimizer", "required", "step_counter", "scalar_state", "decayed_grad"]


def step_counter(p: Tensor) -> Tensor:
    """A fresh step count for ``p``'s state: a 0-d float32 tensor on p's device, as PyTorch
    stores it; being a tensor, a compiled training step reads and advances it as state instead
    of baking the number into the graph (which would retrace every step)."""
    return zeros((), dtype=float32, device=p.device)


def scalar_state(p: Tensor, value: float | Tensor) -> Tensor:
    """A 0-d float32 state entry on p's device holding ``value`` (PyTorch's dtype for scalar
    state such as ASGD's eta); a tensor, so a compiled step reads and writes it. ``fill_``
    takes a traced 0-d lr too (``full`` would read it on the host)."""
    return zeros((), dtype=float32, device=p.device).fill_(value)


def decayed_grad(p: Tensor, grad: Tensor, group: dict[str, Any]) -> Tensor:
    """The gradient a rule follows: negated under ``maximize``, plus ``weight_decay * p``; with
    ``decoupled_weight_decay`` p itself shrinks by ``1 - lr * weight_decay`` (in place)."""
    if group["maximize"]:
        grad = -grad
    wd = group["weight_decay"]
    if wd != 0:
        if group.get("decoupled_weight_decay", False):
            p.mul_(1 - group["lr"] * wd)
        else:
            grad = grad + p * wd
    return grad


class _Required:
    """Marks a hyperparameter that has no default (PyTorch's ``optim.required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _Required()


class Optimizer:
    """Base class: ``param_groups`` (list of dicts), ``state`` (param → dict) and the step loop."""

    _non_negative: tuple[tuple[str, str], ...] = (("lr", "learning rate"),)
    # 0-d float32 state that load_state_dict keeps float32 (not cast to the parameter's dtype,
    # which would change a resumed run's rounding)
    _scalar_state: tuple[str, ...] = ("step",)

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                f"{type(self).__name__}: params argument given to the optimizer should be an "
                "iterable of Tensors or dicts, but got a Tensor\n"
                "hint: wrap it in a list, or pass model.parameters()"
            )
        groups = _ordered(params, type(self).__name__)
        if not groups:
            raise ValueError(f"{type(self).__name__}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # -- param groups -----------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyperparameters (defaults fill the rest)."""
        if not isinstance(param_group, dict):
            raise TypeError(
                f"add_param_group: param_group must be a dict, got {type(param_group).__name__}"
            )
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else _ordered(params, "add_param_group")
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"add_param_group: optimizer can only optimize Tensors, but one of the "
                    f"params is {type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError(
                    "add_param_group: can't optimize a non-leaf Tensor\n"
                    "hint: optimize the leaf (e.g. a Parameter) the tensor was computed from"
                )
        group = {**param_group, "params": params}
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(
                    f"add_param_group: parameter group didn't specify a value of required "
                    f"optimization parameter {name}"
                )
            group.setdefault(name, default)
        self._validate(group)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or seen & {id(p) for p in params}:
            raise ValueError(
                "add_param_group: some parameters appear more than once (in one group or in "
                "more than one parameter group)"
            )
        self.param_groups.append(group)

    def _validate(self, group: dict[str, Any]) -> None:
        """Check a group's hyperparameters (subclasses list theirs in ``_non_negative``)."""
        name = type(self).__name__
        for key, label in self._non_negative:
            if not group[key] >= 0.0:
                raise ValueError(f"{name}: Invalid {label}: {group[key]}")
        for i, beta in enumerate(group.get("betas", ())):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name}: Invalid beta parameter at index {i}: {beta}")
        if group.get("differentiable", False):
            raise ValueError(
                f"{name}: differentiable=True is not supported: ember's optimizer steps run "
                "under no-grad\nhint: write the update with ember ops outside the optimizer to "
                "differentiate through it"
            )

    # -- the step ---------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (default) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_()
                    with no_grad():
                        p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    grad = p.grad
                    if grad is None:
                        continue
                    state = self.state.get(p)
                    if state is None:
                        state = self.state[p] = self._init_state(p, group)
                    self._update(p, grad, state, group)
        return loss

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """The state of a parameter before its first step."""
        return {}

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict) -> None:
        """Update ``p`` in place from ``grad`` (runs under no-grad)."""
        raise NotImplementedError

    # -- checkpointing ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """PyTorch's format: state keyed by parameter index, groups listing their indices."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for p in group["params"]:
                ids.append(index.setdefault(id(p), len(index)))
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {
            index[id(p)]: dict(s)
            for g in self.param_groups
            for p in g["params"]
            if (s := self.state.get(p)) is not None
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore state and hyperparameters saved by ``state_dict`` (copies the tensors)."""
        saved = state_dict["param_groups"]
        if len(saved) != len(self.param_groups):
            raise ValueError(
                f"load_state_dict: loaded state dict has a different number of parameter "
                f"groups: {len(saved)} vs {len(self.param_groups)}"
            )
        for i, (s, g) in enumerate(zip(saved, self.param_groups)):
            if len(s["params"]) != len(g["params"]):
                raise ValueError(
                    f"load_state_dict: loaded state dict contains a parameter group that "
                    f"doesn't match the size of optimizer's group {i}: "
                    f"{len(s['params'])} vs {len(g['params'])} parameters"
                )
        by_index = {
            i: p for s, g in zip(saved, self.param_groups) for i, p in zip(s["params"], g["params"])
        }
        self.state = {}
        for key, values in state_dict["state"].items():
            p = by_index.get(int(key))
            if p is not None:
                self.state[p] = {
                    k: _restore(v, p, k in self._scalar_state) for k, v in values.items()
                }
        for s, g in zip(saved, self.param_groups):
            g.update({k: v for k, v in s.items() if k != "params"})

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params"]
        return "\n".join(lines + [")"])


def _ordered(params: Iterable[Any], op: str) -> list[Any]:
    """``params`` as a list; sets are refused because their order changes between runs."""
    if isinstance(params, (set, frozenset)):
        raise TypeError(
            f"{op}: optimizer parameters need to be organized in ordered collections, but the "
            "ordering of tensors in sets will change between runs\nhint: pass a list"
        )
    return list(params)


def _restore(value: Any, p: Tensor, scalar: bool) -> Any:
    """A saved state entry made ready for ``p``: a scalar (the step count and the like) as a
    fresh 0-d float32 tensor (from a number or a tensor), buffers copied onto p."""
    if scalar:
        number = value.item() if isinstance(value, Tensor) else value
        return tensor(float(number), dtype=float32, device=p.device)
    if isinstance(value, Tensor):
        with no_grad():
            out = value.to(p.device)
            if out.is_floating_point():
                out = out.to(p.dtype)
            return out.clone() if out is value else out
    return value
