"""Helpers for comparing ember modules with their torch counterparts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

import ember

TOL = {"float64": {"rtol": 1e-9, "atol": 1e-10}, "float32": {"rtol": 1e-4, "atol": 2e-5}}


def to_ember(t: torch.Tensor, requires_grad: bool = False) -> ember.Tensor:
    return ember.tensor(t.detach().numpy(), requires_grad=requires_grad)


def load_from_torch(em: ember.nn.Module, tm: torch.nn.Module) -> None:
    """Copy torch's state_dict into the ember module (names and order must agree)."""
    state = tm.state_dict()
    assert list(em.state_dict()) == list(state), "state_dict keys differ from torch's"
    em.load_state_dict({k: to_ember(v) for k, v in state.items()})


def close(ours: Any, theirs: Any, dtype: str, what: str, tol: dict | None = None) -> None:
    a = np.asarray(ours.detach().numpy() if isinstance(ours, ember.Tensor) else ours)
    b = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    assert a.shape == b.shape, f"{what}: shape {a.shape} vs torch {b.shape}"
    np.testing.assert_allclose(a, b, err_msg=what, **(tol or TOL[dtype]))


def compare_module(
    make_ember: Callable[[], ember.nn.Module],
    make_torch: Callable[[], torch.nn.Module],
    inputs: Sequence[np.ndarray],
    dtype: str,
    train: bool = True,
    tol: dict | None = None,
) -> tuple[ember.nn.Module, torch.nn.Module]:
    """Forward and every parameter/input gradient of ember vs torch, from the same state."""
    torch.manual_seed(0)
    tdt, edt = getattr(torch, dtype), getattr(ember, dtype)
    tm = make_torch().to(tdt).train(train)
    em = make_ember().to(edt).train(train)
    load_from_torch(em, tm)
    t_in, e_in = [], []
    for a in inputs:
        if a.dtype.kind == "f":
            t_in.append(torch.tensor(a, dtype=tdt, requires_grad=True))
            e_in.append(ember.tensor(a, dtype=edt, requires_grad=True))
        else:
            t_in.append(torch.tensor(a))
            e_in.append(ember.tensor(a))
    t_out, e_out = tm(*t_in), em(*e_in)
    close(e_out, t_out, dtype, "forward")
    if not t_out.requires_grad:
        return em, tm
    cot = np.random.default_rng(1).standard_normal(tuple(t_out.shape))
    (t_out * torch.tensor(cot, dtype=tdt)).sum().backward()
    (e_out * ember.tensor(cot, dtype=edt)).sum().backward()
    t_params = dict(tm.named_parameters())
    for name, p in em.named_parameters():
        tp = t_params[name]
        if tp.grad is None:
            assert p.grad is None or not p.grad.numpy().any(), f"grad of {name}"
        else:
            close(p.grad, tp.grad, dtype, f"grad of {name}")
    for i, (ti, ei) in enumerate(zip(t_in, e_in)):
        if ti.requires_grad:
            close(ei.grad, ti.grad, dtype, f"grad of input {i}", tol)
    for name, b in em.named_buffers():
        close(b, dict(tm.named_buffers())[name], dtype, f"buffer {name}")
    return em, tm
