"""NVRTC, CUDA's runtime compiler, through ctypes: CUDA C source to a cubin for one GPU
architecture, cached on disk.

NVRTC needs no GPU and no driver, so generated kernels compile (and are tested) on any machine
with the library: the ``nvidia-cuda-nvrtc`` wheel (the ``cuda-compile`` extra), a CUDA toolkit,
or the copy CuPy finds. ``compile_cubin`` returns the cubin's bytes; the executor loads them
with CuPy on a GPU. Cubins are cached in ``cache_dir()`` (``cuda/`` in the jit's kernel
cache), keyed by a hash of the source, the architecture, the options and NVRTC's version.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import glob
import hashlib
import os
import sys
import tempfile
from pathlib import Path

__all__ = [
    "NvrtcError",
    "available",
    "cache_dir",
    "compile_cubin",
    "cubin_file",
    "library",
    "version",
]

OPTIONS = ("--std=c++17",)


class NvrtcError(RuntimeError):
    """NVRTC is missing, or it rejected a program (the message holds its log)."""


def _candidates() -> list[str]:
    """Paths where libnvrtc may live, most specific first: the pip wheels (CUDA 13 and 12
    layouts) in every site-packages, then ``$CUDA_PATH``/``$CUDA_HOME`` and /usr/local/cuda."""
    found: list[str] = []
    for entry in sys.path:
        for layout in ("nvidia/cu13/lib", "nvidia/cuda_nvrtc/lib"):
            found += sorted(glob.glob(os.path.join(entry, layout, "libnvrtc.so*")))
    for root in (os.environ.get("CUDA_PATH"), os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        if root:
            found += sorted(glob.glob(os.path.join(root, "lib64", "libnvrtc.so*")))
    named = ctypes.util.find_library("nvrtc")
    if named:
        found.append(named)
    return [p for p in found if "builtins" not in p and "alt" not in os.path.basename(p)]


def _prefer(paths: list[str], major: int | None) -> list[str]:
    """``paths`` with the libraries of CUDA ``major`` (the GPU runtime's) first."""
    if major is None:
        return paths
    return sorted(paths, key=lambda p: f"libnvrtc.so.{major}" not in p)


@functools.cache
def library(major: int | None = None) -> ctypes.CDLL:
    """The loaded NVRTC library, of CUDA ``major`` when there is a choice (a cubin must not be
    newer than the driver that loads it); NvrtcError when none can be found."""
    tried = _prefer(_candidates(), major)
    for path in tried:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        _declare(lib)
        return lib
    raise NvrtcError(
        "NVRTC (CUDA's runtime compiler) was not found; install it with "
        "pip install 'ember[cuda-compile]' (the nvidia-cuda-nvrtc wheel) or a CUDA toolkit"
        + (f" (tried {', '.join(tried)})" if tried else "")
    )


def available() -> bool:
    """Whether NVRTC can be loaded here."""
    try:
        library()
    except NvrtcError:
        return False
    return True


def _declare(lib: ctypes.CDLL) -> None:
    prog = ctypes.c_void_p
    size = ctypes.POINTER(ctypes.c_size_t)
    signatures = {
        "nvrtcVersion": [ctypes.POINTER(ctypes.c_int)] * 2,
        "nvrtcCreateProgram": [ctypes.POINTER(prog), ctypes.c_char_p, ctypes.c_char_p,
                               ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p],
        "nvrtcCompileProgram": [prog, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)],
        "nvrtcGetProgramLogSize": [prog, size],
        "nvrtcGetProgramLog": [prog, ctypes.c_char_p],
        "nvrtcGetCUBINSize": [prog, size],
        "nvrtcGetCUBIN": [prog, ctypes.c_char_p],
        "nvrtcDestroyProgram": [ctypes.POINTER(prog)],
    }  # fmt: skip
    for name, args in signatures.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = ctypes.c_int
    lib.nvrtcGetErrorString.argtypes = [ctypes.c_int]
    lib.nvrtcGetErrorString.restype = ctypes.c_char_p


def _check(lib: ctypes.CDLL, status: int, what: str) -> None:
    if status != 0:
        raise NvrtcError(f"NVRTC {what} failed: {lib.nvrtcGetErrorString(status).decode()}")


@functools.cache
def version(major: int | None = None) -> tuple[int, int]:
    """NVRTC's (major, minor) version (of the library ``library(major)`` picks)."""
    lib = library(major)
    major, minor = ctypes.c_int(), ctypes.c_int()
    _check(lib, lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "nvrtcVersion")
    return major.value, minor.value


def cache_dir() -> Path:
    """Where cubins are kept: ``cuda/`` in the kernel cache (``ember.config.jit_cache_dir``,
    else ``cache_root() / "jit"``), beside the C kernels."""
    from ember.jit import native

    return native.cache_dir() / "cuda"


def compile_cubin(
    source: str, arch: str, *, name: str = "ember.cu", major: int | None = None
) -> bytes:
    """The cubin of ``source`` for ``arch`` (``"sm_90"``, say): from the cache when this exact
    source, architecture and NVRTC were compiled before. ``major``: prefer the NVRTC of that
    CUDA major version (``library``)."""
    return cubin_file(source, arch, name=name, major=major).read_bytes()


def cubin_file(source: str, arch: str, *, name: str = "ember.cu", major: int | None = None) -> Path:
    """A file holding the cubin of ``source`` for ``arch``: the cache entry (compiled first
    when missing), or a temporary file when the cache cannot be written."""
    if not arch.startswith("sm_") or not arch[3:].isdigit():
        raise ValueError(f"NVRTC architecture must look like 'sm_90', got {arch!r}")
    options = (*OPTIONS, f"--gpu-architecture={arch}")
    key = hashlib.sha256("\0".join([source, *options, repr(version(major))]).encode()).hexdigest()
    path = cache_dir() / f"{key}.cubin"
    if path.is_file():
        return path
    cubin = _compile(source, options, name, library(major))
    if _store(path, cubin):
        return path
    fd, tmp = tempfile.mkstemp(suffix=".cubin")
    with os.fdopen(fd, "wb") as f:
        f.write(cubin)
    return Path(tmp)


def _compile(source: str, options: tuple[str, ...], name: str, lib: ctypes.CDLL) -> bytes:
    prog = ctypes.c_void_p()
    status = lib.nvrtcCreateProgram(
        ctypes.byref(prog), source.encode(), name.encode(), 0, None, None
    )
    _check(lib, status, "nvrtcCreateProgram")
    try:
        argv = (ctypes.c_char_p * len(options))(*[o.encode() for o in options])
        status = lib.nvrtcCompileProgram(prog, len(options), argv)
        if status != 0:
            raise NvrtcError(f"NVRTC could not compile {name}:\n{_log(lib, prog)}")
        size = ctypes.c_size_t()
        _check(lib, lib.nvrtcGetCUBINSize(prog, ctypes.byref(size)), "nvrtcGetCUBINSize")
        buf = ctypes.create_string_buffer(size.value)
        _check(lib, lib.nvrtcGetCUBIN(prog, buf), "nvrtcGetCUBIN")
        return buf.raw
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(prog))


def _log(lib: ctypes.CDLL, prog: ctypes.c_void_p) -> str:
    size = ctypes.c_size_t()
    lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    buf = ctypes.create_string_buffer(size.value)
    lib.nvrtcGetProgramLog(prog, buf)
    return buf.value.decode(errors="replace")


def _store(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` atomically (a reader never sees half a cubin); False when
    the cache cannot be written."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        return False
    return True
