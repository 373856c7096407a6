"""``ember.save`` / ``ember.load`` in PyTorch's own checkpoint format (``torch.serialization``).

The file is the zip archive that ``torch.save`` writes by default: ``<prefix>/data.pkl`` (a
protocol-2 pickle of the object, tensors as ``torch._utils._rebuild_tensor_v2`` calls on
persistent storage ids), one ``<prefix>/data/<key>`` record of raw bytes per storage, and the
``version``, ``byteorder``, ``.format_version`` and ``.storage_alignment`` records. Neither
direction needs torch installed.

Loading never runs code from the file: the unpickler resolves only an allow-list of globals
(tensor and parameter rebuilding, storage types, dtypes, ``torch.Size``, ``torch.device``,
``collections.OrderedDict`` and ``_codecs.encode`` for bytes) to ember's own safe stand-ins,
and refuses every other global by name. See ``docs/serialization.md``.
"""

from __future__ import annotations

import codecs
import io
import os
import pickle
import struct
import sys
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from typing import IO, Any, Union

import numpy as np

from ember import dtypes
from ember.arrays import Device, backend_of, cuda_available
from ember.tensor import Size, Tensor

__all__ = [
    "save",
    "load",
    "add_safe_globals",
    "get_safe_globals",
    "clear_safe_globals",
    "safe_globals",
]

FileLike = Union[str, os.PathLike, IO[bytes]]
MapLocation = Union[None, str, Device, dict, Callable[[Tensor, str], Any], Any]

_ALIGNMENT = 64  # torch aligns every record's data to 64 bytes (so that mmap can map it)
_PREFIX = "archive"

# torch's typed storage classes name the element type of a storage in the pickle
_STORAGE_DTYPES = {
    "FloatStorage": dtypes.float32,
    "DoubleStorage": dtypes.float64,
    "HalfStorage": dtypes.float16,
    "BFloat16Storage": dtypes.bfloat16,  # raw 2-byte values; ember.bfloat16 needs ml_dtypes
    "CharStorage": dtypes.int8,
    "ShortStorage": dtypes.int16,
    "IntStorage": dtypes.int32,
    "LongStorage": dtypes.int64,
    "ByteStorage": dtypes.uint8,
    "BoolStorage": dtypes.bool_,
    "UntypedStorage": dtypes.uint8,  # a raw byte storage: its numel counts bytes
}
_STORAGE_NAMES = {d: name for name, d in _STORAGE_DTYPES.items() if name != "UntypedStorage"}
# torch.<name> dtype globals
_DTYPE_NAMES = {
    **{d.name: d for d in dtypes.ALL},
    "half": dtypes.float16,
    "float": dtypes.float32,
    "double": dtypes.float64,
    "short": dtypes.int16,
    "int": dtypes.int32,
    "long": dtypes.int64,
}


# -- save ---------------------------------------------------------------------------------------
class _Global:
    """A global the pickle names by module and name without importing it (``torch.*``)."""

    __slots__ = ("module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def __call__(self, *args: Any) -> Any:  # save_reduce wants a callable; never called
        raise TypeError(f"{self.module}.{self.name} is only a name in a pickle")


_REBUILD_TENSOR = _Global("torch._utils", "_rebuild_tensor_v2")
_REBUILD_PARAMETER = _Global("torch._utils", "_rebuild_parameter")
_ORDERED_DICT = _Global("collections", "OrderedDict")
_TORCH_SIZE = _Global("torch", "Size")
_TORCH_DEVICE = _Global("torch", "device")
_STORAGE_GLOBALS = {d: _Global("torch", name) for d, name in _STORAGE_NAMES.items()}
_DTYPE_GLOBALS = {d: _Global("torch", d.name) for d in dtypes.ALL}
_PLAIN = (dict, list, tuple, str, int, float, bool, bytes, type(None), _Global, dtypes.dtype)


class _Storage:
    """One storage to write: a contiguous host array and the record key it is saved under."""

    __slots__ = ("array", "key", "location")

    def __init__(self, array: np.ndarray, key: str, location: str) -> None:
        self.array, self.key, self.location = array, key, location


class _Pickler(pickle._Pickler):
    """Pickles ember objects as torch.save does: tensors into storages, containers and plain
    values as torch's weights_only loader reads them, other objects by class reference.

    The pure-Python pickler is used because it lets ``torch.*`` globals be written by name:
    the C pickler would import torch to check them.
    """

    def __init__(self, file: IO[bytes]) -> None:
        super().__init__(file, protocol=2)
        self.storages: list[_Storage] = []
        self._by_root: dict[int, tuple[np.ndarray, _Storage]] = {}

    def _write_global(self, obj: _Global) -> None:
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    def _write_dtype(self, obj: dtypes.dtype) -> None:
        self.save(_DTYPE_GLOBALS[obj])  # through save(): a repeated global comes from the memo

    dispatch = dict(pickle._Pickler.dispatch)
    dispatch[_Global] = _write_global
    dispatch[dtypes.dtype] = _write_dtype

    def persistent_id(self, obj: Any) -> Any:
        if isinstance(obj, _Storage):
            dtype = dtypes.from_numpy_dtype(obj.array.dtype)
            return ("storage", _STORAGE_GLOBALS[dtype], obj.key, obj.location, obj.array.size)
        return None

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) in _PLAIN or obj is codecs.encode:  # protocol 2 pickles bytes with it
            return NotImplemented
        if isinstance(obj, Tensor):
            return self._reduce_tensor(obj)
        if type(obj) is OrderedDict:
            return _ORDERED_DICT, (), None, None, iter(obj.items())
        if type(obj) is Size:
            return _TORCH_SIZE, (tuple(obj),)
        if isinstance(obj, Device):
            return _TORCH_DEVICE, (str(obj),)
        # anything else (a whole nn.Module, a set) is pickled by reference to its class, as
        # torch.save does; only ember.load(..., weights_only=False) reads it back
        return NotImplemented

    def _reduce_tensor(self, t: Tensor) -> tuple:
        from ember.nn.parameter import Parameter

        if isinstance(t, Parameter):  # torch: the parameter wraps a plain tensor of its data
            return _REBUILD_PARAMETER, (Tensor._wrap(t._data), t.requires_grad, OrderedDict())
        array = t._data
        location = str(t.device)
        if type(array) is not np.ndarray:  # a GPU array: copied to the host, its own storage
            array = backend_of(array).to_host(array)
        storage, offset, strides = self._storage_of(array, location)
        return _REBUILD_TENSOR, (
            storage,
            offset,
            tuple(array.shape),
            strides,
            t.requires_grad,
            OrderedDict(),
        )

    def _storage_of(self, a: np.ndarray, location: str) -> tuple[_Storage, int, tuple]:
        """The storage holding ``a`` (shared with every other view of the same memory), and
        ``a``'s offset and strides in elements within it."""
        root = a
        while isinstance(root.base, np.ndarray):
            root = root.base
        item = a.itemsize
        lo, root_lo = _address(a), _address(root)
        shareable = (
            a.size > 0
            and (root.flags.c_contiguous or root.flags.f_contiguous)
            and root.nbytes % item == 0
            and (lo - root_lo) % item == 0
            and all(s >= 0 and s % item == 0 for s in a.strides)
        )
        if shareable:
            known = self._by_root.get(id(root))
            if known is None:
                flat = root.reshape(-1, order="A").view(np.uint8).view(a.dtype)
                storage = self._new_storage(flat, location)
                self._by_root[id(root)] = (root, storage)  # root kept alive: its id stays unique
            else:
                storage = known[1]
            if storage.array.dtype == a.dtype:
                offset = (lo - _address(storage.array)) // item
                return storage, offset, tuple(s // item for s in a.strides)
        # no shared storage to point into (negative strides, another dtype, empty): a copy
        c = np.ascontiguousarray(a).reshape(-1)
        return self._new_storage(c, location), 0, _contiguous_strides(a.shape)

    def _new_storage(self, flat: np.ndarray, location: str) -> _Storage:
        storage = _Storage(flat, str(len(self.storages)), location)
        self.storages.append(storage)
        return storage


def _address(a: np.ndarray) -> int:
    """The address of element 0 (the lowest one when no stride is negative)."""
    return int(a.__array_interface__["data"][0])


def _contiguous_strides(shape: tuple) -> tuple:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


class _Counting:
    """Counts the bytes written to a non-seekable stream, so that records can be aligned."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.pos = raw, 0

    def write(self, b: bytes) -> int:
        self.raw.write(b)
        self.pos += len(b)
        return len(b)

    def tell(self) -> int:
        return self.pos

    def flush(self) -> None:
        self.raw.flush()


def _write_record(zf: zipfile.ZipFile, out: Any, name: str, data: Any) -> None:
    """One stored (uncompressed) record whose data starts on a 64-byte boundary."""
    info = zipfile.ZipInfo(f"{_PREFIX}/{name}", date_time=(1980, 1, 1, 0, 0, 0))
    info.file_size = size = memoryview(data).nbytes
    header = 30 + len(info.filename.encode()) + (20 if size * 1.05 > zipfile.ZIP64_LIMIT else 0)
    pad = -(out.tell() + header) % _ALIGNMENT
    if pad:
        pad += _ALIGNMENT if pad < 4 else 0  # an extra field needs 4 bytes of its own header
        info.extra = struct.pack("<HH", 0xE5E5, pad - 4) + bytes(pad - 4)
    with zf.open(info, "w") as w:
        w.write(data)


def save(obj: Any, f: FileLike) -> None:
    """Save ``obj`` in ``torch.save``'s zip format. A state_dict, an optimizer state_dict or
    nested containers of tensors and plain values are read by ``torch.load(f)`` and
    ``ember.load(f)`` (weights only); other objects, a whole ``nn.Module`` say, are pickled by
    reference to their classes and need ``ember.load(f, weights_only=False)``, as in torch.

    Tensors that view one memory are saved as views of one storage, as torch does.
    """
    pkl = io.BytesIO()
    pickler = _Pickler(pkl)
    pickler.dump(obj)
    records: list[tuple[str, Any]] = [
        ("data.pkl", pkl.getvalue()),
        (".format_version", b"1"),
        (".storage_alignment", str(_ALIGNMENT).encode()),
        ("byteorder", sys.byteorder.encode()),
        *((f"data/{s.key}", s.array.view(np.uint8)) for s in pickler.storages),
        ("version", b"3\n"),
    ]

    own = isinstance(f, (str, os.PathLike))
    raw: IO[bytes] = open(f, "wb") if own else f  # noqa: SIM115 - closed below
    try:
        try:
            raw.tell()
            out: Any = raw
        except (AttributeError, OSError):
            out = _Counting(raw)
        with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for name, data in records:
                _write_record(zf, out, name, data)
    finally:
        if own:
            raw.close()


# -- load ---------------------------------------------------------------------------------------
class _StorageType:
    """What a ``torch.<X>Storage`` global resolves to: just the element dtype."""

    __slots__ = ("dtype",)

    def __init__(self, dtype: dtypes.dtype) -> None:
        self.dtype = dtype


_STORAGE_TYPES = {name: _StorageType(d) for name, d in _STORAGE_DTYPES.items()}


def _rebuild_tensor(
    storage: Tensor,
    offset: int,
    size: tuple,
    stride: tuple,
    requires_grad: bool = False,
    backward_hooks: Any = None,
    metadata: Any = None,
) -> Tensor:
    """A view of ``storage`` (a 1-D tensor) with torch's offset, size and stride in elements;
    the bounds are checked so that a crafted file cannot reach memory outside the storage."""
    if not isinstance(storage, Tensor) or storage.ndim != 1 or not storage.is_contiguous():
        raise pickle.UnpicklingError("ember.load: a tensor's storage is not a saved storage")
    if (
        not isinstance(size, tuple)
        or not isinstance(stride, tuple)
        or len(size) != len(stride)
        or not all(type(v) is int and v >= 0 for v in (offset, *size, *stride))
    ):
        raise pickle.UnpicklingError(
            f"ember.load: bad tensor layout (offset={offset!r}, size={size!r}, stride={stride!r})"
        )
    n = storage.numel()
    empty = any(s == 0 for s in size)
    last = offset + sum((s - 1) * st for s, st in zip(size, stride)) if not empty else offset - 1
    if offset > n or last >= n:
        raise pickle.UnpicklingError(
            f"ember.load: a tensor of size {size} and stride {stride} at offset {offset} "
            f"reaches outside its storage of {n} elements"
        )
    data = storage._data
    item = data.itemsize
    shape, strides = tuple(size), tuple(st * item for st in stride)
    if type(data) is np.ndarray:
        view = np.ndarray(shape, data.dtype, buffer=data, offset=offset * item, strides=strides)
    else:
        xp = backend_of(data).xp
        view = xp.lib.stride_tricks.as_strided(data[offset:], shape, strides)
    t = Tensor._wrap(view)
    t.requires_grad = bool(requires_grad)
    return t


def _rebuild_parameter(data: Tensor, requires_grad: bool, backward_hooks: Any = None) -> Any:
    from ember.nn.parameter import Parameter

    return Parameter(data, bool(requires_grad))


def _encode(text: str, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for ``bytes``: text codecs only."""
    if not isinstance(text, str) or codecs.lookup(encoding).name not in ("iso8859-1", "utf-8"):
        raise pickle.UnpicklingError(f"ember.load: _codecs.encode with {encoding!r} refused")
    return text.encode(encoding)


_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,  # as torch's weights-only loader (protocol 2 names it __builtin__)
    ("__builtin__", "set"): set,
    ("torch", "Size"): Size,
    ("torch", "device"): Device,
    ("_codecs", "encode"): _encode,
    **{("torch", name): st for name, st in _STORAGE_TYPES.items()},
    **{("torch", name): d for name, d in _DTYPE_NAMES.items()},
}


_SAFE_GLOBALS: list[Any] = []  # added by the program (add_safe_globals, safe_globals)


def add_safe_globals(safe: list[Any]) -> None:
    """Let weights-only loading also rebuild these classes and functions (or ``(obj, name)``
    pairs, matched by the name the file uses), as ``torch.serialization.add_safe_globals``:
    for files of your own that hold objects of your own classes."""
    _SAFE_GLOBALS.extend(safe)


def get_safe_globals() -> list[Any]:
    """The globals ``add_safe_globals`` allowed so far."""
    return list(_SAFE_GLOBALS)


def clear_safe_globals() -> None:
    """Forget every global ``add_safe_globals`` allowed."""
    _SAFE_GLOBALS.clear()


class safe_globals:
    """``with ember.serialization.safe_globals([...]):`` allows globals for the block only."""

    def __init__(self, safe: list[Any]) -> None:
        self.safe = list(safe)

    def __enter__(self) -> None:
        self._before = len(_SAFE_GLOBALS)
        add_safe_globals(self.safe)

    def __exit__(self, *exc: Any) -> None:
        del _SAFE_GLOBALS[self._before :]


def _safe_global(module: str, name: str) -> Any:
    """The program-allowed global the file names ``module.name``, or None."""
    for entry in _SAFE_GLOBALS:
        obj, full = entry if isinstance(entry, tuple) else (entry, None)
        if full is None:
            full = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', '')}"
        if full == f"{module}.{name}":
            return obj
    return None


class _Unpickler(pickle.Unpickler):
    """Resolves the allow-listed globals (torch's tensor-rebuilding names map to ember's) and,
    only when ``weights_only`` is off, any other global; storages come from the archive."""

    def __init__(
        self, data: IO[bytes], load_storage: Callable[[tuple], Tensor], weights_only: bool
    ) -> None:
        super().__init__(data)
        self._load_storage = load_storage
        self._weights_only = weights_only

    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name)) or _safe_global(module, name)
        if found is not None:
            return found
        if module == "torch" and name.endswith("Storage"):
            kind = name[: -len("Storage")] or name
            raise pickle.UnpicklingError(
                f"ember.load: cannot load {kind} tensors (torch.{name}): ember has no such dtype"
            )
        if not self._weights_only:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"ember.load: refusing to load global {module}.{name}: with weights_only=True "
            "ember only rebuilds tensors, parameters, containers and dtypes, and never runs "
            "code from a checkpoint\nhint: a file holding a whole object (torch.save(model, "
            "f)) loads with ember.serialization.safe_globals([its classes]) around the load, or "
            "with ember.load(f, weights_only=False), which runs code from the file: only for "
            "files you trust"
        )

    def persistent_load(self, pid: Any) -> Tensor:
        if (
            not isinstance(pid, tuple)
            or len(pid) != 5
            or pid[0] != "storage"
            or not isinstance(pid[1], _StorageType)
            or not isinstance(pid[2], str)
            or not isinstance(pid[3], str)
            or type(pid[4]) is not int
        ):
            raise pickle.UnpicklingError(f"ember.load: unsupported persistent id {pid!r}")
        return self._load_storage(pid)


def _target_device(location: str, map_location: MapLocation) -> Device:
    """Where a storage saved at ``location`` goes (the callable form is handled by the caller)."""
    if isinstance(map_location, dict):
        target = map_location.get(location, location)
    elif map_location is None:
        target = location
    else:
        target = map_location
    try:
        dev = Device(str(target))  # a str, an ember device or a torch.device
    except ValueError:
        raise RuntimeError(
            f"ember.load: a storage is on device {str(target)!r}, which ember does not have\n"
            "hint: pass map_location='cpu'"
        ) from None
    if dev.type == "cuda" and not cuda_available():
        raise RuntimeError(
            f"ember.load: a storage is on {str(target)!r} but CUDA is not available\n"
            "hint: pass map_location='cpu'"
        )
    return dev


def _open_archive(f: FileLike) -> tuple[zipfile.ZipFile, str, str]:
    """The archive, its record prefix and a name for messages; a clear error for anything
    that is not torch.save's zip format."""
    name = os.fspath(f) if isinstance(f, (str, os.PathLike)) else getattr(f, "name", repr(f))
    expected = "expected a PyTorch zip checkpoint (torch.save's default format since PyTorch 1.6)"
    try:
        zf = zipfile.ZipFile(f)
    except zipfile.BadZipFile:
        if isinstance(f, (str, os.PathLike)):
            with open(f, "rb") as fh:
                head = fh.read(2)
        else:
            f.seek(0)
            head = f.read(2)
        legacy = head == b"\x80\x02"
        raise RuntimeError(
            f"ember.load: {name} is not a zip archive: {expected}"
            + (
                "; this looks like the legacy format (_use_new_zipfile_serialization=False), "
                "which ember does not read: re-save it with a current torch.save"
                if legacy
                else ""
            )
        ) from None
    pkls = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pkls) != 1:
        zf.close()
        raise RuntimeError(
            f"ember.load: {name} is a zip archive without a <prefix>/data.pkl record: {expected} "
            "(TorchScript archives and other zips are not read)"
        )
    return zf, pkls[0][: -len("data.pkl")], name


def load(
    f: FileLike,
    map_location: MapLocation = None,
    *,
    weights_only: bool | None = True,
    mmap: bool | None = None,
) -> Any:
    """Load a file written by ``torch.save`` (or ``ember.save``), without torch.

    ``map_location`` is a device (``"cpu"``, ``ember.device``, a ``torch.device``), a dict
    mapping saved locations to devices, or ``fn(storage, location)`` returning a 1-D storage
    tensor (or None for the default). ``weights_only`` (the default, as in torch) rebuilds
    only tensors, containers and plain values and never runs code from the file;
    ``weights_only=False`` unpickles any object (a whole ``nn.Module``), which imports and runs
    what the file names: only for files you trust. ``mmap`` is accepted for compatibility;
    the data is read into memory.
    """
    zf, prefix, name = _open_archive(f)
    with zf:
        names = set(zf.namelist())
        order = "little"
        if prefix + "byteorder" in names:
            order = zf.read(prefix + "byteorder").decode().strip()
            if order not in ("little", "big"):
                raise RuntimeError(f"ember.load: {name}: unknown byteorder {order!r}")
        storages: dict[str, Tensor] = {}

        def load_storage(pid: tuple) -> Tensor:
            _, storage_type, key, location, numel = pid
            if key in storages:
                return storages[key]
            record = f"{prefix}data/{key}"
            dtype = storage_type.dtype
            if record not in names:
                raise RuntimeError(f"ember.load: {name} has no record {record!r}")
            info = zf.getinfo(record)
            if info.file_size != numel * dtype.itemsize:
                raise RuntimeError(
                    f"ember.load: {name}: record {record!r} holds {info.file_size} bytes, "
                    f"not {numel} {dtype.name} elements"
                )
            raw = np.empty(info.file_size, np.uint8)
            with zf.open(info) as src:
                view, got = memoryview(raw), 0
                while got < info.file_size:
                    n = src.readinto(view[got:])
                    if not n:
                        raise RuntimeError(f"ember.load: {name}: record {record!r} is truncated")
                    got += n
            array = raw.view(dtype.np.newbyteorder("<" if order == "little" else ">"))
            if not array.dtype.isnative:
                array = array.byteswap().view(dtype.np)
            storage = Tensor._wrap(array)
            if callable(map_location):
                moved = map_location(storage, location)
                if moved is not None:
                    if not isinstance(moved, Tensor) or (moved.shape, moved.dtype) != (
                        storage.shape,
                        storage.dtype,
                    ):
                        raise TypeError(
                            "ember.load: map_location(storage, location) must return the "
                            "1-D storage tensor (moved) or None"
                        )
                    storage = moved
                else:
                    storage = storage.to(_target_device(location, None))
            else:
                storage = storage.to(_target_device(location, map_location))
            storages[key] = storage
            return storage

        with zf.open(prefix + "data.pkl") as pkl:
            return _Unpickler(pkl, load_storage, weights_only is not False).load()
