"""ember.onnx.export: the file passes onnx.checker and ONNX Runtime computes what ember does.

Each reference model is exported with a dynamic batch axis and run at the traced batch size
and at another one; a grab-bag module covers the lowerings the models do not reach.
"""

from __future__ import annotations

import io
import sys
from typing import Any

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import models, nn

onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")

BATCH = {0: "batch"}


def _export(model: Any, args: tuple, **kwargs: Any) -> tuple[Any, Any]:
    """(ModelProto, ONNX Runtime session) of ``model`` exported on ``args``."""
    buf = io.BytesIO()
    proto = ember.onnx.export(model, args, buf, **kwargs)
    onnx.checker.check_model(proto, full_check=True)
    return proto, ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])


def _assert_runs_like_ember(model: Any, session: Any, *calls: tuple) -> None:
    names = [i.name for i in session.get_inputs()]
    for args in calls:
        with ember.no_grad():
            want = model(*args)
        want = want[0] if isinstance(want, tuple) else want
        got = session.run(None, {n: a.numpy() for n, a in zip(names, args)})[0]
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-5)


class Decoder(nn.Module):
    """A VAE's decoder as a module of its own (z -> image)."""

    def __init__(self, vae: Any) -> None:
        super().__init__()
        self.vae = vae

    def forward(self, z: Any) -> Any:
        return self.vae.decode(z)


def _tokens(batch: int) -> Any:
    return ember.randint(0, 11, (batch, 6))


CASES = {
    "mlp": (lambda: models.create("mlp", hidden=32), lambda b: ember.randn(b, 784)),
    "cnn": (lambda: models.create("cnn"), lambda b: ember.randn(b, 1, 28, 28)),
    "resnet": (lambda: models.create("resnet"), lambda b: ember.randn(b, 1, 28, 28)),
    "lstm": (
        lambda: models.create("char_rnn", vocab_size=11, n_embd=8, hidden_size=16),
        _tokens,
    ),
    "gpt": (
        lambda: models.create("gpt", vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16),
        _tokens,
    ),
    "vae_decoder": (lambda: Decoder(models.create("vae", hidden=32)), lambda b: ember.randn(b, 20)),
    "conv_vae_decoder": (
        lambda: Decoder(models.create("vae", kind="conv")),
        lambda b: ember.randn(b, 20),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_models_run_like_ember_at_another_batch_size(name: str) -> None:
    make, data = CASES[name]
    model = make()
    model.train()
    _, session = _export(
        model, (data(2),), input_names=["x"], output_names=["y"],
        dynamic_axes={"x": BATCH, "y": BATCH},
    )  # fmt: skip
    assert model.training  # restored after the export
    model.eval()
    _assert_runs_like_ember(model, session, (data(2),), (data(5),))
    assert session.get_inputs()[0].shape[0] == "batch"


def test_opset_17_and_names_of_the_parameters(tmp_path: Any) -> None:
    model = models.create("mlp", hidden=8, depth=1).eval()
    path = tmp_path / "mlp.onnx"
    ember.onnx.export(model, ember.randn(3, 784), path, opset_version=17)
    proto = onnx.load(path)
    onnx.checker.check_model(proto)
    assert proto.opset_import[0].version == 17
    assert set(model.state_dict()) <= {t.name for t in proto.graph.initializer}
    assert [i.name for i in proto.graph.input] == ["x"]  # the forward's parameter name
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    _assert_runs_like_ember(model, session, (ember.randn(3, 784),))


class GrabBag(nn.Module):
    """Indexing, movement, reductions and elementwise ops that the models do not use."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1, groups=2)

    def forward(self, x: Any, idx: Any) -> Any:
        y = F.avg_pool2d(self.conv(x), 2)  # (B, 4, 3, 3): im2col and a grouped conv
        y = y[:, 1:, ::2, -1] + y[..., 1:, 0, None, 1]  # (B, 3, 2)
        y = ember.cat([y.flip(1), y.roll(1, 2)], dim=2)  # (B, 3, 4)
        y = F.pad(y, (1, 0), value=0.5).clamp(-1.0, 1.0).cumsum(2)
        z = y.log_softmax(-1) + y.softmax(1) + y.amin(2, keepdim=True).exp2()
        z = z + y.norm(dim=1, keepdim=True) + y.max(1, keepdim=True).values.log1p()
        z = ember.where(z > 0.3, z.rsqrt(), z.abs().log2()) * (z != 0)
        picked = z.gather(2, idx)  # (B, 3, 1)
        return z.tril() + picked + z.argmax(2, keepdim=True).float() + z.trunc() % 0.7


def test_lowerings_beyond_the_models() -> None:
    model = GrabBag().eval()
    x, idx = ember.randn(2, 4, 6, 6), ember.randint(0, 4, (2, 3, 1))
    _, session = _export(model, (x, idx), dynamic_axes={"x": BATCH, "idx": BATCH})
    _assert_runs_like_ember(model, session, (x, idx), (ember.randn(3, 4, 6, 6), idx[[0, 1, 1]]))


class Flagged(nn.Module):
    """Records ``is_in_onnx_export()`` while it runs."""

    seen: list[bool] = []

    def forward(self, x: Any) -> Any:
        self.seen.append(ember.onnx.is_in_onnx_export())
        return x * 2


def test_is_in_onnx_export_only_during_an_export() -> None:
    model = Flagged()
    ember.onnx.export(model, ember.ones(2), io.BytesIO())
    assert model.seen and all(model.seen)
    assert not ember.onnx.is_in_onnx_export()


class Unsupported(nn.Module):
    def forward(self, x: Any) -> Any:
        return ember.atan2(x, x + 1)


def test_an_unsupported_primitive_is_named_with_its_call_site() -> None:
    with pytest.raises(ember.onnx.ExportError, match=r"primitive Atan2 .*\n.*test_export\.py"):
        ember.onnx.export(Unsupported(), ember.ones(2, 2), io.BytesIO())


def test_clear_errors_for_bad_arguments(monkeypatch: Any) -> None:
    model = nn.Linear(2, 2)
    with pytest.raises(ValueError, match="opset_version must be in"):
        ember.onnx.export(model, ember.ones(1, 2), io.BytesIO(), opset_version=11)
    with pytest.raises(ValueError, match="dynamic_axes names unknown values"):
        ember.onnx.export(model, ember.ones(1, 2), io.BytesIO(), dynamic_axes={"nope": [0]})
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'ember\[onnx\]'"):
        ember.onnx.export(model, ember.ones(1, 2), io.BytesIO())
