"""Tensor handle: metadata, conversions, printing (vs torch's repr), pickling and copying."""

from __future__ import annotations

import copy
import pickle
import re

import numpy as np
import pytest
import torch

import ember


def _torch_repr(t: torch.Tensor) -> str:
    # ember's node names carry no overload number (MulBackward, not MulBackward0)
    return re.sub(r"Backward\d+>", "Backward>", repr(t).replace("torch.", "ember."))


REPR_DATA = [
    [1.5, 2.0, -3.25],
    [1, 2, 3],
    [[1, -20], [300, 4]],
    [True, False],
    3.0,
    -5,
    True,
    [[1.0, 2.0], [30.5, 4.0]],
    [1e-5, 2.0],
    [1e10, 1.0],
    [0.1, 100.0],
    [0.1, 1000.0],
    [float("nan"), 1.0, float("inf"), -float("inf")],
    [0.0, 0.0],
    [0.0, float("nan")],
    [[[1.25, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]],
    list(range(30)),
    [x / 7 for x in range(25)],
    [123456789.0, 1.0],
]


@pytest.mark.parametrize("data", REPR_DATA, ids=lambda d: repr(d)[:25])
def test_repr_matches_torch(data: object) -> None:
    assert repr(ember.tensor(data)) == _torch_repr(torch.tensor(data))


@pytest.mark.parametrize("dtype", ["float64", "float16", "int32", "int8", "uint8", "int64"])
def test_repr_names_non_default_dtypes(dtype: str) -> None:
    data = [[1, 2], [3, 4]]
    e = ember.tensor(data, dtype=getattr(ember, dtype))
    assert repr(e) == _torch_repr(torch.tensor(data, dtype=getattr(torch, dtype)))


@pytest.mark.parametrize(
    "make",
    [
        lambda m: m.zeros(0),
        lambda m: m.zeros(2, 0),
        lambda m: m.zeros(0, dtype=m.int64),
        lambda m: m.zeros(0, 3, dtype=m.float64),
        lambda m: m.arange(2000.0),
        lambda m: m.arange(2000),
        lambda m: m.arange(3000.0).reshape(30, 100) / 3,
        lambda m: m.ones(1100, dtype=m.bool),
        lambda m: m.arange(40.0).reshape(2, 4, 5) * 1.5,
    ],
)
def test_repr_empty_and_large(make) -> None:
    assert repr(make(ember)) == _torch_repr(make(torch))


def test_repr_autograd_suffixes() -> None:
    e = ember.tensor([1.0, 2.0], requires_grad=True)
    t = torch.tensor([1.0, 2.0], requires_grad=True)
    assert repr(e) == _torch_repr(t)
    assert repr(e * 2) == _torch_repr(t * 2)
    assert repr(e.sum()) == _torch_repr(t.sum())
    e64 = ember.tensor([1.0, 2.0], dtype=ember.float64, requires_grad=True)
    t64 = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    assert repr(e64) == _torch_repr(t64)
    long_e = ember.arange(20.0, dtype=ember.float64).requires_grad_() / 3
    long_t = torch.arange(20.0, dtype=torch.float64).requires_grad_() / 3
    assert repr(long_e) == _torch_repr(long_t)
    assert str(e) == repr(e)


def test_metadata() -> None:
    x = ember.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and isinstance(x.shape, ember.Size)
    assert repr(x.shape) == "ember.Size([2, 3, 4])"
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.ndim == 3 and x.dim() == 3 and x.numel() == 24 and x.shape.numel() == 24
    assert x.dtype is ember.float32 and x.device == ember.device("cpu")
    assert str(x.device) == "cpu" and repr(x.device) == "device(type='cpu')"
    assert x.stride() == torch.zeros(2, 3, 4).stride() and x.is_contiguous()
    assert x.element_size() == 4 and x.nbytes == 96 and x.is_leaf and x.grad_fn is None
    with pytest.raises(IndexError, match=r"size: dimension out of range: 3 vs expected"):
        x.size(3)


def test_item_tolist_numpy() -> None:
    assert ember.tensor(3).item() == 3 and isinstance(ember.tensor(3).item(), int)
    assert ember.tensor([2.5]).item() == 2.5 and isinstance(ember.tensor(2.5).item(), float)
    assert ember.tensor(True).item() is True
    assert ember.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert ember.tensor(1.5).tolist() == 1.5
    with pytest.raises(RuntimeError, match="item: a Tensor with 2 elements cannot be converted"):
        ember.ones(2).item()
    x = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"numpy\(\) on a Tensor that requires grad"):
        x.numpy()
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(np.asarray(x), [1.0, 1.0])  # __array__
    assert np.asarray(ember.ones(2), dtype=np.float64).dtype == np.float64
    assert float(ember.tensor([2.0])) == 2.0 and int(ember.tensor(3.7)) == 3
    assert [10, 20, 30][ember.tensor(1)] == 20


def test_len_iteration_bool() -> None:
    x = ember.arange(6).reshape(3, 2)
    assert len(x) == 3
    rows = list(x)
    assert [r.tolist() for r in rows] == [[0, 1], [2, 3], [4, 5]]
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(ember.tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(ember.tensor(1.0))
    assert bool(ember.tensor([1])) and not bool(ember.tensor(0.0))
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with 2 elements is ambiguous"):
        bool(ember.ones(2))


@pytest.mark.parametrize(
    "method,dtype",
    [
        ("float", "float32"),
        ("double", "float64"),
        ("half", "float16"),
        ("long", "int64"),
        ("int", "int32"),
        ("short", "int16"),
        ("bool", "bool"),
        ("byte", "uint8"),
    ],
)
def test_conversion_methods(method: str, dtype: str) -> None:
    data = [0.0, 1.5, -2.0]
    e = getattr(ember.tensor(data), method)()
    t = getattr(torch.tensor(data), method)()
    assert e.dtype is getattr(ember, dtype) and e.tolist() == t.tolist()


def test_to_forms() -> None:
    x = ember.tensor([1, 2])
    assert x.to(ember.float64).dtype is ember.float64
    assert x.to("cpu") is x and x.to(ember.int64) is x
    assert x.to("cpu", ember.float16).dtype is ember.float16
    assert x.to(dtype=ember.float32, device="cpu").dtype is ember.float32
    assert x.to(ember.zeros(1, dtype=ember.int32)).dtype is ember.int32
    assert x.to(float).dtype is ember.float64 and x.to(int).dtype is ember.int64
    c = x.to(ember.int64, copy=True)
    assert c is not x and c.tolist() == x.tolist()
    assert x.type() == "ember.int64"
    with pytest.raises(TypeError, match=r"to: unexpected keyword arguments \['foo'\]"):
        x.to(foo=1)
    with pytest.raises(ValueError, match="device: unknown device type 'tpu'"):
        x.to("tpu")


def test_to_is_differentiable() -> None:
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    (x.double() * 3).sum().backward()
    assert x.grad.dtype is ember.float32 and x.grad.tolist() == [3.0, 3.0]


def test_pickle_and_deepcopy() -> None:
    x = ember.tensor([[1.0, 2.0]], requires_grad=True)
    x.grad = ember.ones(1, 2)
    y = pickle.loads(pickle.dumps(x))
    assert y.tolist() == x.tolist() and y.requires_grad and y.dtype is ember.float32
    z = copy.deepcopy(x)
    assert z.tolist() == x.tolist() and z.requires_grad and z.grad.tolist() == [[1.0, 1.0]]
    z.detach().numpy()[0, 0] = 9.0
    assert x[0, 0].item() == 1.0
    i = pickle.loads(pickle.dumps(ember.tensor([1, 2], dtype=ember.int32)))
    assert i.dtype is ember.int32 and i.tolist() == [1, 2]
    both = copy.deepcopy([x, x])
    assert both[0] is both[1]
    with pytest.raises(RuntimeError, match=r"deepcopy: only tensors created explicitly"):
        copy.deepcopy(x * 2)
    y = pickle.loads(pickle.dumps(x * 2))  # pickling a non-leaf keeps its values, like torch
    assert y.tolist() == [[2.0, 4.0]]


def test_data_property_shares_memory_and_detaches() -> None:
    x = ember.ones(2, requires_grad=True)
    d = x.data
    assert not d.requires_grad
    d.numpy()[0] = 5.0
    assert x[0].item() == 5.0
    x.data = ember.zeros(2)
    assert x.tolist() == [0.0, 0.0] and x.requires_grad
    with pytest.raises(TypeError, match="Tensor.data: expected a Tensor, got list"):
        x.data = [1.0]


@pytest.mark.parametrize("spec", [".4f", ">12", "e", "", "+.2%"])
def test_format_of_a_0d_tensor_formats_its_value_like_torch(spec: str) -> None:
    for value in (1.23456, -7.0):
        assert format(ember.tensor(value), spec) == format(torch.tensor(value), spec)
    assert f"{ember.tensor(3):d}" == f"{torch.tensor(3):d}" == "3"


def test_format_of_a_non_0d_tensor_needs_an_empty_spec_like_torch() -> None:
    x = np.array([1.5, 2.0])
    assert f"{ember.tensor(x)}" == str(ember.tensor(x))
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{torch.tensor(x):.4f}"
    with pytest.raises(TypeError, match="unsupported format string"):
        f"{ember.tensor(x):.4f}"


@pytest.mark.parametrize("method", ["softmax", "log_softmax"])
def test_softmax_methods_match_torch_with_gradients(method: str) -> None:
    a = np.random.default_rng(0).standard_normal((3, 4))
    e, t = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    eo, to = getattr(e, method)(0), getattr(t, method)(0)
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), rtol=1e-12)
    w = np.arange(12.0).reshape(3, 4)
    (eo * ember.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-10)
    as32 = getattr(e.detach(), method)(-1, dtype=ember.float32)
    assert as32.dtype is ember.float32


def test_type_as_and_flip_varargs_match_torch() -> None:
    a = np.arange(6.0).reshape(2, 3)
    e, t = ember.tensor(a), torch.tensor(a)
    assert ember.tensor([1, 2]).type_as(e).dtype is ember.float64
    assert torch.tensor([1, 2]).type_as(t).dtype is torch.float64
    assert e.type_as(e) is e
    for args, kwargs in [((0, 1), {}), (((0, 1),), {}), (([1],), {}), ((), {"dims": (0,)})]:
        np.testing.assert_array_equal(e.flip(*args, **kwargs).numpy(), t.flip(*args, **kwargs))


def _plain(v: object) -> object:
    """A value comparable across libraries: tensors as arrays, dtypes and devices by name."""
    if isinstance(v, (ember.Tensor, torch.Tensor)):
        return (str(v.dtype).split(".")[-1], np.asarray(v.detach()).tolist())
    if isinstance(v, (ember.dtype, torch.dtype)):
        return str(v).split(".")[-1]
    if isinstance(v, (ember.Size, torch.Size)):
        return tuple(v)
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


# one call per Tensor protocol or metadata accessor, made on equal tensors of both libraries
PROTOCOL_CALLS = {
    "__array__": lambda t, lib: np.asarray(t).tolist(),
    "__bool__": lambda t, lib: bool(t[0, 0]),
    "__index__": lambda t, lib: [10, 20, 30][t.long()[0, 1]],
    "__int__": lambda t, lib: int(t[1, 2]),
    "__len__": lambda t, lib: len(t),
    "__iter__": lambda t, lib: [r.sum().item() for r in t],
    "__dlpack__": lambda t, lib: np.from_dlpack(t).tolist(),
    "__dlpack_device__": lambda t, lib: tuple(int(v) for v in t.__dlpack_device__()),
    "dim": lambda t, lib: (t.dim(), t.ndim, t.ndimension()),
    "numel": lambda t, lib: (t.numel(), t.nelement()),
    "element_size": lambda t, lib: (t.element_size(), t.itemsize, t.nbytes),
    "is_contiguous": lambda t, lib: (t.is_contiguous(), t.t().is_contiguous()),
    "data_ptr": lambda t, lib: t[1:].data_ptr() - t.data_ptr(),
    "device": lambda t, lib: (t.device.type, t.cpu().device.type),
    "is_nested": lambda t, lib: t.is_nested,
    "autograd": lambda t, lib: (
        t.is_leaf,
        t.grad_fn is None,
        (t.double().requires_grad_() * 2).is_leaf,
        (t.double().requires_grad_() * 2).grad_fn is None,
    ),
    "retains_grad": lambda t, lib: (lambda y: (y.retains_grad, y.retain_grad(), y.retains_grad))(
        t.double().requires_grad_() * 2
    ),
    "detach_": lambda t, lib: (lambda y: (y.detach_().requires_grad, y.is_leaf))(
        t.double().requires_grad_() * 2
    ),
    "type": lambda t, lib: t.type(lib.float64),
    "bfloat16": lambda t, lib: t.bfloat16().float(),
    "view_as": lambda t, lib: t.view_as(t.reshape(3, 2)),
    "equal": lambda t, lib: (t.equal(t.clone()), t.equal(t + 1)),
    "where": lambda t, lib: t.where(t > 2, -t),
    "fill_": lambda t, lib: (t.clone().fill_(2.5), t.clone().zero_()),
    "new_zeros": lambda t, lib: (t.new_zeros(2, 3), t.new_zeros((1,), dtype=lib.int32)),
    "new_ones": lambda t, lib: (t.new_ones(3), t.new_ones((2, 2), dtype=lib.float64)),
    "new_full": lambda t, lib: (t.new_full((2,), 7), t.new_full((1, 2), 1.5)),
    "new_empty": lambda t, lib: (t.new_empty(2, 3).shape, t.new_empty((4,)).dtype),
    "new_tensor": lambda t, lib: (t.new_tensor([1, 2]), t.new_tensor([[0.5]])),
}


@pytest.mark.parametrize("name", PROTOCOL_CALLS)
def test_protocols_and_metadata_match_torch(name: str) -> None:
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    call = PROTOCOL_CALLS[name]
    assert _plain(call(ember.tensor(data), ember)) == _plain(call(torch.tensor(data), torch))
