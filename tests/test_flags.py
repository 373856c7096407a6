"""Process-wide switches and small Tensor utilities vs torch's CPU build: print options
(compared as repr text), deterministic algorithms, matmul precision, anomaly and inference
mode, the default device, type names, casting rules and the elementwise callbacks."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import pytest
import torch

import ember


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    for lib in (ember, torch):
        lib.set_printoptions(profile="default")
        lib.use_deterministic_algorithms(False)
        lib.set_anomaly_enabled(False)
        lib.set_warn_always(False)
        lib.set_default_device(None)
    ember.set_float32_matmul_precision("highest")
    torch.set_float32_matmul_precision("highest")


def _same_repr(make: object, **options: object) -> None:
    """Both libraries print ``make(lib)`` identically under ``set_printoptions(**options)``."""
    for lib in (ember, torch):
        lib.set_printoptions(**options)
    ours, theirs = repr(make(ember)), repr(make(torch))  # type: ignore[operator]
    assert ours == theirs.replace("torch.", "ember.")


PRINTED = [
    lambda lib: lib.arange(12.0).reshape(3, 4) / 7,
    lambda lib: lib.arange(2000.0).reshape(40, 50) / 3,
    lambda lib: lib.tensor([1e-6, 2.5, 3e5]),
    lambda lib: lib.tensor([1.0, 2.0, 300.0]),
    lambda lib: lib.arange(30),
]
OPTIONS = [
    dict(precision=2),
    dict(precision=6),
    dict(threshold=5),
    dict(threshold=5, edgeitems=1),
    dict(linewidth=30),
    dict(sci_mode=True),
    dict(sci_mode=False),
    dict(profile="short"),
    dict(profile="full"),
    dict(profile="short", precision=5),
]


@pytest.mark.parametrize("options", OPTIONS, ids=[str(o) for o in OPTIONS])
@pytest.mark.parametrize("index", range(len(PRINTED)))
def test_printoptions_change_the_repr_as_torch(options: dict, index: int) -> None:
    _same_repr(PRINTED[index], **options)


def test_printoptions_persist_until_changed_and_profile_resets() -> None:
    ember.set_printoptions(precision=1)
    assert repr(ember.tensor([1.25])) == "tensor([1.2])"
    ember.set_printoptions(threshold=3)  # precision stays
    assert repr(ember.tensor([1.25])) == "tensor([1.2])"
    ember.set_printoptions(profile="default")
    assert repr(ember.tensor([1.25])) == "tensor([1.2500])"
    with pytest.raises(ValueError, match="profile must be one of"):
        ember.set_printoptions(profile="long")


def test_deterministic_flags_and_debug_mode() -> None:
    modes = [("warn", (True, True, 1)), (2, (True, False, 2)), ("default", (False, False, 0))]
    for mode, expected in modes:
        for lib in (ember, torch):
            lib.set_deterministic_debug_mode(mode)
            got = (
                lib.are_deterministic_algorithms_enabled(),
                lib.is_deterministic_algorithms_warn_only_enabled(),
                lib.get_deterministic_debug_mode(),
            )
            assert got == expected
    bad_modes = [
        (3, RuntimeError, "expected 0, 1, or 2"),
        ("x", RuntimeError, "`default`, `warn`, `error`"),
        (1.5, TypeError, "must be str or int"),
    ]
    for bad, error, match in bad_modes:
        for lib in (ember, torch):
            with pytest.raises(error, match=match):
                lib.set_deterministic_debug_mode(bad)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "bool"])
def test_deterministic_mode_fills_uninitialised_memory_as_torch(dtype: str) -> None:
    for lib in (ember, torch):
        lib.use_deterministic_algorithms(True)
    e, t = (
        ember.empty(2, 3, dtype=getattr(ember, dtype)),
        torch.empty(2, 3, dtype=getattr(torch, dtype)),
    )
    np.testing.assert_array_equal(e.numpy(), t.numpy())
    like_e, like_t = ember.empty_like(e), torch.empty_like(t)
    np.testing.assert_array_equal(like_e.numpy(), like_t.numpy())
    ember.use_deterministic_algorithms(False)
    assert (ember.empty(3).numpy() == 0).all()


def test_float32_matmul_precision_is_the_tf32_switch() -> None:
    for lib in (ember, torch):
        assert lib.get_float32_matmul_precision() == "highest"
        lib.set_float32_matmul_precision("medium")
        assert lib.get_float32_matmul_precision() == "medium"
        with pytest.warns(UserWarning, match="is not one of 'highest', 'high', or 'medium'"):
            lib.set_float32_matmul_precision("low")
        assert lib.get_float32_matmul_precision() == "medium"
        lib.set_float32_matmul_precision("highest")
    # torch refuses to read the precision back once the legacy flag was set: ember follows it
    ember.set_float32_matmul_precision("high")
    assert ember.backends.cuda.matmul.allow_tf32 is True
    ember.backends.cuda.matmul.allow_tf32 = False
    assert ember.get_float32_matmul_precision() == "highest"


def test_anomaly_switches_match_torch() -> None:
    for lib in (ember, torch):
        assert not lib.is_anomaly_enabled() and lib.is_anomaly_check_nan_enabled()
        lib.set_anomaly_enabled(True, check_nan=False)
        assert lib.is_anomaly_enabled() and not lib.is_anomaly_check_nan_enabled()
        with pytest.warns(UserWarning) if lib is torch else warnings.catch_warnings():
            context = lib.autograd.detect_anomaly()
        with context:
            assert lib.is_anomaly_enabled() and lib.is_anomaly_check_nan_enabled()
        assert lib.is_anomaly_enabled() and not lib.is_anomaly_check_nan_enabled()
        lib.set_anomaly_enabled(False)
        assert not lib.is_anomaly_enabled()


@pytest.mark.parametrize("check_nan", [True, False])
def test_anomaly_check_nan_decides_whether_a_nan_gradient_fails(check_nan: bool) -> None:
    for lib in (ember, torch):
        x = lib.tensor([0.0, 1.0], requires_grad=True)
        lib.set_anomaly_enabled(True, check_nan)
        y = (x.sqrt() * 0.0).sum()  # sqrt's backward at 0 gives inf * 0 = nan
        if check_nan:
            with pytest.raises(RuntimeError, match="returned nan values in its 0th output"):
                y.backward()
        else:
            y.backward()
            assert np.isnan(x.grad.numpy()[0])
        lib.set_anomaly_enabled(False)


def test_inference_mode_is_reported() -> None:
    for lib in (ember, torch):
        assert not lib.is_inference_mode_enabled()
        with lib.inference_mode():
            assert lib.is_inference_mode_enabled()
            with lib.inference_mode(False):
                assert not lib.is_inference_mode_enabled()
        assert not lib.is_inference_mode_enabled()

        @lib.inference_mode()
        def inside() -> bool:
            return lib.is_inference_mode_enabled()

        assert inside() and not lib.is_inference_mode_enabled()


def test_default_device() -> None:
    for lib in (ember, torch):
        assert str(lib.get_default_device()) == "cpu"
        lib.set_default_device("cpu")
        assert lib.zeros(2).device.type == "cpu"
        lib.set_default_device(None)
        assert str(lib.get_default_device()) == "cpu"


@pytest.mark.skipif(ember.cuda.is_available(), reason="checks the CPU-only behaviour")
def test_default_cuda_device_without_a_gpu_fails_clearly() -> None:
    with pytest.raises(RuntimeError, match="no CUDA device is available"):
        ember.set_default_device("cuda")
    assert str(ember.get_default_device()) == "cpu"


@pytest.mark.skipif(not ember.cuda.is_available(), reason="needs a GPU")
def test_default_cuda_device_places_new_tensors() -> None:
    ember.set_default_device("cuda")
    assert ember.zeros(2).is_cuda and ember.randn(2).is_cuda and ember.arange(3).is_cuda
    assert ember.get_default_device().type == "cuda"


def test_thread_and_denormal_settings() -> None:
    assert ember.get_num_interop_threads() == 1
    ember.set_num_interop_threads(1)
    torch.init_num_threads()
    ember.init_num_threads()
    with pytest.raises(RuntimeError, match="1 inter-op thread"):
        ember.set_num_interop_threads(4)
    assert isinstance(torch.set_flush_denormal(False), bool)
    assert ember.set_flush_denormal(True) is False  # not settable from ember: reported


def test_warn_always_repeats_the_jit_retracing_warning() -> None:
    for lib in (ember, torch):
        assert not lib.is_warn_always_enabled()
        lib.set_warn_always(True)
        assert lib.is_warn_always_enabled()
    f = ember.jit(lambda x, k: x * k)
    x = ember.ones(2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for k in range(12):
            f(x, float(k))
    retraced = [w for w in caught if "was traced" in str(w.message)]
    assert len(retraced) > 1  # once without warn_always


def test_type_names_devices_and_layout() -> None:
    for dtype in ("float32", "float64", "int64", "int8", "uint8", "bool", "bfloat16", "float16"):
        e, t = (
            ember.ones(2, dtype=getattr(ember, dtype)),
            torch.ones(2, dtype=getattr(torch, dtype)),
        )
        assert ember.typename(e) == torch.typename(t).replace("torch.", "ember.")
    assert ember.typename(3) == torch.typename(3) == "int"
    linear = ember.typename(ember.nn.Linear(2, 2))
    assert linear.startswith("ember.nn.") and linear.endswith(".Linear")
    e, t = ember.ones(2), torch.ones(2)
    assert ember.get_device(e) == torch.get_device(t) == e.get_device() == t.get_device() == -1
    assert ember.is_storage(e) is torch.is_storage(t) is False
    assert e.layout is ember.strided and t.layout is torch.strided
    assert e.char().dtype is ember.int8 and t.char().dtype is torch.int8
    assert e.to_dense() is e and t.to_dense() is t
    assert e.to_dense(ember.float64).dtype is ember.float64
    assert t.to_dense(torch.float64).dtype is torch.float64


DTYPES = "bool uint8 int8 int16 int32 int64 float16 bfloat16 float32 float64".split()


@pytest.mark.parametrize("src", DTYPES)
def test_can_cast_matches_torch(src: str) -> None:
    for dst in DTYPES:
        ours = ember.can_cast(getattr(ember, src), getattr(ember, dst))
        assert ours == torch.can_cast(getattr(torch, src), getattr(torch, dst)), (src, dst)
    with pytest.raises(TypeError, match="argument 'from_' \\(position 1\\) must be"):
        torch.can_cast(1, torch.float32)
    with pytest.raises(TypeError, match="argument 'from_' \\(position 1\\) must be"):
        ember.can_cast(1, ember.float32)


def test_pinning_needs_a_gpu_as_in_torch_cpu_builds() -> None:
    e, t = ember.ones(2), torch.ones(2)
    assert e.is_pinned() is t.is_pinned() is False
    if not ember.cuda.is_available():
        with pytest.raises(RuntimeError, match="Cannot access accelerator device"):
            t.pin_memory()
        with pytest.raises(RuntimeError, match="Cannot access accelerator device"):
            e.pin_memory()
    else:
        pinned = e.pin_memory()
        assert pinned.is_pinned() and np.array_equal(pinned.numpy(), e.numpy())


def test_output_nr_and_dim_order() -> None:
    for lib in (ember, torch):
        x = lib.ones(3, 4, requires_grad=True)
        assert x.output_nr == 0 and (x * 2).output_nr == 0
        a = lib.arange(24.0).reshape(2, 3, 4)
        assert a.dim_order() == (0, 1, 2)
        assert a.permute(2, 0, 1).dim_order() == (1, 2, 0)
        assert a.transpose(0, 2).dim_order() == (2, 1, 0)
        with pytest.raises(RuntimeError, match="does not have unique dim order"):
            lib.ones(2, 1, 3).dim_order(ambiguity_check=True)


def test_apply_map_and_map2() -> None:
    for lib in (ember, torch):
        y = lib.arange(4.0)
        assert y.apply_(lambda v: v * v + 1) is y
        np.testing.assert_array_equal(y.numpy(), [1.0, 2.0, 5.0, 10.0])
        y.map_(lib.tensor([10.0]), lambda a, b: a + b)  # broadcast
        np.testing.assert_array_equal(y.numpy(), [11.0, 12.0, 15.0, 20.0])
        y.map2_(lib.ones(4), lib.full((4,), 2.0), lambda a, b, c: a - b * c)
        np.testing.assert_array_equal(y.numpy(), [9.0, 10.0, 13.0, 18.0])
        ints = lib.tensor([1, 2])
        ints.apply_(lambda v: v * 2.7)  # cast back to the tensor's dtype
        np.testing.assert_array_equal(ints.numpy(), [2, 5])
        with pytest.raises(
            RuntimeError, match="Can't call apply_\\(\\) on Variable that requires grad"
        ):
            lib.ones(2, requires_grad=True).apply_(lambda v: v)
        with pytest.raises(
            RuntimeError, match="Can't call map_\\(\\) on Variable that requires grad"
        ):
            lib.ones(2, requires_grad=True).map_(lib.ones(2), lambda a, b: a)
        with pytest.raises(TypeError, match="map_: expected"):
            lib.ones(2, dtype=lib.int64).map_(lib.ones(2), lambda a, b: a)


def test_new_empty_strided() -> None:
    for lib in (ember, torch):
        base = lib.ones(2, dtype=lib.float64)
        out = base.new_empty_strided((2, 3), (1, 2))
        assert out.stride() == (1, 2) and tuple(out.shape) == (2, 3)
        assert out.dtype is lib.float64
        assert base.new_empty_strided((4,), (1,), dtype=lib.int32).dtype is lib.int32
        assert base.new_empty_strided((2, 0), (1, 1)).numel() == 0
