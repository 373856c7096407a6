"""Whole-step CUDA graphs: a compiled step on a GPU captured once and replayed.

A step launches tens to hundreds of kernels; replaying them as one CUDA graph costs one launch
from the host. ``Replayer`` drives an executor's steps through three phases:

1. **Warm-up** (the first call): the steps run normally, but every allocation comes from a
   private CuPy memory pool, which then holds a block for each allocation the step makes.
2. **Capture** (the next call): the steps run on a capturing stream with the private pool, so
   no allocation needs ``cudaMalloc`` and nothing the graph writes into can be handed to other
   code: the pool is the graph's, and every array of the captured run stays referenced. The
   call's batch is copied into static input buffers; the graph is launched once for this call.
3. **Replay**: the batch is copied into the static buffers and the graph relaunched. Outputs
   and new ``.grad`` tensors are copies (the next replay overwrites the static ones); mutated
   state is written back inside the graph, in place.

Random draws (dropout) are made on the host, as in eager mode, so a graph cannot make them.
Before each launch the replayer makes the step's draws itself, in the order the steps would,
and copies them into the graph's draw buffers: the generator advances exactly as in eager mode,
so a replayed step equals the eager one from the same seed, and every step draws anew.

The guard: the graph bakes in the addresses of the state it reads and writes (parameters,
optimizer state, ``.grad``). When one of them has moved (a parameter reassigned, a ``.grad``
set to None and recreated), the step is captured again. When capture fails (an op that
synchronises with the host), the executor runs its steps one by one from then on, after a
one-line warning.
"""

from __future__ import annotations

import warnings
from typing import Any

from ember.jit.graph import Source

__all__ = ["Replayer"]


class Replayer:
    """Captures an executor's step as a CUDA graph and replays it (module docstring)."""

    def __init__(self, executor: Any) -> None:
        import cupy

        self.executor = executor
        self.pool = cupy.cuda.MemoryPool()
        # warm-up and capture run on one stream: CuPy's pool reuses a freed block only for
        # allocations on the stream that freed it
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.calls = 0
        self.graph: Any = None
        self.key: tuple | None = None
        self.env: list[Any] = []  # every value of the captured run, kept for the replays
        self.captured: tuple[list, list] = ([], [])  # its outputs and gradients (``collect``)
        self.static: dict[int, Any] = {}  # input position -> the buffer a batch is copied into
        self.draws: dict[int, Any] = {}  # draw step -> the buffer its draw is copied into
        self.failed = False

    def _addresses(self, args: list, arrays: list[Any]) -> tuple:
        """Where the state the graph reads and writes lives now (the guard)."""
        ex = self.executor
        reads = tuple(
            a.data.ptr for (_, source, *_), a in zip(ex.inputs, arrays) if source.kind != "arg"
        )
        writes = tuple(_resolve(source, args).data.ptr for source, _, _ in ex.writes)
        return reads + writes

    def run(self, args: list, arrays: list[Any]) -> list | None:
        """The outputs of this call, or None when the executor must run it step by step."""
        import cupy

        if self.failed:
            return None
        self.calls += 1
        if self.calls == 1:  # warm-up: the private pool learns the step's allocations
            cupy.cuda.get_current_stream().synchronize()  # the batch is ready
            with cupy.cuda.using_allocator(self.pool.malloc), self.stream:
                out = self.executor.execute(args, arrays)
            self.stream.synchronize()  # before the caller's stream reads the outputs
            return out
        key = self._addresses(args, arrays)
        if self.graph is None or key != self.key:
            if not self._capture(args, arrays):
                return None
            self.key = key
        else:
            for k, buffer in self.static.items():
                buffer[...] = arrays[k]
            for k, values in self.executor.draw().items():
                self.draws[k][...] = values
        self.graph.launch(stream=cupy.cuda.get_current_stream())
        return self.executor.hand_out(*self.captured, copy=True)

    def _capture(self, args: list, arrays: list[Any]) -> bool:
        """Capture the step with this call's batch in the static buffers; False (after a
        warning, for good) when the step cannot be captured."""
        import cupy

        ex, stream = self.executor, self.stream
        with cupy.cuda.using_allocator(self.pool.malloc):
            static = {}
            for k, ((_, source, *_), a) in enumerate(zip(ex.inputs, arrays)):
                if source.kind == "arg":  # the batch: copied in; state is read where it lives
                    static[k] = _copy(a)
            inputs = [static.get(k, a) for k, a in enumerate(arrays)]
            draws = {k: _copy(values) for k, values in ex.draw().items()}
            with stream:
                stream.begin_capture(mode=cupy.cuda.runtime.streamCaptureModeRelaxed)
                try:
                    env = ex.execute_steps(inputs, keep=True, drawn=draws)
                    captured = ex.collect(args, env)
                except Exception as error:  # noqa: BLE001 (any failure means: no graph)
                    _end_quietly(stream)
                    return self._give_up(error)
                try:
                    graph = stream.end_capture()
                except Exception as error:  # noqa: BLE001
                    return self._give_up(error)
        self.graph, self.env, self.captured = graph, env, captured
        self.static, self.draws = static, draws
        return True

    def _give_up(self, error: BaseException) -> bool:
        self.failed = True
        warnings.warn(
            f"ember.jit: the compiled step cannot be captured as a CUDA graph "
            f"({type(error).__name__}: {error}); its kernels are launched one by one",
            stacklevel=4,
        )
        return False


def _copy(a: Any) -> Any:
    """A copy of ``a`` in new memory (from the allocator in use: the graph's pool)."""
    import cupy

    out = cupy.empty_like(a)
    out[...] = a
    return out


def _end_quietly(stream: Any) -> None:
    """End a capture that failed half-way, so that the stream can be used again."""
    try:
        stream.end_capture()
    except Exception:  # noqa: BLE001 (the capture is invalid: ending it reports that)
        pass


def _resolve(source: Source, args: list) -> Any:
    from ember.jit.executor import resolve

    return resolve(source, args)
