"""The guard key reuses its walk of a module tree until a module changes (``ember.structure``):
every way of changing a tree's modes, children or parameters must still reach the compiled
call, which then agrees with eager mode."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember import structure


def _model() -> nn.Sequential:
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 6), nn.Dropout(0.5), nn.Linear(6, 3))


def _x() -> ember.Tensor:
    return ember.tensor(np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32))


def _agree(model: nn.Module, compiled, x: ember.Tensor) -> None:
    with ember.no_grad():
        got = compiled(x).numpy()
        want = model(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _edits() -> list:
    def eval_mode(m):
        m.eval()

    def child_through_dict(m):
        m._modules["2"] = nn.Linear(6, 3)

    def child_through_attribute(m):
        setattr(m, "2", nn.Linear(6, 3))

    def appended(m):
        m.append(nn.Tanh())

    def deleted(m):
        del m[1]

    def parameter_registered(m):
        m[0].register_parameter("bias", nn.Parameter(ember.ones(6)))

    def parameter_replaced(m):
        m[0].weight = nn.Parameter(ember.zeros(6, 4))

    def parameter_dropped(m):
        m[0].bias = None

    def parameter_updated(m):
        m[2]._parameters.update(bias=nn.Parameter(ember.zeros(3)))

    def nested_mode(m):
        m[1].training = False

    return [
        eval_mode,
        child_through_dict,
        child_through_attribute,
        appended,
        deleted,
        parameter_registered,
        parameter_replaced,
        parameter_dropped,
        parameter_updated,
        nested_mode,
    ]


@pytest.mark.parametrize("edit", _edits(), ids=lambda f: f.__name__)
def test_an_edit_of_the_tree_reaches_the_compiled_call(edit) -> None:
    model, x = _model(), _x()
    model.train(edit.__name__ in ("eval_mode", "nested_mode"))  # they switch dropout off
    compiled = ember.jit(lambda t: model(t))
    with ember.no_grad():
        compiled(x)
    edit(model)
    _agree(model, compiled, x)


def test_every_registry_edit_counts() -> None:
    registry = structure.Registry(a=1)
    edits = [
        lambda r: r.__setitem__("b", 2),
        lambda r: r.__delitem__("b"),
        lambda r: r.update(c=3),
        lambda r: r.setdefault("d", 4),
        lambda r: r.pop("d"),
        lambda r: r.popitem(),
        lambda r: r.__ior__({"e": 5}),
        lambda r: r.clear(),
    ]
    for edit in edits:
        before = structure.version()
        edit(registry)
        assert structure.version() > before


def test_a_pickled_module_keeps_counting_its_edits() -> None:
    model = _model()
    saved = pickle.dumps(model)
    assert b"Registry" not in saved  # plain dictionaries in the file
    copy = pickle.loads(saved)
    assert type(copy._modules) is structure.Registry
    assert type(copy[0]._parameters) is structure.Registry
    before = structure.version()
    copy._modules["3"] = nn.ReLU()
    assert structure.version() > before
