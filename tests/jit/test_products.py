"""The compiled step's matrix products into planned buffers (``matmul_kernels.product_step``)
make the BLAS call NumPy's matmul makes, so they give its bits: on every layout, batch and
special shape, and through matmul itself where NumPy does something else."""

from __future__ import annotations

import numpy as np
import pytest

from ember.jit import blas, matmul_kernels, native

pytestmark = pytest.mark.skipif(
    blas.find() is None or native.compiler() is None, reason="needs a C compiler and CBLAS"
)


def _cases() -> list[tuple[str, np.ndarray, np.ndarray, bool]]:
    """(name, a, b, whether the product is called from C: otherwise NumPy makes no single
    GEMM or GEMV of it)."""
    rng = np.random.default_rng(0)

    def r(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32)

    wide = r(40, 50)
    square = r(24, 24)
    return [
        ("row times transposed weight (decoding)", r(1, 1, 128), r(384, 128).T, True),
        ("row times matrix", r(1, 64), r(64, 32), True),
        ("row with a stride times matrix", r(1, 64, 2)[:, :, 0], r(64, 32), True),
        ("matrix times matrix", r(33, 20), r(20, 17), True),
        ("transposed times transposed", r(20, 33).T, r(17, 20).T, True),
        ("stack of rows times weight (nn.Linear)", r(3, 7, 20), r(20, 9), True),
        ("strided stack times weight", r(3, 14, 20)[:, ::2], r(20, 9), True),
        ("heads times heads", r(2, 4, 5, 8), r(2, 4, 8, 6), True),
        ("one query per head (decoding attention)", r(1, 4, 1, 32), r(1, 4, 32, 64), True),
        ("batch times one broadcast matrix", r(4, 5, 8)[::2], r(8, 3), True),
        ("a batch broadcast along one of two dims", r(2, 3, 4, 5), r(1, 3, 5, 6), False),
        ("a view of columns", wide[:, 5:45], r(40, 6), True),
        ("a matrix times its own transpose (SYRK)", square, square.T, False),
        ("matrix times column", r(6, 5), r(5, 1), False),
        ("row times column", r(1, 5), r(5, 1), False),
        ("inner dimension 1", r(6, 1), r(1, 7), False),
        ("double precision", r(9, 4).astype(np.float64), r(4, 11).astype(np.float64), True),
        ("empty", r(0, 4), r(4, 3), False),
    ]


@pytest.mark.parametrize("name,a,b,direct", _cases(), ids=[c[0] for c in _cases()])
def test_a_direct_product_gives_numpys_bits(
    name: str, a: np.ndarray, b: np.ndarray, direct: bool
) -> None:
    # quiet, as the executor runs its steps (and eager MatMul): OpenBLAS's kernels can leave a
    # floating-point flag raised on finite data, which NumPy reports as a warning (it did
    # here once, in CI, for a GEMV; numpy issues 13173 and 24067)
    with np.errstate(all="ignore"):
        want = np.matmul(a, b)
        out = np.full(want.shape, np.nan, want.dtype)
        step = matmul_kernels.product_step(0, 1, 2, want.dtype)
        env = [a, b, out]
        for _ in range(2):  # the first call plans it, the second is the planned call alone
            out[...] = np.nan
            if step.last is not None and all(x is y for x, y in zip(env, step.last)):
                step.kernel(step.table)
            else:
                step(env)
            np.testing.assert_array_equal(env[2], want)
            assert (step.last is not None) == direct


def test_operands_overlapping_the_output_go_through_numpy() -> None:
    x = np.eye(4, dtype=np.float32) * 2
    step = matmul_kernels.product_step(0, 1, 2, np.float32)
    env = [x, x, x]
    with np.errstate(all="ignore"):  # (as above)
        step(env)
    assert step.last is None
    np.testing.assert_array_equal(env[2], np.eye(4, dtype=np.float32) * 4)
