"""``torch.nn.modules.container``: Sequential, ModuleList, ModuleDict, ParameterList and
ParameterDict (the same classes as ``ember.nn``)."""

from __future__ import annotations

from ember.nn.containers import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]
