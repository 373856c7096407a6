"""Creation functions against torch: dtype inference, memory sharing, shapes and values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember


def _same(e: ember.Tensor, t: torch.Tensor) -> None:
    assert str(e.dtype).replace("ember.", "") == str(t.dtype).replace("torch.", "")
    assert tuple(e.shape) == tuple(t.shape)
    np.testing.assert_array_equal(e.numpy(), t.numpy())


DATA = [
    1,
    2.5,
    True,
    [1, 2, 3],
    [1.0, 2, 3],
    [True, False],
    [[1, 2], [3, 4]],
    [],
    [[], []],
    np.array([1, 2], dtype=np.int32),
    np.array([1.5], dtype=np.float64),
    np.array([1.5], dtype=np.float16),
    np.array(7, dtype=np.int64),
    np.float32(2.0),
    np.int64(3),
    [np.float32(1.0), np.float32(2.0)],
]


@pytest.mark.parametrize("data", DATA, ids=lambda d: repr(d)[:30])
def test_tensor_infers_dtype_like_torch(data: object) -> None:
    _same(ember.tensor(data), torch.tensor(data))


@pytest.mark.parametrize("dtype", ["float64", "int32", "bool", "float16"])
def test_tensor_explicit_dtype(dtype: str) -> None:
    data = [[0, 1.5], [2, -3]]
    if dtype == "int32":
        data = [[0, 1], [2, -3]]
    _same(
        ember.tensor(data, dtype=getattr(ember, dtype)),
        torch.tensor(data, dtype=getattr(torch, dtype)),
    )


def test_tensor_copies_and_as_tensor_shares() -> None:
    a = np.arange(3.0)
    copied, shared = ember.tensor(a), ember.as_tensor(a)
    a[0] = 5.0
    assert copied[0].item() == 0.0 and shared[0].item() == 5.0
    t = ember.ones(2)
    assert ember.as_tensor(t) is t
    assert ember.as_tensor(a, dtype=ember.float32).dtype is ember.float32


def test_from_numpy_shares_memory_both_ways() -> None:
    a = np.zeros(3, dtype=np.int32)
    t = ember.from_numpy(a)
    a[1] = 7
    assert t.tolist() == [0, 7, 0] and t.dtype is ember.int32
    t.numpy()[2] = 9
    assert a[2] == 9
    with pytest.raises(TypeError, match="from_numpy: expected np.ndarray, got list"):
        ember.from_numpy([1, 2])
    with pytest.raises(TypeError, match="unsupported array dtype complex128"):
        ember.from_numpy(np.zeros(2, dtype=np.complex128))


def test_tensor_errors() -> None:
    with pytest.raises(ValueError, match="nested lists must be rectangular"):
        ember.tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="could not infer a dtype"):
        ember.tensor(["a"])
    with pytest.raises(RuntimeError, match="only Tensors of floating point dtype"):
        ember.tensor([1, 2], requires_grad=True)


SIZE_FNS = ["zeros", "ones", "empty"]


@pytest.mark.parametrize("fn", SIZE_FNS)
@pytest.mark.parametrize("dtype", [None, "float64", "int32", "bool"])
def test_size_functions(fn: str, dtype: str | None) -> None:
    kw_e = {} if dtype is None else {"dtype": getattr(ember, dtype)}
    kw_t = {} if dtype is None else {"dtype": getattr(torch, dtype)}
    for size in [(2, 3), ((2, 3),), ([4],), (0,)]:
        e, t = getattr(ember, fn)(*size, **kw_e), getattr(torch, fn)(*size, **kw_t)
        assert tuple(e.shape) == tuple(t.shape) and str(e.dtype)[6:] == str(t.dtype)[6:]
        if fn != "empty":
            _same(e, t)


def test_full_infers_dtype_from_fill_value() -> None:
    for value in [3, 1.5, True]:
        _same(ember.full((2, 2), value), torch.full((2, 2), value))
    _same(ember.full((2,), 3, dtype=ember.float64), torch.full((2,), 3, dtype=torch.float64))


def test_negative_size_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"negative dimension in size \[2, -1\]"):
        ember.zeros(2, -1)


@pytest.mark.parametrize(
    "args",
    [(5,), (2, 7), (1, 10, 3), (0.0, 1.0, 0.25), (1, 2.5, 0.5), (5, 0, -2), (0, 0), (-3.0, 3)],
)
def test_arange(args: tuple) -> None:
    _same(ember.arange(*args), torch.arange(*args))


def test_arange_errors() -> None:
    with pytest.raises(ValueError, match="arange: step must be nonzero"):
        ember.arange(0, 5, 0)
    with pytest.raises(ValueError, match="inconsistent with step sign"):
        ember.arange(0, 5, -1)


@pytest.mark.parametrize(
    "args",
    [(0, 1, 5), (-1, 1, 7), (-3.3, 7.1, 50), (1, 1, 1), (0, 1, 1), (0, 1, 0), (5, -5, 9)],
)
@pytest.mark.parametrize("dtype", [None, "float64", "float16", "int64"])
def test_linspace_is_bitwise_torch(args: tuple, dtype: str | None) -> None:
    kw_e = {} if dtype is None else {"dtype": getattr(ember, dtype)}
    kw_t = {} if dtype is None else {"dtype": getattr(torch, dtype)}
    _same(ember.linspace(*args, **kw_e), torch.linspace(*args, **kw_t))


def test_eye() -> None:
    _same(ember.eye(3), torch.eye(3))
    _same(ember.eye(2, 4), torch.eye(2, 4))
    _same(ember.eye(3, dtype=ember.int64), torch.eye(3, dtype=torch.int64))


@pytest.mark.parametrize("fn", ["zeros_like", "ones_like", "empty_like"])
def test_like_functions_keep_dtype_and_shape(fn: str) -> None:
    e_src = ember.tensor([[1, 2, 3]], dtype=ember.int32)
    t_src = torch.tensor([[1, 2, 3]], dtype=torch.int32)
    e, t = getattr(ember, fn)(e_src), getattr(torch, fn)(t_src)
    assert tuple(e.shape) == tuple(t.shape) and e.dtype is ember.int32
    if fn != "empty_like":
        _same(e, t)
    assert getattr(ember, fn)(e_src, dtype=ember.float64).dtype is ember.float64
    assert getattr(ember, fn)(ember.ones(2), requires_grad=True).requires_grad


def test_python_types_as_dtypes() -> None:
    for py in (float, int, bool):
        _same(ember.zeros(2, dtype=py), torch.zeros(2, dtype=py))


def test_full_like() -> None:
    _same(ember.full_like(ember.ones(2, 2), 7), torch.full_like(torch.ones(2, 2), 7))


def test_new_methods_inherit_dtype() -> None:
    x = ember.ones(2, dtype=ember.float64)
    assert x.new_zeros(3).dtype is ember.float64
    assert x.new_ones((2, 2)).shape == (2, 2)
    assert x.new_tensor([1, 2]).dtype is ember.float64
    assert x.new_full((2,), 4).tolist() == [4.0, 4.0]


def test_dlpack_round_trips_share_memory() -> None:
    t = torch.arange(4.0)
    e = ember.from_dlpack(t)
    t[0] = 9.0
    assert e.tolist() == [9.0, 1.0, 2.0, 3.0] and e.dtype is ember.float32
    e2 = ember.arange(3, dtype=ember.int32)
    t2 = torch.from_dlpack(e2)
    e2.numpy()[1] = 8
    assert t2.tolist() == [0, 8, 2] and t2.dtype == torch.int32
    a = np.from_dlpack(ember.arange(3.0))
    np.testing.assert_array_equal(a, [0.0, 1.0, 2.0])
    e3 = ember.from_dlpack(np.arange(2.0))
    assert e3.dtype is ember.float64 and e3.tolist() == [0.0, 1.0]


def test_tensor_from_torch_tensor_copies() -> None:
    t = torch.tensor([1.0, 2.0])
    e = ember.tensor(t)
    t[0] = 5.0
    assert e.tolist() == [1.0, 2.0] and e.dtype is ember.float32


def test_tensor_constructor_class() -> None:
    e = ember.Tensor([1.0, 2.0], requires_grad=True)
    assert e.requires_grad and e.dtype is ember.float32 and e.is_leaf


def test_from_numpy_of_a_memmap_slice_shares_memory_like_torch(tmp_path) -> None:
    """np.memmap (an ndarray subclass) was taken for a CuPy array; torch accepts it."""
    mm = np.memmap(tmp_path / "data.bin", dtype=np.float32, mode="w+", shape=(4, 3))
    mm[:] = np.arange(12, dtype=np.float32).reshape(4, 3)
    e, t = ember.from_numpy(mm[1:3]), torch.from_numpy(mm[1:3])
    np.testing.assert_array_equal((e * 2).numpy(), (t * 2).numpy())
    e[0, 0] = 100.0
    assert mm[1, 0] == 100.0 == t[0, 0].item()
    assert ember.as_tensor(mm).device.type == "cpu" and (ember.as_tensor(mm) + 1).shape == (4, 3)


CREATION_CALLS = {
    "logspace": lambda lib: lib.logspace(0, 2, 5, dtype=lib.float64),
    "logspace_base": lambda lib: lib.logspace(-1, 1, 3, base=2.0, dtype=lib.float64),
    "scalar_tensor": lambda lib: lib.scalar_tensor(3),
    "as_tensor": lambda lib: lib.as_tensor([1, 2], dtype=lib.float64),
    "asarray": lambda lib: lib.asarray([[1.5, 2.0]]),
    "tril_indices": lambda lib: lib.tril_indices(3, 4, 1),
    "triu_indices": lambda lib: lib.triu_indices(4, 3, -1),
    "concatenate": lambda lib: lib.concatenate([lib.ones(2), lib.zeros(1)]),
    "equal": lambda lib: lib.tensor(lib.equal(lib.ones(2), lib.ones(2))),
}


@pytest.mark.parametrize("name", CREATION_CALLS)
def test_more_creation_functions_match_torch(name: str) -> None:
    _same(CREATION_CALLS[name](ember), CREATION_CALLS[name](torch))


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid_matches_torch(indexing: str) -> None:
    e = ember.meshgrid(ember.arange(3), ember.arange(2), ember.arange(4), indexing=indexing)
    t = torch.meshgrid(torch.arange(3), torch.arange(2), torch.arange(4), indexing=indexing)
    for a, b in zip(e, t, strict=True):
        _same(a, b)


def test_global_settings_match_torch() -> None:
    assert str(ember.get_default_dtype()) == str(torch.get_default_dtype()).replace(
        "torch", "ember"
    )
    assert ember.is_grad_enabled() == torch.is_grad_enabled()
    assert ember.is_tensor(ember.ones(1)) and torch.is_tensor(torch.ones(1))
    assert isinstance(ember.get_num_threads(), int) and isinstance(torch.get_num_threads(), int)
    n = torch.get_num_threads()
    ember.set_num_threads(1)
    torch.set_num_threads(1)
    assert ember.get_num_threads() == 1 == torch.get_num_threads()
    torch.set_num_threads(n)
