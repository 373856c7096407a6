"""Random number generation: Generator, manual_seed and the random creation functions.

Every random draw goes through a Generator (the global default one unless given), so the
same seed gives the same run. Draws are made on the host (NumPy's PCG64) and copied to the
requested device, so a seed gives the same numbers on CPU and CUDA.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ember import dtypes
from ember.autograd.grad_mode import STATE

__all__ = [
    "Generator",
    "manual_seed",
    "seed",
    "initial_seed",
    "default_generator",
    "get_rng_state",
    "set_rng_state",
    "rand",
    "randn",
    "randint",
    "randperm",
    "normal",
    "bernoulli",
    "multinomial",
    "rand_like",
    "randn_like",
    "randint_like",
    "sample",
]


class Generator:
    """A seeded stream of random numbers (NumPy's PCG64 underneath)."""

    def __init__(self, device: Any = "cpu") -> None:
        self.device = device
        self._seed = 67280421310721  # PyTorch's default seed, for familiarity
        self._rng = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        """Reset the stream to ``seed``."""
        seed = int(seed)
        self._seed = seed
        self._rng = np.random.Generator(np.random.PCG64(seed & (2**64 - 1)))
        return self

    def seed(self) -> int:
        """Seed from OS entropy and return the seed used."""
        s = int(np.random.SeedSequence().entropy % (2**63))
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> Any:
        """The generator state as a uint8 tensor (checkpointable like PyTorch's)."""
        from ember.creation import tensor

        state = self._rng.bit_generator.state
        words = [
            state["state"]["state"],
            state["state"]["inc"],
            state["has_uint32"],
            state["uinteger"],
        ]
        raw = b"".join(int(w).to_bytes(16, "little") for w in words)
        return tensor(np.frombuffer(raw, dtype=np.uint8).copy())

    def set_state(self, new_state: Any) -> Generator:
        """Restore a state returned by ``get_state``."""
        raw = bytes(np.asarray(new_state, dtype=np.uint8).tobytes())
        if len(raw) != 64:
            raise ValueError(f"Generator.set_state: expected a 64-byte state, got {len(raw)}")
        w = [int.from_bytes(raw[i : i + 16], "little") for i in range(0, 64, 16)]
        self._rng.bit_generator.state = {
            "bit_generator": "PCG64",
            "state": {"state": w[0], "inc": w[1]},
            "has_uint32": w[2],
            "uinteger": w[3],
        }
        return self

    @property
    def numpy(self) -> np.random.Generator:
        """The underlying NumPy generator (for kernels that draw on the host)."""
        return self._rng


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (and the CUDA one, when present)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator non-deterministically."""
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state() -> Any:
    return default_generator.get_state()


def set_rng_state(state: Any) -> None:
    default_generator.set_state(state)


def _size(size: Sequence[Any]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    return tuple(int(s) for s in size)


def _finish(arr: np.ndarray, dtype: Any, device: Any, requires_grad: bool) -> Any:
    from ember.creation import from_host

    return from_host(arr, dtype=dtype, device=device, requires_grad=requires_grad)


def _rng(generator: Generator | None) -> np.random.Generator:
    return (generator or default_generator)._rng


def sample(
    draw: Callable[[np.random.Generator], np.ndarray],
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Any:
    """The tensor of ``draw(numpy_generator)``: the one way host random draws become tensors.

    While ``ember.jit`` traces, the draw is recorded in the graph, so every replay draws anew
    from the generator and advances it exactly as the eager call would.
    """
    gen = generator or default_generator

    def produce() -> Any:  # reads gen._rng at call time: manual_seed replaces it
        return _finish(draw(gen._rng), dtype, device, requires_grad)

    tracer = STATE.tracer
    return produce() if tracer is None else tracer.sample(produce)


def _float_dtype(dtype: Any) -> dtypes.dtype:
    d = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
    if not d.is_floating_point:
        raise TypeError(f"random: expected a floating dtype, got {d.name}")
    return d


def _floats(
    method: str, size: tuple, generator: Any, dtype: Any, device: Any, requires_grad: bool
) -> Any:
    """Float64 draws of ``rng.<method>`` cast to a floating dtype (rand, randn)."""
    d, shape = _float_dtype(dtype), _size(size)
    return sample(
        lambda rng: getattr(rng, method)(shape, dtype=np.float64).astype(d.np),
        generator=generator,
        dtype=d,
        device=device,
        requires_grad=requires_grad,
    )


def rand(
    *size: Any,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Any:
    """Uniform samples in [0, 1)."""
    return _floats("random", size, generator, dtype, device, requires_grad)


def randn(
    *size: Any,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Any:
    """Standard normal samples."""
    return _floats("standard_normal", size, generator, dtype, device, requires_grad)


def normal(
    mean: Any = 0.0,
    std: Any = 1.0,
    size: Sequence[int] | None = None,
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
) -> Any:
    """Normal samples with the given mean and std (numbers or tensors)."""
    from ember.tensor import Tensor

    if isinstance(mean, Tensor) or isinstance(std, Tensor):
        like = mean if isinstance(mean, Tensor) else std
        shape = np.broadcast_shapes(tuple(np.shape(mean)), tuple(np.shape(std)))
        base = randn(*shape, generator=generator, dtype=like.dtype, device=like.device)
        return base * std + mean
    return randn(*(size or ()), generator=generator, dtype=dtype, device=device) * std + mean


def randint(
    low: int,
    high: int | None = None,
    size: Sequence[int] = (),
    *,
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
) -> Any:
    """Integers uniformly in [low, high) (``randint(high, size)`` means low = 0)."""
    if isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    d, shape = dtypes.int64 if dtype is None else dtypes.as_dtype(dtype), tuple(size)
    return sample(
        lambda rng: rng.integers(low, high, size=shape, dtype=np.int64).astype(d.np),
        generator=generator,
        dtype=d,
        device=device,
    )


def randperm(
    n: int, *, generator: Generator | None = None, dtype: Any = None, device: Any = None
) -> Any:
    """A random permutation of 0 … n-1."""
    if n < 0:
        raise ValueError(f"randperm: n must be non-negative, got {n}")
    d = dtypes.int64 if dtype is None else dtypes.as_dtype(dtype)
    return sample(
        lambda rng: rng.permutation(n).astype(d.np), generator=generator, dtype=d, device=device
    )


def bernoulli(input: Any, p: Any = None, *, generator: Generator | None = None) -> Any:
    """0s and 1s shaped and typed like ``input``: 1 with probability ``input`` (elementwise
    probabilities), or ``p`` (a number or a tensor broadcast to input's shape) when given."""
    from ember.tensor import Tensor

    probs = input if p is None else p
    host = probs.detach().cpu().numpy() if isinstance(probs, Tensor) else np.asarray(probs)
    if not np.all((host >= 0) & (host <= 1)):
        raise RuntimeError("bernoulli: expected every probability to be in [0, 1]")
    host = np.broadcast_to(host, tuple(input.shape))
    return sample(
        lambda rng: (rng.random(host.shape) < host).astype(input.dtype.np),
        generator=generator,
        dtype=input.dtype,
        device=input.device,
    )


def multinomial(
    input: Any, num_samples: int, replacement: bool = False, *, generator: Generator | None = None
) -> Any:
    """Sample category indices from (unnormalised) rows of ``input``."""
    p = np.asarray(input._host("multinomial"), dtype=np.float64)
    if p.ndim not in (1, 2):
        raise ValueError(f"multinomial: probs must be 1-D or 2-D, got shape {p.shape}")
    rows = p.reshape(-1, p.shape[-1])
    sums = rows.sum(axis=1)
    # (p >= 0 is false at a NaN; an infinite entry makes its row's sum infinite)
    if not ((p >= 0).all() and np.isfinite(sums).all() and (sums > 0).all()):
        if (p < 0).any() or not np.isfinite(p).all():
            raise ValueError(
                "multinomial: probability tensor contains either inf, nan or element < 0"
            )
        raise ValueError("multinomial: each row of probs must have a positive, finite sum")
    if not replacement and num_samples > rows.shape[1]:
        raise ValueError(
            f"multinomial: cannot sample {num_samples} > {rows.shape[1]} "
            "categories without replacement"
        )
    rng = _rng(generator)
    draw = _inverse_cdf if replacement or num_samples == 1 else _without_replacement
    out = draw(rng, rows, num_samples)
    out = out.astype(np.int64).reshape(p.shape[:-1] + (num_samples,))
    return _finish(out, dtypes.int64, input.device, False)


def _inverse_cdf(rng: np.random.Generator, rows: np.ndarray, num_samples: int) -> np.ndarray:
    """``num_samples`` draws with replacement per row, exactly as ``rng.choice(n, num_samples,
    p=r / r.sum())`` row by row would draw them (the same uniforms, the same rounding; one
    draw without replacement is the same), without choice's checks (15-40 us per row)."""
    uniforms = rng.random((rows.shape[0], num_samples))  # row after row, as per-row calls
    picks = np.empty(uniforms.shape, dtype=np.int64)
    for r, u, out in zip(rows, uniforms, picks):
        cdf = (r / r.sum()).cumsum()
        cdf /= cdf[-1]
        out[:] = cdf.searchsorted(u, side="right")
    return picks


def _without_replacement(
    rng: np.random.Generator, rows: np.ndarray, num_samples: int
) -> np.ndarray:
    """``num_samples`` distinct draws per row (NumPy's choice)."""
    n = rows.shape[1]
    return np.stack([rng.choice(n, size=num_samples, replace=False, p=r / r.sum()) for r in rows])


def rand_like(x: Any, *, dtype: Any = None, generator: Generator | None = None) -> Any:
    return rand(*x.shape, dtype=dtype or x.dtype, device=x.device, generator=generator)


def randn_like(x: Any, *, dtype: Any = None, generator: Generator | None = None) -> Any:
    return randn(*x.shape, dtype=dtype or x.dtype, device=x.device, generator=generator)


def randint_like(x: Any, low: int, high: int | None = None, *, dtype: Any = None) -> Any:
    return randint(low, high, tuple(x.shape), dtype=dtype or x.dtype, device=x.device)
