"""The CUDA-graph replayer's phases without a GPU: a stand-in CuPy records what it is asked to
do (streams, captures, launches, pools) and a stand-in executor what runs. On a GPU the real
thing is tested in tests/backends/test_cuda_jit.py."""

from __future__ import annotations

import contextlib
import sys
import types
from typing import Any

import numpy as np
import pytest

from ember.jit import cuda_graph
from ember.jit.graph import Source


class _Array(np.ndarray):
    """A NumPy array with CuPy's ``.data.ptr``."""

    @property
    def data(self) -> Any:  # type: ignore[override]
        return types.SimpleNamespace(ptr=self.__array_interface__["data"][0])


def _array(values: Any) -> _Array:
    return np.array(values, dtype=np.float32).view(_Array)


class _Stream:
    def __init__(self, log: list, fail_capture: bool) -> None:
        self.log, self.fail, self.capturing = log, fail_capture, False

    def __enter__(self) -> _Stream:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def synchronize(self) -> None:
        self.log.append("sync")

    def begin_capture(self, mode: Any = None) -> None:
        self.capturing = True
        self.log.append("begin")

    def end_capture(self) -> Any:
        self.capturing = False
        self.log.append("end")
        if self.fail:
            raise RuntimeError("operation not permitted when stream is capturing")
        log = self.log
        return types.SimpleNamespace(launch=lambda stream=None: log.append("launch"))


def _fake_cupy(log: list, fail_capture: bool = False) -> types.ModuleType:
    cupy = types.ModuleType("cupy")
    streams: list = []

    def stream(non_blocking: bool = False) -> _Stream:
        streams.append(_Stream(log, fail_capture))
        return streams[-1]

    @contextlib.contextmanager
    def using_allocator(malloc: Any) -> Any:
        log.append("private-pool")
        yield

    current = _Stream(log, False)
    cupy.cuda = types.SimpleNamespace(
        MemoryPool=lambda: types.SimpleNamespace(malloc=object()),
        Stream=stream,
        using_allocator=using_allocator,
        get_current_stream=lambda: current,
        runtime=types.SimpleNamespace(streamCaptureModeRelaxed=1),
    )
    cupy.empty_like = lambda a: np.empty_like(a).view(_Array)
    return cupy


class _Executor:
    """What the replayer needs of an executor: one batch input, one parameter it updates."""

    def __init__(self, log: list) -> None:
        self.log = log
        self.param = _array([1.0, 2.0])
        self.inputs = [(0, Source("arg", 0)), (1, Source("data", 0))]  # (slot, source)
        self.writes: list = []
        self.draws = 0  # how many times the step's random draws were made

    def execute(self, args: list, arrays: list) -> list:
        self.log.append("steps")
        return ["eager"]

    def execute_steps(self, arrays: list, *, keep: bool = False, drawn: dict) -> list:
        self.log.append("captured-steps")
        assert keep and list(drawn) == [7]
        return [*arrays, drawn[7]]

    def draw(self) -> dict:
        """One draw step (number 7): the call's count, so each call's draw differs."""
        self.draws += 1
        self.log.append("draw")
        return {7: _array([self.draws, self.draws])}

    def collect(self, args: list, env: list) -> tuple[list, list]:
        return [env[0], env[2]], []

    @staticmethod
    def hand_out(results: list, grads: list, *, copy: bool = False) -> list:
        assert copy
        return [np.array(r) for r in results]


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> list:
    entries: list = []
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(entries))
    return entries


def test_warm_up_then_capture_then_replays_copying_the_batch_in(log: list) -> None:
    ex = _Executor(log)
    replayer = cuda_graph.Replayer(ex)
    batch = _array([3.0, 4.0])
    assert replayer.run([], [batch, ex.param]) == ["eager"]  # warm-up, private pool
    assert "private-pool" in log and "steps" in log and replayer.graph is None
    log.clear()
    out = replayer.run([], [batch, ex.param])  # draw, capture, then one launch
    assert log.index("draw") < log.index("begin") < log.index("captured-steps")
    assert log.index("captured-steps") < log.index("end") < log.index("launch")
    np.testing.assert_array_equal(out[0], batch)
    assert out[1].tolist() == [1.0, 1.0] and ex.draws == 1  # the capture call's own draw
    static = replayer.static[0]
    assert static is not batch and list(replayer.static) == [0]  # the batch only, not the state
    log.clear()
    replayer.run([], [_array([5.0, 6.0]), ex.param])  # replay: the new batch and draws copied
    assert log == ["draw", "launch"] and static.tolist() == [5.0, 6.0]
    assert replayer.draws[7].tolist() == [2.0, 2.0]  # drawn anew, into the graph's buffer


def test_moved_state_is_captured_again(log: list) -> None:
    ex = _Executor(log)
    replayer = cuda_graph.Replayer(ex)
    batch = _array([3.0, 4.0])
    for _ in range(3):
        replayer.run([], [batch, ex.param])
    first = replayer.graph
    moved = _array([1.0, 2.0])  # the same values at another address
    log.clear()
    replayer.run([], [batch, moved])
    assert "begin" in log and replayer.graph is not first


def test_a_failed_capture_warns_once_and_hands_back_to_the_executor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    entries: list = []
    monkeypatch.setitem(sys.modules, "cupy", _fake_cupy(entries, fail_capture=True))
    ex = _Executor(entries)
    replayer = cuda_graph.Replayer(ex)
    batch = _array([3.0, 4.0])
    replayer.run([], [batch, ex.param])
    with pytest.warns(UserWarning, match="cannot be captured as a CUDA graph.*one by one"):
        assert replayer.run([], [batch, ex.param]) is None
    assert replayer.failed and replayer.run([], [batch, ex.param]) is None


def test_the_executor_runs_given_draws_in_place_of_drawing() -> None:
    import ember

    @ember.jit
    def fn(x: ember.Tensor) -> ember.Tensor:
        return ember.nn.functional.dropout(x, 0.5, training=True) * 3.0

    x = ember.ones(4, 5)
    for _ in range(3):
        fn(x)
    ex = fn._last.executor
    (k,) = ex.draw_steps
    drawn = ex.draw()  # what the step would draw now, in order
    assert list(drawn) == [k]
    given = np.full_like(np.asarray(drawn[k]), 0.75)
    env = ex.execute_steps(ex.bind([x]), drawn={k: given})
    results, _ = ex.collect([x], env)
    # dropout keeps what the draw says to keep: 0.75 everywhere is above p for every element,
    # or below it for every element, so the result is uniform either way
    assert len(np.unique(results[0])) == 1
    env = ex.execute_steps(ex.bind([x]), drawn={k: np.zeros_like(given)})
    assert not np.array_equal(ex.collect([x], env)[0][0], results[0])
