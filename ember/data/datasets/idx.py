"""IDX files (the MNIST family's format) and the MNIST, Fashion-MNIST and KMNIST datasets.

IDX: two zero bytes, a dtype code, the number of dims; then each dim as a big-endian uint32;
then the data, big-endian. Files may be gzip-compressed.

The datasets look for their four files in ``root`` when given, else in ``$EMBER_DATA/<name>``,
``~/.cache/ember/<name>`` and ``/usr/share/datasets/<name>`` (Debian's
``dataset-fashion-mnist`` package), and hold the whole split as one uint8 array, so a batch is
a single fancy-index.
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ember.config import default_root
from ember.creation import from_host
from ember.data.dataset import Dataset
from ember.data.download import download_file
from ember.data.transforms import ToTensor

__all__ = [
    "read_idx",
    "write_idx",
    "MNIST",
    "FashionMNIST",
    "KMNIST",
    "IMAGE_DATASETS",
    "search_dirs",
    "fetch",
    "describe_datasets",
]

_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dt.newbyteorder("="): code for code, dt in _IDX_DTYPES.items()}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (raw or ``.gz``) into a native-endian NumPy array, checking its size."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise ValueError(f"read_idx: {path}: truncated or corrupt gzip file ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(
            f"read_idx: {path}: bad magic number {raw[:4].hex() or '(empty)'}: "
            "expected 0000<dtype code><ndim> (not an IDX file)"
        )
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {path}: truncated header: {len(raw)} bytes vs {header}")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = header + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(
            f"read_idx: {path}: wrong size for shape {dims}: {len(raw)} bytes vs {expected} "
            f"({'truncated' if len(raw) < expected else 'trailing data'})"
        )
    arr = np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=True) if dtype.itemsize > 1 else arr.copy()


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``)."""
    array = np.asarray(array)
    code = _IDX_CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"write_idx: unsupported dtype {array.dtype}")
    head = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = head + np.ascontiguousarray(array, dtype=_IDX_DTYPES[code]).tobytes()
    path = Path(path)
    path.write_bytes(gzip.compress(payload, mtime=0) if path.suffix == ".gz" else payload)


_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def search_dirs(name: str, root: str | os.PathLike | None = None) -> list[Path]:
    """Where dataset ``name`` is looked for, in order (only ``root`` when it is given)."""
    if root is not None:
        return [Path(root), Path(root) / name]
    dirs = []
    if os.environ.get("EMBER_DATA"):
        dirs.append(Path(os.environ["EMBER_DATA"]) / name)
    dirs.append(cache_dir() / name)
    dirs.append(Path("/usr/share/datasets") / name)
    return dirs


def cache_dir() -> Path:
    """The download cache: ``$EMBER_DATA`` when set, else ``~/.cache/ember``."""
    return Path(os.environ.get("EMBER_DATA") or default_root())


def _find(stem: str, dirs: Sequence[Path]) -> Path | None:
    for d in dirs:
        for candidate in (d / f"{stem}.gz", d / stem):
            if candidate.is_file():
                return candidate
    return None


class _IDXImages(Dataset):
    """A 28x28 grayscale classification dataset stored as four IDX files."""

    name = ""
    classes: tuple[str, ...] = ()
    mirrors: tuple[str, ...] = ()
    md5: dict[str, str] = {}
    apt_package: str | None = None

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        train: bool = True,
        download: bool = False,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
    ) -> None:
        self.root, self.train = root, train
        self.transform = ToTensor() if transform is None else transform
        self.target_transform = target_transform
        dirs = search_dirs(self.name, root)
        image_stem, label_stem = _FILES[train]
        image_path, label_path = _find(image_stem, dirs), _find(label_stem, dirs)
        if (image_path is None or label_path is None) and download:
            target = Path(root) if root is not None else cache_dir() / self.name
            type(self).fetch(target)
            image_path, label_path = _find(image_stem, [target]), _find(label_stem, [target])
        if image_path is None or label_path is None:
            raise FileNotFoundError(self._missing_message(dirs))
        self.data = read_idx(image_path)
        self.targets = read_idx(label_path).astype(np.int64)
        if self.data.ndim != 3:
            raise ValueError(
                f"{type(self).__name__}: {image_path}: expected images [N, H, W], "
                f"got shape {self.data.shape}"
            )
        if self.targets.ndim != 1 or len(self.targets) != len(self.data):
            raise ValueError(
                f"{type(self).__name__}: {label_path} holds {self.targets.shape} labels but "
                f"{image_path} holds {len(self.data)} images: the files do not belong together"
            )

    def _missing_message(self, dirs: Sequence[Path]) -> str:
        how = [f"download=True (or run `ember data fetch {self.name}`)"]
        if self.apt_package:
            how.insert(0, f"`apt-get install {self.apt_package}`")
        return (
            f"{type(self).__name__}: dataset files not found; looked in: "
            + ", ".join(str(d) for d in dirs)
            + "\nhint: get it with "
            + " or ".join(how)
            + ", or set $EMBER_DATA to a folder holding "
            + f"{self.name}/{_FILES[self.train][0]}.gz"
        )

    @classmethod
    def fetch(cls, target: str | os.PathLike | None = None) -> Path:
        """Download all four files into ``target`` (default: the cache) and return it."""
        target = Path(target) if target is not None else cache_dir() / cls.name
        for stem in (*_FILES[True], *_FILES[False]):
            fname = f"{stem}.gz"
            if not (target / fname).is_file():
                download_file([m + fname for m in cls.mirrors], target / fname, cls.md5[fname])
        return target

    def __len__(self) -> int:
        return len(self.data)

    def get_batch(self, indices: Sequence[int]) -> list[Any]:
        """Images ``[B, 1, H, W]`` (after the transform) and labels ``[B]`` for ``indices``."""
        idx = np.asarray(indices, dtype=np.int64)
        images = self.transform(self.data[idx])
        labels = from_host(self.targets[idx])
        if self.target_transform is not None:
            labels = self.target_transform(labels)
        return [images, labels]

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = self.transform(self.data[[index]])  # transforms work on batches
        label = int(self.targets[index])
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image[0], label

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        return f"{type(self).__name__}(split={split}, samples={len(self)})"


class MNIST(_IDXImages):
    """Handwritten digits 0-9 (LeCun et al.): 60k train / 10k test 28x28 images."""

    name = "mnist"
    classes = tuple(str(i) for i in range(10))
    mirrors = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    )
    md5 = {
        "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
        "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
        "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    }


class FashionMNIST(_IDXImages):
    """Zalando's clothing images (Xiao et al. 2017): a harder drop-in for MNIST."""

    name = "fashion-mnist"
    apt_package = "dataset-fashion-mnist"
    classes = (
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    )
    mirrors = (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    )
    md5 = {
        "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
        "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
        "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
    }


class KMNIST(_IDXImages):
    """Kuzushiji-MNIST (Clanuwat et al. 2018): ten cursive Japanese characters."""

    name = "kmnist"
    classes = ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo")
    mirrors = ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/",)
    md5 = {
        "train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
        "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
        "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
        "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134",
    }


IMAGE_DATASETS: dict[str, type[_IDXImages]] = {
    cls.name: cls for cls in (FashionMNIST, MNIST, KMNIST)
}


def fetch(name: str, root: str | os.PathLike | None = None) -> Path:
    """Download dataset ``name`` (``ember data fetch NAME``) and return its folder."""
    if name not in IMAGE_DATASETS:
        raise ValueError(f"fetch: unknown dataset {name!r}: expected one of {list(IMAGE_DATASETS)}")
    return IMAGE_DATASETS[name].fetch(root)


def describe_datasets() -> str:
    """One line per known dataset: where its training images were found, or how to get it."""
    lines = []
    for name, cls in IMAGE_DATASETS.items():
        found = _find(_FILES[True][0], search_dirs(name))
        where = f"found in {found.parent}" if found else f"missing: ember data fetch {name}"
        lines.append(f"{name:14s} {len(cls.classes)} classes  {where}")
    return "\n".join(lines)
