"""Multi-tensor kernels (``ember.jit.multi``): a compiled training step runs the optimizer's
per-parameter groups as one call, with the results of one call per group, bit for bit."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.jit import multi
from ember.train.loop import train_step

OPTIMIZERS = {
    "Adam": lambda ps: ember.optim.Adam(ps, lr=0.01),
    "AdamW-amsgrad": lambda ps: ember.optim.AdamW(ps, lr=0.01, amsgrad=True),
    "SGD-nesterov": lambda ps: ember.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
}


def _train(make_opt: Any, jit: bool, steps: int = 4, odd_layout: bool = False) -> tuple:
    """Parameters after ``steps`` steps of a three-layer MLP (weights of three shapes), the
    compiled function (or None) and its executor's classes."""
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))
    opt = make_opt(list(model.parameters()))
    batch = (ember.randn(8, 6), ember.randint(0, 3, (8,)))
    step = train_step(model, F.cross_entropy, opt)
    run = ember.jit(step) if jit else step
    for t in range(steps):
        run(batch)
        if odd_layout and t == 1:  # state in column-major order from now on
            for state in opt.state.values():
                for key, value in state.items():
                    if key != "step" and value.dim() == 2:
                        value._data = np.asfortranarray(value._data)
    params = [p.detach().numpy().copy() for p in model.parameters()]
    classes = run._last.executor.classes if jit else []
    return params, classes


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@pytest.mark.parametrize("odd_layout", [False, True], ids=["contiguous", "column-major"])
def test_one_call_updates_every_weight_as_one_call_per_group_would(
    name: str, odd_layout: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The weights' updates form a class; the parameters equal a run without classes exactly
    (also when state arrays are column-major: the members then run one by one) and equal
    eager execution to float32 rounding."""
    make_opt = OPTIMIZERS[name]
    fused, classes = _train(make_opt, True, odd_layout=odd_layout)
    assert any(len(c.members) >= 3 for c in classes)
    eager, _ = _train(make_opt, False, odd_layout=odd_layout)
    monkeypatch.setattr(multi, "classes", lambda *args: [])
    apart, none = _train(make_opt, True, odd_layout=odd_layout)
    assert none == []
    for a, b, e in zip(fused, apart, eager):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)


def test_dependent_groups_never_share_a_class() -> None:
    """The forward pass's bias-add-ReLU groups have the same ops, but each reads the one
    before it through a matmul: running them as one call would read a value before it is
    made, so they stay apart."""
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 5), nn.ReLU())
    compiled = ember.jit(lambda x: model(x).sum())
    with ember.no_grad():
        compiled(ember.randn(8, 6))
    executor = compiled._last.executor
    relu_groups = [
        k
        for k, g in enumerate(executor.groups)
        if [executor.graph.nodes[i].prim.__name__ for i in g.nodes] == ["Add", "Relu"]
    ]
    assert len(relu_groups) == 2 and executor.native[relu_groups[0]]
    assert executor.classes == []


def test_wrapper_calls_each_member_on_its_operands() -> None:
    """The C entry point hands each member kernel its slice of the pointer table."""
    src = multi.wrapper_source("m0", [("g1", 2), ("g4", 3)])
    assert src.splitlines() == [
        "void m0(void **p) {",
        "  g1(p[0], p[1]);",
        "  g4(p[2], p[3], p[4]);",
        "}",
    ]


def test_scalar_work_of_every_parameter_forms_classes() -> None:
    """Adam's step counts and float64 bias corrections are one-element groups per parameter,
    with casts between them: the groups run as classes in C, and the casts move with them
    (lone classes) so that the classes reading them can form."""
    ember.manual_seed(0)
    ps = [ember.randn(*s, requires_grad=True) for s in [(3, 4), (5,), (2, 2)]]
    opt = ember.optim.Adam(ps, lr=0.01)

    def step() -> ember.Tensor:
        opt.zero_grad()
        loss = sum((p * p).sum() for p in ps)
        loss.backward()
        opt.step()
        return loss

    compiled = ember.jit(step)
    for _ in range(3):
        compiled()
    executor = compiled._last.executor
    scalar = [
        c
        for c in executor.classes
        if not c.lone and all(executor.groups[k].shape == () for k in c.members)
    ]
    assert {executor.groups[c.members[0]].dtype.name for c in scalar} == {"float32", "float64"}
    assert any(c.lone and len(c.members) == 3 for c in executor.classes)


def test_a_copied_gradient_does_not_keep_the_update_off_c() -> None:
    """The bias gradients reach ``.grad`` through a ``Copy``; the copy stays out of the
    groups (it has no C lowering), so every parameter's Adam update is compiled and the four
    updates form one class."""
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 3))
    opt = ember.optim.Adam(model.parameters(), lr=0.01)
    step = ember.jit(train_step(model, F.cross_entropy, opt))
    batch = (ember.randn(8, 6), ember.randint(0, 3, (8,)))
    for _ in range(3):
        step(batch)
    executor = step._last.executor
    nodes = executor.graph.nodes
    assert any(n.prim.__name__ == "Copy" for n in nodes)
    updates = [
        k
        for k, g in enumerate(executor.groups)
        if g.shape != () and any(nodes[i].prim.__name__ == "Sqrt" for i in g.nodes)
    ]
    assert len(updates) == 4 and all(executor.native[k] for k in updates)
    assert any(sorted(c.members) == updates for c in executor.classes)
