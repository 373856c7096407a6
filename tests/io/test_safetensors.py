from __future__ import annotations

import os

import numpy as np
import pytest
import safetensors.numpy as st

import ember
from ember.io import safetensors as est

ARRAYS = {
    "w": np.arange(12, dtype=np.float32).reshape(3, 4),
    "b": np.array([1.5, -2.0], dtype=np.float64),
    "i": np.array([[1, -2]], dtype=np.int64),
    "u": np.arange(5, dtype=np.uint8),
    "m": np.array([True, False]),
    "h": np.array([0.5], dtype=np.float16),
    "s": np.array(3.0, dtype=np.float32),
    "e": np.zeros((0, 3), dtype=np.float32),
}


def _same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        x, y = np.asarray(a[k]), np.asarray(b[k])
        assert x.dtype == y.dtype and x.shape == y.shape, k
        np.testing.assert_array_equal(x, y)


def test_round_trip_with_metadata(tmp_path):
    path = tmp_path / "a.safetensors"
    est.save_file(ARRAYS, path, metadata={"epoch": "3"})
    _same(est.load_file(path, numpy=True), ARRAYS)
    assert est.load_metadata(path) == {"epoch": "3"}
    loaded = est.load_file(path)
    assert isinstance(loaded["w"], ember.Tensor) and loaded["w"].dtype == ember.float32


def test_ember_tensors_are_accepted(tmp_path):
    t = ember.tensor([[1.0, 2.0]], requires_grad=True)
    blob = est.save({"t": t})
    arrays, meta = est.load(blob)
    np.testing.assert_array_equal(arrays["t"], [[1.0, 2.0]])
    assert meta == {}


def test_ours_read_by_reference_library(tmp_path):
    path = tmp_path / "ours.safetensors"
    est.save_file(ARRAYS, path, metadata={"k": "v"})
    _same(st.load_file(str(path)), ARRAYS)


def test_reference_library_read_by_ours(tmp_path):
    path = tmp_path / "theirs.safetensors"
    st.save_file(ARRAYS, str(path), metadata={"format": "np"})
    _same(est.load_file(path, numpy=True), ARRAYS)
    assert est.load_metadata(path) == {"format": "np"}
    _same(est.load(st.save(ARRAYS))[0], ARRAYS)


def test_big_endian_input_is_stored_little_endian():
    arr = np.arange(3, dtype=">f4")
    _same(est.load(est.save({"x": arr}))[0], {"x": arr.astype("<f4")})


def test_bad_inputs_raise_clear_errors(tmp_path):
    with pytest.raises(TypeError, match="unsupported dtype"):
        est.save({"x": np.array([1 + 2j])})
    with pytest.raises(TypeError, match="metadata must map str to str"):
        est.save({}, metadata={"a": 1})
    with pytest.raises(ValueError, match="too short"):
        est.load(b"\x01")
    with pytest.raises(ValueError, match="corrupt header length"):
        est.load(b"\xff" * 16)
    blob = bytearray(est.save({"x": np.zeros(4, np.float32)}))
    with pytest.raises(ValueError, match="bad data offsets"):
        est.load(bytes(blob[:-4]))
    with pytest.raises(FileNotFoundError, match="no such file"):
        est.load_file(tmp_path / "missing.safetensors")


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "c.safetensors"
    est.save_file({"x": np.ones(2, np.float32)}, path)

    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        est.save_file({"x": np.zeros(2, np.float32)}, path)
    monkeypatch.undo()
    np.testing.assert_array_equal(est.load_file(path, numpy=True)["x"], [1.0, 1.0])
    assert os.listdir(tmp_path) == ["c.safetensors"]


def test_atomic_write_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "c.safetensors"
    est.save_file({"x": np.ones(2, np.float32)}, path)
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # new file: the umask's default
    path.chmod(0o640)
    est.save_file({"x": np.zeros(2, np.float32)}, path)
    assert path.stat().st_mode & 0o777 == 0o640
