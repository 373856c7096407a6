"""ember.save / ember.load in torch.save's zip format, checked against the real torch."""

from __future__ import annotations

import io
import pickle
import subprocess
import sys
import textwrap
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import ember
from ember import nn

torch = pytest.importorskip("torch")

DTYPES = [
    ("float32", np.float32),
    ("float64", np.float64),
    ("float16", np.float16),
    ("int8", np.int8),
    ("int16", np.int16),
    ("int32", np.int32),
    ("int64", np.int64),
    ("uint8", np.uint8),
    ("bool", np.bool_),
]


def _values(shape: tuple, np_dtype: type) -> np.ndarray:
    n = int(np.prod(shape))
    return (np.arange(n) % 7 - 3).astype(np_dtype).reshape(shape)


def _same(e: ember.Tensor, t: torch.Tensor) -> None:
    assert isinstance(e, ember.Tensor) and isinstance(t, torch.Tensor)
    assert tuple(e.shape) == tuple(t.shape) and str(e.dtype).split(".")[1] == str(t.dtype)[6:]
    np.testing.assert_array_equal(e.numpy(force=True), t.detach().numpy())


# -- torch.save → ember.load ---------------------------------------------------------------
@pytest.mark.parametrize(("name", "np_dtype"), DTYPES)
@pytest.mark.parametrize("shape", [(2, 3), (), (0, 4)])
def test_torch_to_ember_dtypes(tmp_path, name, np_dtype, shape):
    t = torch.from_numpy(_values(shape, np_dtype))
    torch.save({"x": t}, tmp_path / "t.pt")
    e = ember.load(tmp_path / "t.pt")["x"]
    _same(e, t)
    assert e.dtype is getattr(ember, name)


@pytest.mark.parametrize(("name", "np_dtype"), DTYPES)
@pytest.mark.parametrize("shape", [(2, 3), (), (0, 4)])
def test_ember_to_torch_dtypes(tmp_path, name, np_dtype, shape):
    e = ember.from_numpy(_values(shape, np_dtype))
    ember.save({"x": e}, tmp_path / "e.pt")
    t = torch.load(tmp_path / "e.pt", weights_only=True)["x"]
    _same(e, t)
    assert t.dtype is getattr(torch, name)
    assert t.stride() == torch.empty(shape).stride()


def test_shared_storage_and_strides_from_torch(tmp_path):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    views = {"base": base, "col": base[:, 2], "t": base.t(), "blk": base[1:3, ::2]}
    torch.save(views, tmp_path / "v.pt")
    got = ember.load(tmp_path / "v.pt")
    for k, t in views.items():
        _same(got[k], t)
        assert got[k].stride() == t.stride(), k
    got["base"][1, 2] = -1.0  # every view reads the one storage
    assert got["col"][1].item() == -1.0 and got["t"][2, 1].item() == -1.0
    assert got["blk"][0, 1].item() == -1.0


def test_shared_storage_and_strides_from_ember(tmp_path):
    base = ember.arange(24, dtype=ember.float32).reshape(4, 6)
    views = {"base": base, "col": base[:, 2], "t": base.T, "blk": base[1:3, ::2]}
    ember.save(views, tmp_path / "v.pt")
    got = torch.load(tmp_path / "v.pt", weights_only=True)
    ptr = got["base"].untyped_storage().data_ptr()
    for k, e in views.items():
        _same(e, got[k])
        assert got[k].stride() == e.stride(), k
        assert got[k].untyped_storage().data_ptr() == ptr, k
    back = ember.load(tmp_path / "v.pt")
    back["t"][3, 2] = 99.0
    assert back["base"][2, 3].item() == 99.0


def test_flipped_and_broadcast_views_are_saved_by_value(tmp_path):
    x = ember.arange(6, dtype=ember.float32)
    obj = {"flip": x.flip(0), "wide": x.reshape(1, 6).expand(3, 6)}
    ember.save(obj, tmp_path / "f.pt")
    got = torch.load(tmp_path / "f.pt", weights_only=True)
    for k, e in obj.items():
        _same(e, got[k])


def _twin_models() -> tuple[nn.Module, torch.nn.Module]:
    e = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(16, 5)
    )
    t = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(16, 5),
    )
    return e, t


def test_model_state_dict_both_ways(tmp_path):
    e_model, t_model = _twin_models()
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    t_model.train()(torch.from_numpy(x))  # moves the BatchNorm running stats
    torch.save(t_model.state_dict(), tmp_path / "t.pt")
    e_model.load_state_dict(ember.load(tmp_path / "t.pt", map_location="cpu"))
    e_model.eval(), t_model.eval()
    want = t_model(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(e_model(ember.from_numpy(x)).numpy(force=True), want, atol=1e-5)

    e2, t2 = _twin_models()
    ember.save(e_model.state_dict(), tmp_path / "e.pt")
    t2.load_state_dict(torch.load(tmp_path / "e.pt", weights_only=True))
    t2.eval()
    np.testing.assert_allclose(t2(torch.from_numpy(x)).detach().numpy(), want, atol=1e-5)


def test_parameters_round_trip(tmp_path):
    p = nn.Parameter(ember.ones(3))
    ember.save({"p": p}, tmp_path / "p.pt")
    t = torch.load(tmp_path / "p.pt", weights_only=True)["p"]
    assert isinstance(t, torch.nn.Parameter) and t.requires_grad
    back = ember.load(tmp_path / "p.pt")["p"]
    assert isinstance(back, nn.Parameter) and back.requires_grad


def test_optimizer_state_dict_both_ways(tmp_path):
    e_model, t_model = _twin_models()
    t_opt = torch.optim.Adam(t_model.parameters(), lr=1e-2, betas=(0.8, 0.9))
    x = torch.randn(2, 3, 4, 4)
    t_model(x).sum().backward()
    t_opt.step()
    torch.save(t_opt.state_dict(), tmp_path / "t.pt")
    sd = ember.load(tmp_path / "t.pt")
    ref = t_opt.state_dict()
    assert sd["param_groups"] == ref["param_groups"]  # tuples, floats, bools, None, lists
    for i, state in ref["state"].items():
        for k, v in state.items():
            _same(sd["state"][i][k], v)
    e_opt = ember.optim.Adam(e_model.parameters(), lr=0.5)
    e_opt.load_state_dict(sd)
    assert e_opt.param_groups[0]["betas"] == (0.8, 0.9)

    ember.save(e_opt.state_dict(), tmp_path / "e.pt")
    t2 = torch.load(tmp_path / "e.pt", weights_only=True)
    assert t2["param_groups"][0]["lr"] == 1e-2
    for i, state in e_opt.state_dict()["state"].items():
        for k, v in state.items():
            _same(v, t2["state"][i][k])
    torch.optim.Adam(t_model.parameters()).load_state_dict(t2)


def test_plain_values_and_containers(tmp_path):
    obj = {
        "od": OrderedDict([("b", 1), ("a", 2.5)]),
        "nested": [(1, "two", None, True), {"bytes": b"\x00\xff"}],
        "size": ember.Size([2, 3]),
        "dtype": ember.float16,
        "dev": ember.device("cpu"),
    }
    ember.save(obj, tmp_path / "o.pt")
    t = torch.load(tmp_path / "o.pt", weights_only=True)
    assert t["size"] == torch.Size([2, 3]) and t["dtype"] is torch.float16
    assert t["dev"] == torch.device("cpu") and type(t["od"]) is OrderedDict
    back = ember.load(tmp_path / "o.pt")
    assert back == obj and type(back["od"]) is OrderedDict and back["dtype"] is ember.float16


def test_a_whole_module_saves_and_loads_only_with_weights_only_false(tmp_path):
    """``torch.save(model, f)`` pickles the object by class reference: both frameworks
    refuse it by default and load it with ``weights_only=False``."""
    model = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.ReLU(), ember.nn.Linear(4, 2))
    model.eval()
    ember.save({"model": model, "tags": {1, 2}}, tmp_path / "m.pt")
    with pytest.raises(pickle.UnpicklingError, match=r"weights_only=False\), which runs code"):
        ember.load(tmp_path / "m.pt")
    with pytest.raises(pickle.UnpicklingError):
        torch.load(tmp_path / "m.pt", weights_only=True)
    back = ember.load(tmp_path / "m.pt", weights_only=False)
    assert back["tags"] == {1, 2} and not back["model"].training
    x = ember.randn(5, 3)
    np.testing.assert_array_equal(back["model"](x).detach().numpy(), model(x).detach().numpy())
    loaded = back["model"].state_dict()
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(loaded[key].numpy(), value.numpy())


def test_file_objects_and_map_location(tmp_path):
    buf = io.BytesIO()
    ember.save({"x": ember.arange(3)}, buf)
    buf.seek(0)
    assert torch.load(buf, weights_only=True)["x"].tolist() == [0, 1, 2]
    buf.seek(0)
    assert ember.load(buf, map_location=torch.device("cpu"))["x"].tolist() == [0, 1, 2]

    torch.save({"x": torch.ones(2)}, tmp_path / "t.pt")
    with open(tmp_path / "t.pt", "rb") as f:
        assert ember.load(f, map_location=ember.device("cpu"))["x"].tolist() == [1.0, 1.0]
    seen = []
    out = ember.load(str(tmp_path / "t.pt"), map_location=lambda s, loc: seen.append(loc))
    assert seen == ["cpu"] and out["x"].device == ember.device("cpu")
    assert ember.load(tmp_path / "t.pt", map_location={"cuda:0": "cpu"})["x"].sum().item() == 2


class _Stream:
    """A write-only stream that cannot seek or tell (a pipe, a socket)."""

    def __init__(self) -> None:
        self.buf = io.BytesIO()

    def write(self, b: bytes) -> int:
        return self.buf.write(b)

    def flush(self) -> None:
        pass


def test_non_seekable_stream(tmp_path):
    out = _Stream()
    ember.save({"x": ember.arange(5, dtype=ember.float32)}, out)
    out.buf.seek(0)
    assert torch.load(out.buf, weights_only=True)["x"].tolist() == [0, 1, 2, 3, 4]


def test_big_endian_file(tmp_path):
    ember.save({"x": ember.tensor([1.5, -2.0], dtype=ember.float64)}, tmp_path / "le.pt")
    with zipfile.ZipFile(tmp_path / "le.pt") as zf:
        records = {n: zf.read(n) for n in zf.namelist()}
    with zipfile.ZipFile(tmp_path / "be.pt", "w") as zf:
        for n, data in records.items():
            if n.endswith("/byteorder"):
                data = b"big"
            elif "/data/" in n:
                data = np.frombuffer(data, "<f8").astype(">f8").tobytes()
            zf.writestr(n, data)
    assert ember.load(tmp_path / "be.pt")["x"].tolist() == [1.5, -2.0]


def test_cuda_location_without_cuda(tmp_path):
    if ember.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    ember.save({"x": ember.ones(2)}, tmp_path / "c.pt")
    _rewrite_pickle(
        tmp_path / "c.pt",
        lambda pkl: pkl.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0"),
    )
    with pytest.raises(RuntimeError, match="map_location='cpu'"):
        ember.load(tmp_path / "c.pt")
    assert ember.load(tmp_path / "c.pt", map_location={"cuda:0": "cpu"})["x"].tolist() == [1, 1]


def test_not_a_torch_zip(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(RuntimeError, match=r"junk\.pt is not a zip archive: expected a PyTorch"):
        ember.load(tmp_path / "junk.pt")
    torch.save({"x": torch.ones(2)}, tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(RuntimeError, match="legacy format"):
        ember.load(tmp_path / "old.pt")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("readme.txt", "hi")
    with pytest.raises(RuntimeError, match="without a <prefix>/data.pkl"):
        ember.load(tmp_path / "other.zip")


# -- malicious files --------------------------------------------------------------------------
def _rewrite_pickle(path: Path, change) -> None:
    with zipfile.ZipFile(path) as zf:
        records = {n: zf.read(n) for n in zf.namelist()}
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in records.items():
            zf.writestr(n, change(data) if n.endswith("/data.pkl") else data)


def _archive(path: Path, pkl: bytes) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", pkl)
        zf.writestr("archive/version", "3\n")


@pytest.mark.parametrize(
    ("module", "name", "arg"),
    [
        ("os", "system", "touch {marker}"),
        ("posix", "system", "touch {marker}"),
        ("builtins", "eval", "open({marker!r}, 'w')"),
        ("builtins", "exec", "open({marker!r}, 'w')"),
        ("subprocess", "getoutput", "touch {marker}"),
    ],
)
def test_malicious_globals_are_refused(tmp_path, module, name, arg):
    marker = tmp_path / "pwned"
    text = arg.format(marker=str(marker)).encode()
    # {'x': module.name(text)} written opcode by opcode: GLOBAL, a string, TUPLE1, REDUCE
    pkl = (
        b"\x80\x02}X\x01\x00\x00\x00x"
        + b"c"
        + f"{module}\n{name}\n".encode()
        + b"X"
        + len(text).to_bytes(4, "little")
        + text
        + b"\x85Rs."
    )
    _archive(tmp_path / "evil.pt", pkl)
    with pytest.raises(pickle.UnpicklingError, match=f"refusing to load global {module}.{name}"):
        ember.load(tmp_path / "evil.pt")
    assert not marker.exists()


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (subprocess.call, (["touch", self.marker],))


def test_pickled_reduce_payload_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    pkl = pickle.dumps({"w": _Evil(str(marker))}, protocol=4)  # STACK_GLOBAL
    _archive(tmp_path / "evil.pt", pkl)
    with pytest.raises(pickle.UnpicklingError, match="subprocess.call"):
        ember.load(tmp_path / "evil.pt")
    assert not marker.exists()


def test_out_of_bounds_layout_is_refused(tmp_path):
    ember.save({"x": ember.arange(4, dtype=ember.float32)}, tmp_path / "x.pt")
    # size (4,) → (400,): the view would read past the 4-element storage
    _rewrite_pickle(tmp_path / "x.pt", lambda pkl: pkl.replace(b"K\x04\x85", b"M\x90\x01\x85", 1))
    with pytest.raises(pickle.UnpicklingError, match="reaches outside its storage"):
        ember.load(tmp_path / "x.pt")


# -- without torch ----------------------------------------------------------------------------
def test_loads_torch_file_without_torch(tmp_path):
    base = torch.arange(6, dtype=torch.int64).reshape(2, 3)
    torch.save(
        {"w": base, "row": base[1], "h": torch.full((2,), 0.5, dtype=torch.float16)},
        tmp_path / "t.pt",
    )
    script = textwrap.dedent(
        f"""
        import sys

        class NoTorch:
            def find_spec(self, name, path=None, target=None):
                if name == "torch" or name.startswith("torch."):
                    raise ImportError("torch is blocked in this test")

        sys.modules.pop("torch", None)
        sys.meta_path.insert(0, NoTorch())
        import ember

        sd = ember.load({str(tmp_path / "t.pt")!r})
        assert sd["w"].tolist() == [[0, 1, 2], [3, 4, 5]] and sd["w"].dtype is ember.int64
        assert sd["row"].tolist() == [3, 4, 5]
        sd["w"][1, 0] = 30
        assert sd["row"][0].item() == 30
        assert sd["h"].dtype is ember.float16 and sd["h"].tolist() == [0.5, 0.5]
        ember.save(sd, {str(tmp_path / "e.pt")!r})
        assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules)
        print("ok")
        """
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
    back = torch.load(tmp_path / "e.pt", weights_only=True)
    assert back["row"].tolist() == [30, 4, 5]
    assert back["row"].untyped_storage().data_ptr() == back["w"].untyped_storage().data_ptr()


class _Scaled(ember.nn.Module):
    """A program's own module class, for the safe-globals tests."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = ember.nn.Linear(3, 2)


def test_safe_globals_let_weights_only_loading_rebuild_named_classes(tmp_path):
    """word_language_model loads its whole model inside ``torch.serialization.safe_globals``."""
    model = _Scaled()
    ember.save(model, tmp_path / "m.pt")
    with pytest.raises(pickle.UnpicklingError, match="safe_globals"):
        ember.load(tmp_path / "m.pt")
    allowed = [_Scaled, ember.nn.Linear]
    with ember.serialization.safe_globals(allowed):
        assert ember.serialization.get_safe_globals() == allowed
        back = ember.load(tmp_path / "m.pt")
    assert ember.serialization.get_safe_globals() == []  # only inside the block
    np.testing.assert_array_equal(
        back.lin.weight.detach().numpy(), model.lin.weight.detach().numpy()
    )
    ember.serialization.add_safe_globals([(_Scaled, f"{__name__}._Scaled"), ember.nn.Linear])
    try:
        assert isinstance(ember.load(tmp_path / "m.pt"), _Scaled)
    finally:
        ember.serialization.clear_safe_globals()
    with pytest.raises(pickle.UnpicklingError):
        ember.load(tmp_path / "m.pt")


def test_attention_projects_through_torchs_class_name():
    out_proj = ember.nn.MultiheadAttention(4, 2).out_proj
    assert type(out_proj).__name__ == type(torch.nn.MultiheadAttention(4, 2).out_proj).__name__
    assert isinstance(out_proj, ember.nn.Linear)
    assert ember.nn.modules.linear.NonDynamicallyQuantizableLinear is type(out_proj)
