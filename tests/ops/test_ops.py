"""Table-driven op tests: forward and backward vs PyTorch, finite differences, second order.

Every test id names the op, the sample and the stage, so a failure says what broke where.
"""

from __future__ import annotations

import warnings
import zlib
from typing import Any

import numpy as np
import pytest

import ember
from ember.ops.core import PRIMITIVES
from tests.ops.specs import OpSpec, Sample, all_specs, noncontiguous

torch = pytest.importorskip("torch")

SPECS = all_specs()


def _samples(spec: OpSpec) -> list[Sample]:
    return spec.samples(np.random.default_rng(zlib.crc32(spec.name.encode())))


CASES = [
    pytest.param(spec, i, id=f"{spec.name}-{i}")
    for spec in SPECS
    for i in range(len(_samples(spec)))
]
GRAD_CASES = [c for c in CASES if c.values[0].grad]


def _convert(sample: Sample, dtype: str, layout: str = "contiguous") -> tuple[list, list, list]:
    """(ember args, torch args, positions of differentiable args)."""
    e_args, t_args, diff = [], [], []
    for i, a in enumerate(sample.args):
        if isinstance(a, np.ndarray):
            arr = a.astype(dtype) if a.dtype.kind == "f" else a
            if layout == "noncontiguous":
                arr = noncontiguous(arr)
            wants_grad = arr.dtype.kind == "f" and i not in sample.nograd
            e = (
                ember.tensor(arr)
                if layout == "contiguous"
                else ember.from_numpy(arr.copy(order="K"))
            )
            t = torch.from_numpy(np.array(arr, copy=True))
            if wants_grad:
                e.requires_grad_(True)
                t.requires_grad_(True)
                diff.append(i)
            e_args.append(e)
            t_args.append(t)
        else:
            e_args.append(a)
            t_args.append(a)
    return e_args, t_args, diff


def _outputs(out: Any) -> list:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _assert_close(e: Any, t: Any, dtype: str, spec: OpSpec, what: str) -> None:
    e_arr = np.asarray(e.detach().numpy() if isinstance(e, ember.Tensor) else e)
    t_arr = t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)
    assert e_arr.shape == t_arr.shape, f"{what}: shape {e_arr.shape} vs torch {t_arr.shape}"
    if isinstance(e, ember.Tensor) and hasattr(t, "dtype"):
        assert e.dtype.name == str(t.dtype).replace("torch.", ""), (
            f"{what}: dtype {e.dtype.name} vs torch {t.dtype}"
        )
    if e_arr.dtype.kind == "f":
        atol, rtol = (spec.atol32, spec.rtol32) if dtype == "float32" else (1e-10, 1e-8)
        np.testing.assert_allclose(e_arr, t_arr, atol=atol, rtol=rtol, err_msg=what)
    else:
        np.testing.assert_array_equal(e_arr, t_arr, err_msg=what)


@pytest.mark.parametrize("layout", ["contiguous", "noncontiguous"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("spec,index", CASES)
def test_forward_matches_torch(spec: OpSpec, index: int, dtype: str, layout: str) -> None:
    if dtype not in spec.dtypes:
        pytest.skip(f"{spec.name} is not defined for {dtype}")
    sample = _samples(spec)[index]
    e_args, t_args, _ = _convert(sample, dtype, layout)
    e_out = _outputs(spec.ember_fn(*e_args, **sample.kwargs))
    t_out = _outputs(spec.torch_fn(*t_args, **sample.kwargs))
    assert len(e_out) == len(t_out), f"forward: {len(e_out)} outputs vs torch {len(t_out)}"
    for k, (e, t) in enumerate(zip(e_out, t_out)):
        _assert_close(e, t, dtype, spec, f"forward output {k} of {spec.name} {sample}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("spec,index", GRAD_CASES)
def test_backward_matches_torch(spec: OpSpec, index: int, dtype: str) -> None:
    if dtype not in spec.dtypes:
        pytest.skip(f"{spec.name} is not defined for {dtype}")
    sample = _samples(spec)[index]
    e_args, t_args, diff = _convert(sample, dtype)
    if not diff:
        pytest.skip("no differentiable inputs")
    e_out = [
        o
        for o in _outputs(spec.ember_fn(*e_args, **sample.kwargs))
        if isinstance(o, ember.Tensor) and o.is_floating_point()
    ]
    t_out = [
        o
        for o in _outputs(spec.torch_fn(*t_args, **sample.kwargs))
        if hasattr(o, "is_floating_point") and o.is_floating_point()
    ]
    rng = np.random.default_rng(index)
    cots = [rng.standard_normal(tuple(o.shape)).astype(dtype) for o in e_out]
    e_grads = ember.autograd.grad(
        e_out, [e_args[i] for i in diff], [ember.tensor(c) for c in cots], allow_unused=True
    )
    t_grads = torch.autograd.grad(
        t_out, [t_args[i] for i in diff], [torch.from_numpy(c) for c in cots], allow_unused=True
    )
    for i, eg, tg in zip(diff, e_grads, t_grads):
        shape = sample.args[i].shape
        eg_arr = np.zeros(shape) if eg is None else eg.numpy()
        tg_arr = np.zeros(shape) if tg is None else tg.numpy()
        _assert_close(
            eg_arr.astype(dtype),
            tg_arr.astype(dtype),
            dtype,
            spec,
            f"gradient of argument {i} of {spec.name} {sample}",
        )


def _small(sample: Sample) -> bool:
    return sum(a.size for a in sample.args if isinstance(a, np.ndarray)) <= 256


@pytest.mark.parametrize("spec,index", [c for c in GRAD_CASES if c.values[0].gradcheck])
def test_gradcheck_float64(spec: OpSpec, index: int) -> None:
    sample = _samples(spec)[index]
    if not _small(sample):
        pytest.skip("sample too large for finite differences")
    e_args, _, diff = _convert(sample, "float64")
    if not diff:
        pytest.skip("no differentiable inputs")

    def fn(*args: Any) -> Any:
        outs = _outputs(spec.ember_fn(*args, **sample.kwargs))
        return tuple(o for o in outs if isinstance(o, ember.Tensor) and o.is_floating_point())

    assert ember.autograd.gradcheck(fn, tuple(e_args), eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("spec,index", [c for c in GRAD_CASES if c.values[0].second_order])
def test_second_order_float64(spec: OpSpec, index: int) -> None:
    sample = _samples(spec)[index]
    if not _small(sample):
        pytest.skip("sample too large for finite differences")
    e_args, _, diff = _convert(sample, "float64")

    def fn(*args: Any) -> Any:
        outs = _outputs(spec.ember_fn(*args, **sample.kwargs))
        return tuple(o for o in outs if isinstance(o, ember.Tensor) and o.is_floating_point())

    assert ember.autograd.gradgradcheck(fn, tuple(e_args), eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("spec,index", CASES)
def test_jit_matches_eager(spec: OpSpec, index: int) -> None:
    """The op compiled by ``ember.jit`` (traced, then replayed twice) equals it run eagerly."""
    dtype = spec.dtypes[0]
    sample = _samples(spec)[index]
    e_args, _, _ = _convert(sample, dtype)
    e_args = [a.detach() if isinstance(a, ember.Tensor) else a for a in e_args]

    def op(*args: Any) -> Any:
        return spec.ember_fn(*args, **sample.kwargs)

    with ember.no_grad():
        eager = _outputs(op(*e_args))
        compiled = ember.jit(op)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a fallback to eager execution fails the stage
            try:
                runs = [_outputs(compiled(*e_args)) for _ in range(3)]
            except ember.jit.JitError as exc:
                pytest.skip(f"not compilable: {str(exc).splitlines()[0]}")
    for k, run in enumerate(runs):
        assert len(run) == len(eager), f"jitted call {k}: {len(run)} outputs, eager {len(eager)}"
        for e, j in zip(eager, run):
            what = f"jitted call {k} of {spec.name} {sample}"
            if not isinstance(e, ember.Tensor):
                assert j == e, what
                continue
            assert (j.dtype, j.shape) == (e.dtype, e.shape), what
            if e.dtype.is_floating_point:
                atol, rtol = (spec.atol32, spec.rtol32) if dtype == "float32" else (1e-10, 1e-8)
                np.testing.assert_allclose(j.numpy(), e.numpy(), atol=atol, rtol=rtol, err_msg=what)
            else:
                np.testing.assert_array_equal(j.numpy(), e.numpy(), err_msg=what)


# moving between backends needs a GPU: covered by tests/backends/test_cuda.py instead
NEEDS_GPU = {"ToDevice"}
# collectives need several processes: tests/distributed checks them (forward, gradient, jit)
# on 2 and 4 ranks against one process
NEEDS_RANKS = {"AllReduce", "Broadcast"}


def test_every_primitive_is_in_the_op_database() -> None:
    covered = {p for spec in SPECS for p in spec.prims} | NEEDS_GPU | NEEDS_RANKS
    missing = sorted(set(PRIMITIVES) - covered)
    assert not missing, f"primitives without an entry in tests/ops/specs: {missing}"


@pytest.mark.parametrize("spec,index", GRAD_CASES)
def test_jitted_gradients_match_eager(spec: OpSpec, index: int) -> None:
    """The op's gradients, computed inside a function compiled by ``ember.jit``, equal eager."""
    dtype = spec.dtypes[0]
    sample = _samples(spec)[index]
    e_args, _, diff = _convert(sample, dtype)
    if not diff:
        pytest.skip("no differentiable inputs")

    def grads(*args: Any) -> Any:
        outs = [
            o
            for o in _outputs(spec.ember_fn(*args, **sample.kwargs))
            if isinstance(o, ember.Tensor) and o.is_floating_point()
        ]
        cots = [ember.ones_like(o) for o in outs]
        return ember.autograd.grad(outs, [args[i] for i in diff], cots, allow_unused=True)

    eager = grads(*e_args)
    compiled = ember.jit(grads)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            runs = [compiled(*e_args) for _ in range(3)]
        except ember.jit.JitError as exc:
            pytest.skip(f"not compilable: {str(exc).splitlines()[0]}")
    atol, rtol = (spec.atol32, spec.rtol32) if dtype == "float32" else (1e-10, 1e-8)
    for k, run in enumerate(runs):
        for i, e, j in zip(diff, eager, run, strict=True):
            what = f"jitted call {k}: gradient of argument {i} of {spec.name} {sample}"
            assert (e is None) == (j is None), what
            if e is not None:
                np.testing.assert_allclose(j.numpy(), e.numpy(), atol=atol, rtol=rtol, err_msg=what)
