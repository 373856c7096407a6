"""PyTorch models' state dicts, saved by torch, load into the same architecture in ember.

Each model is defined once for both frameworks; torch's copy is saved with ``torch.save`` and
as safetensors, read back with ``ember.load`` / ``ember.io.load_file``, and the two models'
outputs are compared. The error messages are compared with torch's own.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import ember
import ember.io

torch = pytest.importorskip("torch")


def _cnn(t: ModuleType) -> Any:
    nn = t.nn
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10),
    )


def _lstm(t: ModuleType) -> Any:
    class Tagger(t.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = t.nn.Embedding(20, 6)
            self.rnn = t.nn.LSTM(6, 7, num_layers=2, batch_first=True)
            self.head = t.nn.Linear(7, 5)

        def forward(self, idx: Any) -> Any:
            return self.head(self.rnn(self.embed(idx))[0])

    return Tagger()


def _block(t: ModuleType) -> Any:
    class Encoder(t.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layer = t.nn.TransformerEncoderLayer(
                16, 2, dim_feedforward=32, dropout=0.0, batch_first=True, norm_first=True
            )
            self.norm = t.nn.LayerNorm(16)
            self.register_buffer("scale", t.full((16,), 0.5))

        def forward(self, x: Any) -> Any:
            return self.norm(self.layer(x)) * self.scale

    return Encoder()


def _inputs(name: str, rng: np.random.Generator) -> np.ndarray:
    if name == "cnn":
        return rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    if name == "lstm":
        return rng.integers(0, 20, (2, 5))
    return rng.standard_normal((2, 5, 16)).astype(np.float32)


MODELS = {"cnn": _cnn, "lstm": _lstm, "block": _block}


def _trained_torch(name: str) -> Any:
    torch.manual_seed(0)
    model = MODELS[name](torch)
    if name == "cnn":  # non-trivial BatchNorm running statistics and num_batches_tracked
        model(torch.randn(8, 3, 8, 8))
    return model.eval()


def _save(model: Any, fmt: str, path: Path) -> dict[str, Any]:
    """``model``'s state dict written by torch in ``fmt``, read back with ember."""
    state = model.state_dict()
    if fmt == "torch":
        torch.save(state, path)
        return ember.load(path)
    try:
        from safetensors.torch import save_file
    except ImportError:
        ember.io.save_file({k: v.numpy() for k, v in state.items()}, path)
    else:
        save_file({k: v.contiguous() for k, v in state.items()}, path)
    return ember.io.load_file(path)


@pytest.mark.parametrize("fmt", ["torch", "safetensors"])
@pytest.mark.parametrize("name", list(MODELS))
def test_torch_saved_state_dict_gives_torch_outputs(name: str, fmt: str, tmp_path: Path) -> None:
    theirs = _trained_torch(name)
    state = _save(theirs, fmt, tmp_path / "weights.bin")
    ours = MODELS[name](ember).eval()
    assert sorted(state) == sorted(ours.state_dict())  # safetensors sorts the names
    assert repr(ours.load_state_dict(state)) == "<All keys matched successfully>"
    x = _inputs(name, np.random.default_rng(0))
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    with ember.no_grad():
        got = ours(ember.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_torch_tensors_and_numpy_arrays_load_directly() -> None:
    theirs = _trained_torch("cnn")
    ours = _cnn(ember).eval()
    ours.load_state_dict(theirs.state_dict())
    np.testing.assert_array_equal(ours[1].running_var.numpy(), theirs[1].running_var.numpy())
    assert ours[1].num_batches_tracked.item() == 1
    arrays = {k: v.numpy() * 2 for k, v in theirs.state_dict().items()}
    ours.load_state_dict(arrays)
    np.testing.assert_array_equal(ours[0].weight.detach().numpy(), arrays["0.weight"])


def _error(model: Any, state: dict, **kwargs: Any) -> str:
    with pytest.raises(RuntimeError) as err:
        model.load_state_dict(state, **kwargs)
    return str(err.value)


def _broken(t: ModuleType, model: Any) -> dict[str, Any]:
    state = dict(model.state_dict())
    del state["0.bias"], state["5.bias"]
    state["extra.weight"] = t.zeros(2)
    state["1.running_mean"] = t.zeros(9)
    return state


def test_key_and_shape_errors_read_as_torch() -> None:
    theirs, ours = _cnn(torch), _cnn(ember)
    expected = _error(theirs, _broken(torch, theirs)).replace("torch.", "ember.")
    got = _error(ours, _broken(ember, ours))
    assert got == "load_state_dict: " + expected
    assert got.count("\n\t") == 3  # missing, unexpected, one size mismatch
    # strict=False: the keys are reported, the shape mismatch is still an error
    expected = _error(theirs, _broken(torch, theirs), strict=False).replace("torch.", "ember.")
    assert _error(ours, _broken(ember, ours), strict=False) == "load_state_dict: " + expected
    state = dict(ours.state_dict())
    del state["0.bias"]
    state["extra"] = ember.zeros(1)
    keys = ours.load_state_dict(state, strict=False)
    theirs_state = dict(theirs.state_dict())
    del theirs_state["0.bias"]
    theirs_state["extra"] = torch.zeros(1)
    assert repr(keys) == repr(theirs.load_state_dict(theirs_state, strict=False))


def test_nothing_loads_when_an_entry_is_wrong() -> None:
    model = _cnn(ember)
    before = model[0].weight.detach().numpy().copy()
    state = {k: ember.zeros_like(v) for k, v in model.state_dict().items()}
    state["5.weight"] = "not a tensor"
    message = _error(model, state)
    assert (
        'While copying the parameter named "5.weight", expected ember.Tensor or Tensor-like '
        "object from checkpoint but received <class 'str'>" in message
    )
    np.testing.assert_array_equal(model[0].weight.detach().numpy(), before)


def test_dtypes_convert_on_copy_and_stay_on_assign() -> None:
    model = _cnn(ember)
    weight = model[0].weight
    state = {k: v.double() for k, v in model.state_dict().items()}
    state["1.num_batches_tracked"] = ember.tensor(3)
    model.load_state_dict(state)
    assert model[0].weight is weight and weight.dtype is ember.float32
    model.load_state_dict(state, assign=True)
    assert model[0].weight.dtype is ember.float64 and model[0].weight.requires_grad
    assert isinstance(model[0].weight, ember.nn.Parameter)
    state["5.bias"].fill_(7.0)
    assert model[5].bias.tolist() == [7.0] * 10  # assign shares the checkpoint's memory
    state["0.weight"] = state["0.weight"].long()
    message = _error(model, state, assign=True)
    assert 'While assigning the parameter named "0.weight", the checkpoint holds int64' in message
    assert "load with assign=False to convert it to float64" in message
