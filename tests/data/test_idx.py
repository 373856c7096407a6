from __future__ import annotations

import hashlib
import http.server
import os
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

import ember
from ember.data import KMNIST, MNIST, DataLoader, FashionMNIST
from ember.data.datasets import read_idx, write_idx
from ember.data.datasets.idx import search_dirs
from ember.data.download import DownloadError, download_file
from tests.data.idx_helpers import make_idx_dataset


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", ["u1", "i1", "<i2", "<i4", "<f4", "<f8"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    arr = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == "u1":
        arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / f"a{suffix}", arr)
    out = read_idx(tmp_path / f"a{suffix}")
    assert out.dtype == arr.dtype and out.shape == arr.shape
    np.testing.assert_array_equal(out, arr)


def test_idx_header_is_big_endian(tmp_path):
    write_idx(tmp_path / "x", np.array([1, 2], dtype=np.int32))
    raw = (tmp_path / "x").read_bytes()
    assert raw[:4] == bytes([0, 0, 0x0C, 1]) and raw[4:8] == (2).to_bytes(4, "big")
    assert raw[8:] == (1).to_bytes(4, "big") + (2).to_bytes(4, "big")


def test_corrupt_files_name_the_file(tmp_path):
    bad = tmp_path / "bad-magic"
    bad.write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="bad-magic: bad magic number"):
        read_idx(bad)
    short = tmp_path / "short"
    write_idx(short, np.zeros((4, 5), np.uint8))
    short.write_bytes(short.read_bytes()[:-3])
    with pytest.raises(ValueError, match="short: wrong size .*truncated"):
        read_idx(short)
    long = tmp_path / "long"
    write_idx(long, np.zeros(3, np.uint8))
    long.write_bytes(long.read_bytes() + b"\x00")
    with pytest.raises(ValueError, match="trailing data"):
        read_idx(long)
    header = tmp_path / "header"
    header.write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(ValueError, match="truncated header"):
        read_idx(header)
    gz = tmp_path / "cut.gz"
    write_idx(gz, np.zeros((50, 50), np.uint8))
    gz.write_bytes(gz.read_bytes()[:20])
    with pytest.raises(ValueError, match="cut.gz: truncated or corrupt gzip"):
        read_idx(gz)


def test_dataset_reads_from_ember_data(tiny_fashion):
    ds = FashionMNIST()
    assert len(ds) == 64 and len(FashionMNIST(train=False)) == 32
    x, y = ds[3]
    assert x.shape == (1, 28, 28) and x.dtype == ember.float32 and isinstance(y, int)
    assert float(x.max()) == 1.0 and x.numpy()[0, y].min() == 1.0
    xb, yb = next(iter(DataLoader(ds, batch_size=16)))
    assert xb.shape == (16, 1, 28, 28) and yb.dtype == ember.int64
    np.testing.assert_array_equal(xb.numpy()[3], x.numpy())
    assert ds.classes[0] == "T-shirt/top"


def test_dataset_root_argument_and_search_order(tmp_path, monkeypatch):
    monkeypatch.delenv("EMBER_DATA", raising=False)
    make_idx_dataset(tmp_path / "custom", n_train=8, n_test=4)
    assert len(MNIST(root=tmp_path / "custom")) == 8
    dirs = search_dirs("fashion-mnist")
    assert dirs[-1] == Path("/usr/share/datasets/fashion-mnist")


def test_mismatched_counts(tmp_path):
    make_idx_dataset(tmp_path, n_train=8)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", np.zeros(7, np.uint8))
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz holds .*7.* labels but"):
        KMNIST(root=tmp_path)


def test_missing_dataset_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_DATA", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="ember data fetch kmnist"):
        KMNIST()
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        FashionMNIST(root=tmp_path / "nowhere")


@pytest.mark.skipif(
    not os.path.exists("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"),
    reason="Debian's dataset-fashion-mnist is not installed",
)
def test_real_fashion_mnist_test_split(monkeypatch, tmp_path):
    monkeypatch.setenv("EMBER_DATA", str(tmp_path))  # nothing there: falls through to Debian's
    ds = FashionMNIST(train=False)
    assert ds.data.shape == (10000, 28, 28) and np.bincount(ds.targets).tolist() == [1000] * 10


class _Server:
    """A local HTTP server for ``folder`` on 127.0.0.1 that stops by itself."""

    def __init__(self, folder: Path) -> None:
        handler = partial(_QuietHandler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.timeout = 5
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_download_from_local_server(tmp_path, monkeypatch):
    served = make_idx_dataset(tmp_path / "served", n_train=6, n_test=3)
    md5 = {p.name: _md5(p) for p in served.iterdir()}
    monkeypatch.setenv("EMBER_DATA", str(tmp_path / "cache"))
    with _Server(served) as srv:
        monkeypatch.setattr(KMNIST, "mirrors", (srv.url + "missing/", srv.url))
        monkeypatch.setattr(KMNIST, "md5", md5)
        ds = KMNIST(download=True)
    assert len(ds) == 6
    got = sorted(p.name for p in (tmp_path / "cache" / "kmnist").iterdir())
    assert got == sorted(md5)


def test_checksum_mismatch_leaves_no_file(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    (served / "f.bin").write_bytes(b"hello")
    dest = tmp_path / "out" / "f.bin"
    with _Server(served) as srv:
        with pytest.raises(DownloadError, match="md5 mismatch"):
            download_file(srv.url + "f.bin", dest, "md5:" + "0" * 32)
        assert not dest.exists() and os.listdir(dest.parent) == []
        sha = hashlib.sha256(b"hello").hexdigest()
        assert download_file(srv.url + "f.bin", dest, sha).read_bytes() == b"hello"
        with pytest.raises(DownloadError, match="404"):
            download_file(srv.url + "nope.bin", tmp_path / "out" / "nope.bin", None)
    assert sorted(os.listdir(dest.parent)) == ["f.bin"]
