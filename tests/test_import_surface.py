"""PyTorch's import surface on ember (``import ember as torch``), each path compared with what
the CPU build of torch does for the same call."""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

import ember

no_gpu = pytest.mark.skipif(ember.cuda.is_available(), reason="checks the CPU-only behaviour")


# -- ember.utils.data ---------------------------------------------------------------------------
def test_utils_data_reexports_ember_data() -> None:
    import ember.utils.data as data
    from ember.utils.data import DataLoader

    assert DataLoader is ember.data.DataLoader is ember.utils.data.DataLoader
    for name in data.__all__:
        assert hasattr(torch.utils.data, name), name
        if name != "get_worker_info":
            assert getattr(data, name) is getattr(ember.data, name)
    assert data.get_worker_info() is torch.utils.data.get_worker_info() is None


def test_utils_data_after_plain_import_in_fresh_process() -> None:
    code = "import ember; print(ember.utils.data.TensorDataset.__module__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ember.data.dataset"


def test_tensorboard_without_its_package_is_a_clear_import_error() -> None:
    code = (
        "import sys; sys.modules['tensorboard'] = None\n"
        "try:\n    import ember.utils.tensorboard\n"
        "except ImportError as exc:\n    print(exc)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'ember[tensorboard]'" in out.stdout


# -- module-level __getattr__ -------------------------------------------------------------------
def test_unknown_names_are_attribute_errors() -> None:
    assert hasattr(ember, "utils") and hasattr(torch, "utils")
    assert not hasattr(ember, "nope") and not hasattr(torch, "nope")
    with pytest.raises(AttributeError):
        ember.nope  # noqa: B018
    for ns in (ember.nn, ember.cuda, ember.backends, ember.distributed, ember.onnx, ember.utils):
        assert not hasattr(ns, "nope")


def test_lazy_names_resolve() -> None:
    assert callable(ember.compile)
    assert ember.autocast is ember.amp.autocast
    from ember import cuda  # the subpackage, through ember.__getattr__

    assert cuda is ember.cuda


# -- ember.nn.parallel --------------------------------------------------------------------------
def test_data_parallel_is_a_pass_through_like_torch() -> None:
    t_lin = torch.nn.Linear(2, 3)
    e_lin = ember.nn.Linear(2, 3)
    e_lin.load_state_dict(
        {k: ember.tensor(v.detach().numpy()) for k, v in t_lin.state_dict().items()}
    )
    t_dp, e_dp = torch.nn.DataParallel(t_lin), ember.nn.DataParallel(e_lin)
    assert e_dp.module is e_lin
    assert list(e_dp.state_dict()) == list(t_dp.state_dict()) == ["module.weight", "module.bias"]
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    np.testing.assert_allclose(
        e_dp(ember.tensor(x)).detach().numpy(), t_dp(torch.tensor(x)).detach().numpy(), atol=1e-5
    )
    assert ember.nn.parallel.DataParallel is ember.nn.DataParallel
    assert len(list(e_dp.parameters())) == 2


@no_gpu
def test_data_parallel_has_no_devices_without_cuda() -> None:
    assert ember.nn.DataParallel(ember.nn.Linear(1, 1)).device_ids == []
    assert torch.nn.DataParallel(torch.nn.Linear(1, 1)).device_ids == []


def test_distributed_data_parallel_needs_a_process_group_like_torch() -> None:
    with pytest.raises(RuntimeError, match="process group is not initialized"):
        ember.nn.parallel.DistributedDataParallel(ember.nn.Linear(1, 1))
    with pytest.raises((RuntimeError, ValueError)):
        torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(1, 1))
    assert issubclass(ember.nn.parallel.DistributedDataParallel, ember.nn.Module)


# -- ember.nn.modules ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "linear.Linear",
        "linear.Identity",
        "conv.Conv2d",
        "activation.ReLU",
        "activation.MultiheadAttention",
        "loss.CrossEntropyLoss",
        "batchnorm.BatchNorm2d",
        "dropout.Dropout",
        "rnn.LSTM",
        "module.Module",
        "container.Sequential",
        "pooling.MaxPool2d",
        "normalization.LayerNorm",
        "sparse.Embedding",
        "transformer.TransformerEncoderLayer",
        "transformer.Transformer",
        "transformer.TransformerDecoder",
        "flatten.Flatten",
        "upsampling.Upsample",
        "padding.ReflectionPad2d",
        "padding.ReplicationPad1d",
        "padding.ZeroPad3d",
        "padding.ConstantPad2d",
        "pixelshuffle.PixelShuffle",
        "pixelshuffle.PixelUnshuffle",
        "instancenorm.InstanceNorm1d",
        "instancenorm.InstanceNorm2d",
    ],
)
def test_nn_modules_paths_alias_the_real_classes(path: str) -> None:
    sub, name = path.split(".")
    module = importlib.import_module(f"ember.nn.modules.{sub}")
    assert getattr(module, name) is getattr(ember.nn, name)
    assert getattr(ember.nn.modules, name) is getattr(ember.nn, name)
    assert hasattr(importlib.import_module(f"torch.nn.modules.{sub}"), name)


def test_nn_modules_all_names_exist() -> None:
    for name in ember.nn.modules.__all__:
        assert hasattr(torch.nn.modules, name), name
        if hasattr(ember.nn, name):
            assert getattr(ember.nn.modules, name) is getattr(ember.nn, name), name


@pytest.mark.parametrize("sub", ["padding", "pixelshuffle", "instancenorm", "transformer"])
def test_nn_modules_submodule_names_live_where_torch_has_them(sub: str) -> None:
    ours = importlib.import_module(f"ember.nn.modules.{sub}")
    theirs = importlib.import_module(f"torch.nn.modules.{sub}")
    assert ours.__all__ and set(ours.__all__) <= set(theirs.__all__)
    assert set(ours.__all__) <= set(ember.nn.modules.__all__)


# -- top-level functions ------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_top_level_softmax_matches_torch(name: str) -> None:
    a = np.random.default_rng(0).standard_normal((2, 5))
    e, t = ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    eo, to = getattr(ember, name)(e, 1), getattr(torch, name)(t, 1)
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), rtol=1e-12)
    w = np.arange(10.0).reshape(2, 5)
    (eo * ember.tensor(w)).sum().backward()
    (to * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-10)
    as32 = getattr(ember, name)(e.detach(), dim=0, dtype=ember.float32)
    assert as32.dtype is ember.float32
    assert getattr(torch, name)(t.detach(), dim=0, dtype=torch.float32).dtype is torch.float32
    assert getattr(ember, name) is getattr(ember.Tensor, name)


# -- ember.backends -----------------------------------------------------------------------------
def test_backend_flags_match_torch_defaults() -> None:
    import ember.backends.cudnn as cudnn

    for name in ("enabled", "benchmark", "deterministic", "allow_tf32", "benchmark_limit"):
        assert getattr(cudnn, name) == getattr(torch.backends.cudnn, name), name
    matmul = ember.backends.cuda.matmul
    for name in ("allow_tf32", "allow_fp16_reduced_precision_reduction"):
        assert getattr(matmul, name) == getattr(torch.backends.cuda.matmul, name), name
    assert ember.backends.mps.is_available() is torch.backends.mps.is_available() is False
    assert ember.backends.mps.is_built() is False
    assert ember.backends.cudnn.is_available() is False
    assert ember.backends.cudnn.version() is None


def test_backend_flags_can_be_set() -> None:
    old = ember.backends.cudnn.benchmark
    try:
        ember.backends.cudnn.benchmark = True
        assert ember.backends.cudnn.benchmark is True
    finally:
        ember.backends.cudnn.benchmark = old
    ember.backends.cuda.matmul.allow_tf32 = False
    with pytest.raises(AttributeError):
        ember.backends.cuda.matmul.allow_tf33 = True


def test_array_backends_moved_to_ember_arrays() -> None:
    from ember.arrays import backend_of

    assert backend_of(np.zeros(1)).name == "cpu"
    assert not hasattr(ember.backends, "get_backend")


# -- ember.cuda ---------------------------------------------------------------------------------
@no_gpu
def test_cuda_on_a_cpu_only_machine_acts_like_cpu_torch() -> None:
    assert ember.cuda.is_available() is torch.cuda.is_available() is False
    assert ember.cuda.device_count() == torch.cuda.device_count() == 0
    for name in ("manual_seed", "manual_seed_all"):
        assert getattr(ember.cuda, name)(1) is getattr(torch.cuda, name)(1) is None
    assert ember.cuda.empty_cache() is torch.cuda.empty_cache() is None
    for name in ("current_device", "synchronize", "get_device_name"):
        with pytest.raises(AssertionError):
            getattr(torch.cuda, name)()
        with pytest.raises(AssertionError, match="no CUDA GPU"):
            getattr(ember.cuda, name)()


@no_gpu
def test_cuda_manual_seed_leaves_the_cpu_stream_alone_without_a_gpu() -> None:
    ember.manual_seed(0)
    a = ember.rand(3)
    ember.manual_seed(0)
    ember.cuda.manual_seed_all(123)
    np.testing.assert_array_equal(ember.rand(3).numpy(), a.numpy())


# -- ember.amp ----------------------------------------------------------------------------------
@no_gpu
def test_cuda_grad_scaler_disables_itself_like_torch() -> None:
    with pytest.warns(UserWarning, match="CUDA is not available.  Disabling"):
        e = ember.amp.GradScaler()
    with pytest.warns(UserWarning, match="CUDA is not available.  Disabling"):
        t = torch.amp.GradScaler()
    assert e.is_enabled() is t.is_enabled() is False
    assert e.get_scale() == t.get_scale() == 1.0
    assert e.state_dict() == t.state_dict() == {}
    loss = ember.tensor(2.0)
    assert e.scale(loss) is loss
    with pytest.warns(FutureWarning), pytest.warns(UserWarning, match="Disabling"):
        assert not ember.cuda.amp.GradScaler().is_enabled()


def _train(lib: object, scaler_grads: list[list[float]], **kwargs: object) -> tuple:
    """Steps with hand-set gradients (inf in one of them) through GradScaler("cpu")."""
    p = lib.nn.Parameter(lib.tensor([1.0, 2.0]))  # type: ignore[attr-defined]
    opt = lib.optim.SGD([p], lr=0.1)  # type: ignore[attr-defined]
    scaler = lib.amp.GradScaler("cpu", init_scale=4.0, growth_interval=2, **kwargs)  # type: ignore[attr-defined]
    scales = []
    for grads in scaler_grads:
        opt.zero_grad()
        loss = scaler.scale((p * lib.tensor(grads)).sum())  # type: ignore[attr-defined]
        loss.backward()
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
    return p.detach().numpy().tolist(), scales, scaler.state_dict()


def test_cpu_grad_scaler_matches_torch() -> None:
    grads = [[1.0, 1.0], [float("inf"), 1.0], [0.5, 2.0], [1.0, 1.0], [3.0, 1.0]]
    e_p, e_scales, e_state = _train(ember, grads)
    t_p, t_scales, t_state = _train(torch, grads)
    np.testing.assert_allclose(e_p, t_p, rtol=1e-6)
    assert e_scales == t_scales
    assert e_state == t_state


def test_grad_scaler_unscale_twice_raises_like_torch() -> None:
    for lib in (ember, torch):
        p = lib.nn.Parameter(lib.tensor([1.0]))
        opt = lib.optim.SGD([p], lr=0.1)
        scaler = lib.amp.GradScaler("cpu")
        scaler.scale(p.sum()).backward()
        scaler.unscale_(opt)
        assert float(p.grad[0]) == 1.0
        with pytest.raises(RuntimeError, match="already been called"):
            scaler.unscale_(opt)


@no_gpu
def test_cuda_autocast_disables_itself_like_torch() -> None:
    with pytest.warns(UserWarning, match="CUDA is not available. Disabling autocast"):
        ember.autocast("cuda")
    with pytest.warns(UserWarning, match="CUDA is not available"):
        torch.autocast("cuda")
    with pytest.warns(FutureWarning), pytest.warns(UserWarning, match="Disabling autocast"):
        with ember.cuda.amp.autocast():
            pass


# -- ember.accelerator, ember.distributed, ember.onnx -------------------------------------------
@no_gpu
def test_accelerator_without_cuda_acts_like_cpu_torch() -> None:
    for name in ("is_available", "current_accelerator", "device_count"):
        assert getattr(ember.accelerator, name)() == getattr(torch.accelerator, name)(), name
    for name in ("current_device_index", "synchronize", "empty_cache"):
        with pytest.raises(RuntimeError, match="none is available"):
            getattr(torch.accelerator, name)()
        with pytest.raises(RuntimeError, match="none is available"):
            getattr(ember.accelerator, name)()


def test_distributed_without_a_process_group_acts_like_torch() -> None:
    import ember.distributed as dist

    assert dist.is_initialized() is torch.distributed.is_initialized() is False
    for name in dist.__all__:
        assert hasattr(torch.distributed, name), name
    for module in (dist, torch.distributed):  # no process group: a ValueError in both
        with pytest.raises(ValueError, match="not been initialized|not initialized"):
            module.get_rank()


def test_onnx_outside_an_export() -> None:
    import ember.onnx

    assert ember.onnx.is_in_onnx_export() is torch.onnx.is_in_onnx_export() is False
    assert callable(ember.onnx.export)  # tested in tests/onnx


# -- ember.compile ------------------------------------------------------------------------------
def test_compile_module_keeps_torch_names_and_values() -> None:
    model = ember.nn.Linear(3, 2)
    compiled = ember.compile(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit, imported by dynamo
        t_compiled = torch.compile(torch.nn.Linear(3, 2))
    assert isinstance(compiled, ember.nn.Module)
    assert list(compiled.state_dict()) == list(t_compiled.state_dict())
    assert compiled._orig_mod is model and compiled.in_features == 3
    x = ember.randn(4, 3)
    with ember.no_grad():
        for _ in range(3):
            np.testing.assert_allclose(compiled(x).numpy(), model(x).numpy(), rtol=1e-6)
    assert compiled._call.traces == 1


def test_compile_function_as_decorator_and_with_arguments() -> None:
    @ember.compile
    def f(x: ember.Tensor) -> ember.Tensor:
        return (x * 2).sum()

    @ember.compile(fullgraph=True, mode="reduce-overhead")
    def g(x: ember.Tensor) -> ember.Tensor:
        return x + 1

    x = ember.ones(3)
    assert float(f(x)) == float(f(x)) == 6.0
    np.testing.assert_array_equal(g(x).numpy(), [2.0, 2.0, 2.0])
    assert ember.compile(f.fn, disable=True) is f.fn
    assert ember.compile(f.fn, backend="eager") is f.fn


def test_compile_rejects_what_torch_rejects() -> None:
    def f(x: object) -> object:
        return x

    for lib in (ember, torch):
        with pytest.raises(RuntimeError, match="Unrecognized mode"):
            lib.compile(f, mode="fastest")
        with pytest.raises(RuntimeError, match="Either mode or options"):
            lib.compile(f, mode="default", options={})
    with pytest.raises(ValueError, match="backend 'tvm' is not available"):
        ember.compile(f, backend="tvm")
    with pytest.warns(UserWarning, match="one graph per input shape"):
        ember.compile(f, dynamic=True)


def test_compiled_training_forward_runs_eagerly_with_a_warning() -> None:
    model = ember.compile(ember.nn.Linear(2, 1))
    with pytest.warns(UserWarning, match="running it eagerly"):
        loss = model(ember.ones(1, 2)).sum()
    loss.backward()
    assert model.weight.grad is not None


# -- Tensor device flags ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name", ["is_cpu", "is_cuda", "is_xpu", "is_mps", "is_meta", "is_sparse", "is_quantized"]
)
def test_tensor_device_flags_match_torch(name: str) -> None:
    assert getattr(ember.zeros(1), name) is getattr(torch.zeros(1), name)


def test_utils_data_submodules_hold_torchs_names() -> None:
    """minGPT and makemore import ``DataLoader`` from ``torch.utils.data.dataloader``."""
    import importlib

    for sub in ("dataloader", "dataset", "sampler", "distributed"):
        ours = importlib.import_module(f"ember.utils.data.{sub}")
        theirs = importlib.import_module(f"torch.utils.data.{sub}")
        for name in ours.__all__:
            assert getattr(ours, name) is getattr(ember.utils.data, name), (sub, name)
            assert hasattr(theirs, name), (sub, name)
    from ember.utils.data.dataloader import DataLoader

    assert DataLoader is ember.data.DataLoader
