"""Module API: registration, traversal, state_dict, modes, hooks, conversion, repr, traps."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
import torch

import ember
from ember import nn


def _net(n: object) -> object:
    """The same small architecture in ember.nn or torch.nn."""

    class Block(n.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.conv = n.Conv2d(3, 4, 3, padding=1)
            self.bn = n.BatchNorm2d(4)
            self.register_buffer(
                "scale", n.Parameter(torch.ones(1)).data if n is torch.nn else ember.ones(1)
            )
            self.register_buffer(
                "tmp", torch.zeros(2) if n is torch.nn else ember.zeros(2), persistent=False
            )
            self.head = n.Sequential(n.Flatten(), n.Linear(4 * 2 * 2, 5), n.ReLU(), n.Dropout(0.1))
            self.extra = n.Parameter(torch.zeros(2) if n is torch.nn else ember.zeros(2))

        def forward(self, x: object) -> object:
            return self.head(self.bn(self.conv(x)))

    return Block()


def test_named_parameters_buffers_and_state_dict_order_match_torch() -> None:
    em, tm = _net(nn), _net(torch.nn)
    assert [k for k, _ in em.named_parameters()] == [k for k, _ in tm.named_parameters()]
    assert [k for k, _ in em.named_buffers()] == [k for k, _ in tm.named_buffers()]
    assert list(em.state_dict()) == list(tm.state_dict())
    assert [k for k, _ in em.named_modules()] == [k for k, _ in tm.named_modules()]
    assert [k for k, _ in em.named_children()] == [k for k, _ in tm.named_children()]
    assert [k for k, _ in em.named_parameters(prefix="m", recurse=False)] == ["m.extra"]
    assert len(list(em.parameters())) == 7 and len(list(em.buffers())) == 5
    assert len(list(em.modules())) == 8


def test_reassignment_keeps_the_place_in_registration_order_like_torch() -> None:
    """Replacing a submodule, parameter or buffer must not move it to the end of state_dict."""

    def reassign(n: object, lib: object) -> object:
        m = _net(n)
        m.conv = n.Conv2d(3, 4, 3, padding=1)
        m.extra = n.Parameter(lib.ones(2))
        m.scale = lib.zeros(1)  # a plain tensor assigned to a registered buffer
        m.head[1] = n.Linear(4 * 2 * 2, 5)
        m.bn.weight = n.Parameter(lib.ones(4))
        return m

    em, tm = reassign(nn, ember), reassign(torch.nn, torch)
    assert list(em.state_dict()) == list(tm.state_dict())
    assert [k for k, _ in em.named_children()] == [k for k, _ in tm.named_children()]
    assert [k for k, _ in em.named_parameters()] == [k for k, _ in tm.named_parameters()]
    assert [k for k, _ in em.named_buffers()] == [k for k, _ in tm.named_buffers()]


def test_shared_parameters_are_listed_once() -> None:
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_repr_matches_torch() -> None:
    def build(n: object) -> object:
        return n.Sequential(
            n.Conv2d(3, 8, 3, padding=1, bias=False, padding_mode="reflect"),
            n.BatchNorm2d(8),
            n.ModuleList([n.Linear(2, 2), n.Linear(2, 2), n.ReLU()]),
            n.ModuleDict({"act": n.GELU(approximate="tanh"), "drop": n.Dropout(0.2)}),
            n.Sequential(n.Embedding(10, 3, padding_idx=0), n.LayerNorm(3), n.GroupNorm(1, 3)),
            n.MaxPool2d(2), n.AvgPool1d(3), n.AdaptiveAvgPool2d((1, 1)),
            n.Upsample(scale_factor=2), n.Upsample(size=(3, 4), mode="bilinear"),
            n.ConvTranspose2d(3, 4, 3, stride=2, output_padding=1), n.PReLU(), n.Softplus(),
            n.LeakyReLU(), n.ELU(), n.Hardtanh(), n.ReLU6(), n.Softmax(dim=1), n.Identity(),
            n.Flatten(), n.Unflatten(1, (2, 2)), n.Bilinear(2, 3, 4), n.ReLU(inplace=True),
        )  # fmt: skip

    assert repr(build(nn)) == repr(build(torch.nn)).replace("torch.", "ember.")


def test_module_attribute_errors_and_delete() -> None:
    lin = nn.Linear(2, 3)
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'weight'"):
        lin.weight = ember.ones(3, 2)
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nope'"):
        _ = lin.nope
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        lin.register_buffer("weight", ember.ones(1))
    with pytest.raises(KeyError, match="be empty or contain"):
        lin.register_parameter("a.b", None)
    del lin.bias
    assert [k for k, _ in lin.named_parameters()] == ["weight"]
    lin.bias = nn.Parameter(ember.zeros(3))
    assert [k for k, _ in lin.named_parameters()] == ["weight", "bias"]


def test_plain_list_of_modules_warns() -> None:
    class Bad(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = [nn.Linear(2, 2)]

    with pytest.warns(UserWarning, match=r"Bad\.layers.*\n.*use ember\.nn\.ModuleList"):
        Bad()
    m = nn.Module()
    with pytest.warns(UserWarning, match=r"(?s)Module\.blocks.*use ember\.nn\.ModuleDict"):
        m.blocks = {"a": nn.ReLU()}
    m.numbers = [1, 2, 3]  # no warning for ordinary lists


def test_state_dict_round_trip_and_load_errors() -> None:
    a, b = _net(nn), _net(nn)
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (k, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        np.testing.assert_array_equal(p.numpy(), q.numpy(), err_msg=k)
    sd = a.state_dict()
    assert not sd["conv.weight"].requires_grad  # detached, sharing memory
    state = dict(sd)
    del state["conv.bias"]
    state["junk"] = ember.ones(1)
    with pytest.raises(RuntimeError, match='Unexpected key\\(s\\) in state_dict: "junk"') as err:
        b.load_state_dict(state)
    assert 'Missing key(s) in state_dict: "conv.bias"' in str(err.value)
    keys = b.load_state_dict(state, strict=False)
    assert keys.missing_keys == ["conv.bias"] and keys.unexpected_keys == ["junk"]
    state = dict(sd)
    state["head.1.weight"] = ember.ones(3, 16)
    with pytest.raises(RuntimeError, match=r"size mismatch for head\.1\.weight: copying a param "
                       r"with shape ember\.Size\(\[3, 16\]\) from checkpoint, the shape in current "
                       r"model is ember\.Size\(\[5, 16\]\)"):  # fmt: skip
        b.load_state_dict(state, strict=False)


def test_load_state_dict_keeps_parameter_identity_and_assign() -> None:
    lin = nn.Linear(2, 2)
    w = lin.weight
    lin.load_state_dict({"weight": ember.ones(2, 2), "bias": ember.zeros(2)})
    assert lin.weight is w and w.tolist() == [[1.0, 1.0], [1.0, 1.0]]
    lin.load_state_dict({"weight": ember.full((2, 2), 2.0), "bias": ember.zeros(2)}, assign=True)
    assert lin.weight is not w and isinstance(lin.weight, nn.Parameter)
    assert lin.weight.requires_grad and lin.weight.tolist() == [[2.0, 2.0], [2.0, 2.0]]


def test_train_eval_zero_grad_requires_grad_apply() -> None:
    net = _net(nn)
    assert net.training and net.head[3].training
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    out = net(ember.randn(2, 3, 2, 2))
    out.sum().backward()
    assert net.conv.weight.grad is not None
    net.zero_grad(set_to_none=False)
    assert net.conv.weight.grad is not None and not net.conv.weight.grad.numpy().any()
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Block" and seen.index("Linear") < seen.index("Sequential")


def test_to_double_float_keeps_parameter_identity() -> None:
    net = _net(nn)
    w = net.conv.weight
    assert net.double() is net
    assert net.conv.weight is w and w.dtype is ember.float64 and isinstance(w, nn.Parameter)
    assert net.bn.running_mean.dtype is ember.float64
    assert net.bn.num_batches_tracked.dtype is ember.int64
    net.to(ember.float32)
    assert w.dtype is ember.float32 and net.scale.dtype is ember.float32
    net.to("cpu", dtype=ember.float64)
    assert w.dtype is ember.float64
    net.float()
    assert w.dtype is ember.float32
    with pytest.raises(TypeError, match="only accepts floating point dtypes"):
        net.to(ember.int64)


def test_forward_hooks() -> None:
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(out) or out + 1)
    out = lin(ember.ones(1, 2))
    np.testing.assert_allclose(out.detach().numpy(), lin.bias.detach().numpy()[None] + 1)
    assert len(calls) == 1
    h1.remove(), h2.remove()
    np.testing.assert_allclose(
        lin(ember.ones(1, 2)).detach().numpy(), nn.functional.linear(ember.ones(1, 2), lin.weight,
        lin.bias).detach().numpy()
    )  # fmt: skip
    order = []
    lin.register_forward_hook(lambda *a: order.append("late"))
    lin.register_forward_hook(lambda *a: order.append("early"), prepend=True)
    lin(ember.ones(1, 2))
    assert order == ["early", "late"]
    with lin.register_forward_pre_hook(lambda m, a: order.append("ctx")):
        lin(ember.ones(1, 2))
    lin(ember.ones(1, 2))
    assert order.count("ctx") == 1


def test_get_submodule_and_parameter() -> None:
    net = _net(nn)
    assert net.get_submodule("head.1") is net.head[1]
    assert net.get_submodule("") is net
    assert net.get_parameter("head.1.bias") is net.head[1].bias
    assert net.get_buffer("bn.running_var") is net.bn.running_var
    with pytest.raises(AttributeError, match="has no submodule `nope`"):
        net.get_submodule("head.nope")
    with pytest.raises(AttributeError, match="has no parameter `gamma`"):
        net.get_parameter("bn.gamma")


def test_parameter_basics() -> None:
    data = ember.ones(2)
    p = nn.Parameter(data)
    assert isinstance(p, ember.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p) == "Parameter containing:\ntensor([1., 1.], requires_grad=True)"
    assert repr(p) == repr(torch.nn.Parameter(torch.ones(2)))
    assert not nn.Parameter(data, requires_grad=False).requires_grad
    p2 = copy.deepcopy(p)
    assert isinstance(p2, nn.Parameter) and p2.requires_grad and p2._data is not p._data
    p3 = pickle.loads(pickle.dumps(p))
    assert isinstance(p3, nn.Parameter) and p3.tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match="expected a Tensor"):
        nn.Parameter([1.0])


def test_deepcopy_and_pickle_of_module() -> None:
    net = _net(nn)
    clone = copy.deepcopy(net)
    assert clone.conv.weight is not net.conv.weight
    np.testing.assert_array_equal(
        clone.conv.weight.detach().numpy(), net.conv.weight.detach().numpy()
    )
    back = pickle.loads(pickle.dumps(nn.Sequential(nn.Linear(2, 2), nn.ReLU())))
    assert isinstance(back[0].weight, nn.Parameter)


def test_containers() -> None:
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and len(sub) == 2 and sub[0] is seq[1]
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and seq(ember.ones(4, 2)).shape == (4, 1)
    del seq[0]
    assert [k for k, _ in seq.named_children()] == ["0", "1", "2"]
    with pytest.raises(IndexError, match="index 5 is out of range"):
        seq[5]
    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml.append(nn.Linear(1, 1))
    ml += [nn.ReLU()]
    ml.insert(0, nn.Tanh())
    assert [type(m).__name__ for m in ml] == ["Tanh", "Linear", "Linear", "ReLU"]
    assert len(list(ml.parameters())) == 4 and isinstance(ml[1:], nn.ModuleList)
    md = nn.ModuleDict({"a": nn.Linear(1, 2)})
    md["b"] = nn.ReLU()
    assert list(md) == ["a", "b"] and "a" in md and len(md) == 2
    assert [k for k, _ in md.named_parameters()] == ["a.weight", "a.bias"]
    pl = nn.ParameterList([ember.zeros(2), nn.Parameter(ember.ones(3))])
    pl.append(ember.ones(1))
    assert len(pl) == 3 and all(isinstance(p, nn.Parameter) for p in pl)
    assert [k for k, _ in pl.named_parameters()] == ["0", "1", "2"]
    pd = nn.ParameterDict({"w": ember.ones(2)})
    pd["b"] = ember.zeros(1)
    assert list(pd.keys()) == ["w", "b"] and isinstance(pd["b"], nn.Parameter)
    assert [k for k, _ in pd.named_parameters()] == ["w", "b"]
    assert "(w): Parameter containing: [ember.float32 of size 2]" in repr(pd)


def test_missing_forward() -> None:
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        nn.Module()(ember.ones(1))
