"""Bringing NCCL ranks together: who is which rank, and one shared NCCL id.

The id goes from rank 0 to the others over MPI when an MPI launcher started the ranks, and
otherwise over one TCP connection each to MASTER_ADDR:MASTER_PORT (torchrun's variables, or a
``tcp://host:port`` init_method), where rank 0 listens.
"""

from __future__ import annotations

import os
import socket
import time
from typing import Any

__all__ = ["nccl_world", "share_over_tcp"]


def nccl_world(init_method: str | None, rank: int | None, size: int | None, timeout: float) -> Any:
    """The NCCL backend over all ranks, on GPU ``LOCAL_RANK`` (mod the GPU count)."""
    from ember.distributed.mpi import launched_by_mpi
    from ember.distributed.nccl import NCCLBackend, import_nccl

    import_nccl()
    import cupy

    use_mpi = launched_by_mpi() and size is None
    if use_mpi:
        from ember.distributed.mpi import import_mpi

        comm = import_mpi().COMM_WORLD
        rank, size = comm.Get_rank(), comm.Get_size()
    rank, size = rank or 0, size or 1
    local = int(os.environ.get("LOCAL_RANK", os.environ.get("MPI_LOCALRANKID", rank)))
    cupy.cuda.Device(local % cupy.cuda.runtime.getDeviceCount()).use()
    uid = NCCLBackend.new_id() if rank == 0 else None
    if size > 1:
        if use_mpi:
            uid = comm.bcast(uid, root=0)
        else:
            host, port = _address(init_method)
            payload = bytes(b % 256 for b in uid) if uid is not None else None
            got = share_over_tcp(host, port, rank, size, payload, timeout)
            uid = tuple(b - 256 if b > 127 else b for b in got)
    return NCCLBackend(size, uid, rank)


def _address(init_method: str | None) -> tuple[str, int]:
    if init_method and init_method.startswith("tcp://"):
        host, _, port = init_method[len("tcp://") :].rpartition(":")
        return host, int(port)
    try:
        return os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"])
    except KeyError as exc:
        raise ValueError(
            f"init_process_group('nccl'): {exc.args[0]} is not set\nhint: launch with "
            "`ember run`, torchrun or mpiexec, or pass init_method='tcp://HOST:PORT'"
        ) from None


def share_over_tcp(
    host: str, port: int, rank: int, size: int, payload: bytes | None, timeout: float
) -> bytes:
    """Rank 0 sends ``payload`` to each of the other ``size - 1`` ranks; all return it."""
    deadline = time.monotonic() + timeout
    if rank == 0:
        assert payload is not None
        with socket.create_server((host, port), reuse_port=False) as server:
            server.settimeout(timeout)
            for _ in range(size - 1):
                conn, _ = server.accept()
                with conn:
                    conn.sendall(len(payload).to_bytes(4, "big") + payload)
        return payload
    while True:
        try:
            with socket.create_connection((host, port), timeout=5) as conn:
                data = b""
                while len(data) < 4 or len(data) < 4 + int.from_bytes(data[:4], "big"):
                    chunk = conn.recv(65536)
                    if not chunk:
                        raise ConnectionError("rank 0 closed the connection early")
                    data += chunk
                return data[4:]
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"init_process_group('nccl'): rank {rank} could not reach rank 0 at "
                    f"{host}:{port} within {timeout:g} s"
                ) from None
            time.sleep(0.2)
