"""ember/ops/linalg_extra.py beyond the op database: errors of PyTorch's type and wording,
singular matrices, and the determinant's sign."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import ember
from tests.ops.torch_errors import assert_raises_like_torch, quiet

ERRORS = [
    ("inverse not square", lambda lib: lib.inverse(lib.ones(2, 3))),
    ("inverse 1-D", lambda lib: lib.inverse(lib.ones(3))),
    ("inverse integer", lambda lib: lib.inverse(lib.ones(2, 2, dtype=lib.int64))),
    ("det not square", lambda lib: lib.det(lib.ones(2, 3))),
    ("slogdet not square", lambda lib: lib.slogdet(lib.ones(2, 3))),
    ("matrix_power not square", lambda lib: lib.matrix_power(lib.ones(2, 3), 2)),
    ("matrix_power integer inverse", lambda lib: lib.matrix_power(lib.eye(2, dtype=lib.int64), -1)),
    ("matrix_exp integer", lambda lib: lib.matrix_exp(lib.ones(2, 2, dtype=lib.int64))),
    ("pinverse 1-D", lambda lib: lib.pinverse(lib.ones(3))),
    ("tensordot sizes", lambda lib: lib.tensordot(lib.ones(2, 3), lib.ones(4, 3), ([1], [0]))),
    ("tensordot dims", lambda lib: lib.tensordot(lib.ones(2, 3), lib.ones(3, 4), 3)),
    ("inner sizes", lambda lib: lib.inner(lib.ones(2, 3), lib.ones(4, 2))),
    ("vdot 2-D", lambda lib: lib.vdot(lib.ones(2, 2), lib.ones(2, 2))),
    ("qr 1-D", lambda lib: lib.qr(lib.ones(3))),
    ("svd 1-D", lambda lib: lib.svd(lib.ones(3))),
    ("vdot sizes", lambda lib: lib.vdot(lib.ones(2), lib.ones(3))),
    ("cholesky_solve sizes", lambda lib: lib.cholesky_solve(lib.ones(3, 2), lib.eye(2))),
    ("cholesky_solve not square", lambda lib: lib.cholesky_solve(lib.ones(3, 2), lib.ones(2, 3))),
]


@pytest.mark.parametrize("what,call", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_match_torch(what, call) -> None:
    assert_raises_like_torch(call)


def test_inverse_of_a_singular_matrix_raises_a_runtime_error_as_torch() -> None:
    with pytest.raises(RuntimeError, match="singular"):
        torch.inverse(torch.zeros(2, 2))
    with pytest.raises(RuntimeError, match="linalg.inv: .*singular"):
        ember.inverse(ember.zeros(2, 2))


def test_determinants_of_singular_and_negative_matrices() -> None:
    for a in (np.zeros((2, 2)), -np.eye(3), np.diag([2.0, -3.0])):
        e, t = ember.tensor(a), torch.tensor(a)
        np.testing.assert_array_equal(ember.det(e).numpy(), torch.det(t).numpy())
        np.testing.assert_array_equal(ember.logdet(e).numpy(), torch.logdet(t).numpy())
        for got, want in zip(ember.slogdet(e), torch.slogdet(t)):
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert ember.slogdet(ember.eye(2))._fields == ("sign", "logabsdet")


def test_matrix_power_zero_is_a_copy_with_a_zero_gradient() -> None:
    a = ember.tensor(np.array([[1.0, np.nan], [2.0, 3.0]]), requires_grad=True)
    out = ember.matrix_power(a, 0)
    np.testing.assert_array_equal(out.detach().numpy(), np.eye(2))
    out.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.zeros((2, 2)))


def test_cholesky_inverse_reads_only_the_factors_triangle() -> None:
    factor = np.tril(np.ones((3, 3))) + np.eye(3) + np.triu(np.full((3, 3), 7.0), 1)
    for upper in (False, True):
        a = factor.T.copy() if upper else factor
        np.testing.assert_allclose(
            ember.cholesky_inverse(ember.tensor(a), upper).numpy(),
            torch.cholesky_inverse(torch.tensor(a), upper).numpy(),
        )


@pytest.mark.parametrize("upper", [False, True])
def test_cholesky_inverse_gradient_on_the_factors_triangle_is_exact(upper) -> None:
    rng = np.random.default_rng(0)
    lower = np.tril(rng.uniform(-1, 1, (3, 3)), -1) + np.diag(rng.uniform(1, 2, 3))
    factor = lower.T.copy() if upper else lower
    triangle = np.triu(np.ones((3, 3))) if upper else np.tril(np.ones((3, 3)))

    def fn(x):
        return ember.cholesky_inverse(x, upper).sum()

    x = ember.tensor(factor, requires_grad=True)
    (grad,) = ember.autograd.grad(fn(x), [x])
    numerical = np.zeros((3, 3))
    for i, j in zip(*np.nonzero(triangle)):
        step = np.zeros((3, 3))
        step[i, j] = 1e-6
        up, down = fn(ember.tensor(factor + step)), fn(ember.tensor(factor - step))
        numerical[i, j] = (up.item() - down.item()) / 2e-6
    np.testing.assert_allclose(grad.numpy() * triangle, numerical, atol=1e-6)


def test_complete_qr_of_a_tall_matrix_has_no_derivative_as_in_torch() -> None:
    a = np.arange(12.0).reshape(4, 3) ** 0.5
    for lib in (ember, torch):
        x = lib.tensor(a, requires_grad=True)
        q, r = quiet(lib.qr)(x, False)
        with pytest.raises(RuntimeError, match="not differentiable when mode='complete'"):
            q.sum().backward()


def test_svd_factors_match_torch_up_to_the_sign_of_each_pair() -> None:
    a = np.random.default_rng(0).uniform(-2, 2, (2, 5, 3))
    for some in (True, False):
        mine, theirs = ember.svd(ember.tensor(a), some), torch.svd(torch.tensor(a), some)
        for got, want in zip(mine, theirs):
            assert tuple(got.shape) == tuple(want.shape)
            np.testing.assert_allclose(np.abs(got.numpy()), np.abs(want.numpy()), atol=1e-12)
    u, s, v = ember.svd(ember.tensor(a))
    np.testing.assert_allclose((u * s.unsqueeze(-2) @ v.mT).numpy(), a, atol=1e-12)
