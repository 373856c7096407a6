"""Op database: ember/ops/linalg_extra.py (contractions, inverses, determinants, matrix
powers and exponential, in-place scaled products)."""

from __future__ import annotations

import numpy as np
import torch

import ember
from tests.ops.specs import OpSpec, Sample, rand
from tests.ops.torch_errors import quiet


def spec(name, samples, **kw):
    return OpSpec(name, getattr(ember, name), getattr(torch, name), samples, **kw)


def method(name, samples, call, **kw):
    return OpSpec(name, call, call, samples, **kw)


def _well_conditioned(rng, *shape):
    """Square matrices a unit or so away from singular (diagonally dominated)."""
    return rand(rng, *shape) + 4.0 * np.eye(shape[-1])


def _spd(rng, *shape):
    a = rand(rng, *shape)
    return a @ np.swapaxes(a, -1, -2) + np.eye(shape[-1])


def _tensordot_samples(rng):
    return [
        Sample((rand(rng, 2, 3, 4), rand(rng, 3, 4, 5))),
        Sample((rand(rng, 2, 3), rand(rng, 3, 4)), kwargs={"dims": 1}),
        Sample((rand(rng, 2, 3, 4), rand(rng, 4, 2, 5)), kwargs={"dims": ([0, 2], [1, 0])}),
        Sample((rand(rng, 2, 3), rand(rng, 4)), kwargs={"dims": 0}),
    ]


def _inner_samples(rng):
    return [
        Sample((rand(rng, 2, 3), rand(rng, 4, 3))),
        Sample((rand(rng, 3), rand(rng, 3))),
        Sample((np.array(1.5), rand(rng, 2, 3))),
    ]


def _square_samples(rng):
    negative = _well_conditioned(rng, 3, 3)
    negative[[0, 1]] = negative[[1, 0]]  # a row swap: a negative determinant
    return [
        Sample((_well_conditioned(rng, 3, 3),)),
        Sample((negative,)),
        Sample((_well_conditioned(rng, 2, 4, 4),)),
        Sample((_well_conditioned(rng, 1, 1),)),
    ]


def _spd_samples(rng):
    return [Sample((_spd(rng, 3, 3),)), Sample((_spd(rng, 2, 2, 2),))]


def _pinverse_samples(rng):
    return [
        Sample((rand(rng, 3, 4),)),
        Sample((rand(rng, 4, 2),)),
        Sample((rand(rng, 2, 3, 3), 1e-10)),
    ]


def _power_samples(rng):
    a = _well_conditioned(rng, 3, 3) / 4
    return [
        Sample((a, 3)),
        Sample((a, 0)),
        Sample((a, -2)),
        Sample((rand(rng, 2, 2, 2), 5)),
        Sample((np.arange(4).reshape(2, 2), 2)),
    ]


def _exp_samples(rng):
    return [
        Sample((rand(rng, 3, 3) * 0.2,)),
        Sample((rand(rng, 3, 3) * 2,)),  # scaled down and squared back
        Sample((rand(rng, 2, 2, 2),)),
        Sample((np.zeros((2, 2)),)),
    ]


def _cholesky_factors(rng, upper=False):
    """A lower (or upper) triangular factor with a positive diagonal."""
    lower = np.tril(rand(rng, 3, 3), -1) + np.diag(rng.uniform(1.0, 2.0, 3))
    return lower.T.copy() if upper else lower


def _cholesky_inverse_samples(rng):
    return [
        Sample((_cholesky_factors(rng),)),
        Sample((_cholesky_factors(rng, upper=True), True)),
        Sample((np.stack([_cholesky_factors(rng), _cholesky_factors(rng)]),)),
    ]


def _cholesky_solve_samples(rng):
    return [
        Sample((rand(rng, 3, 2), _cholesky_factors(rng))),
        Sample((rand(rng, 2, 3, 1), _cholesky_factors(rng, upper=True), True)),
    ]


def _qr_samples(rng):
    return [
        Sample((rand(rng, 4, 3),)),
        Sample((rand(rng, 3, 3),)),
        Sample((rand(rng, 3, 5),)),  # wide: R's extra columns are Qᵀ times A's
        Sample((rand(rng, 2, 4, 3),)),
        Sample((rand(rng, 3, 5), False)),
    ]


def _svd_samples(rng):
    return [
        Sample((rand(rng, 4, 3),)),
        Sample((rand(rng, 3, 5),)),
        Sample((rand(rng, 2, 3, 3),)),
        Sample((rand(rng, 4, 3), False)),
        Sample((rand(rng, 3, 4), True, False)),
    ]


def _svd_invariants(decompose):
    """What the SVD fixes, whatever signs LAPACK picks for each singular-vector pair: S, the
    sum of the pairs' outer products U Vᵀ, and the projections U Uᵀ and V Vᵀ."""

    def call(x, *args):
        u, s, v = decompose(x, *args)
        if len(args) > 1 and not args[1]:  # compute_uv=False: U and V are zeros (svd:no_uv)
            return s
        k = s.shape[-1]
        u, v = u[..., :k], v[..., :k]
        return u @ v.mT, s, u @ u.mT, v @ v.mT

    return call


def _inplace(name):
    return lambda x, *a, **k: getattr(x.clone(), name)(*a, **k)


def _addmm(rng):
    return [Sample((rand(rng, 2, 4), rand(rng, 2, 3), rand(rng, 3, 4)), {"beta": 0.5, "alpha": 2})]


def _addmv(rng):
    return [Sample((rand(rng, 2), rand(rng, 2, 3), rand(rng, 3)), {"alpha": -1})]


def _addr(rng):
    return [Sample((rand(rng, 2, 3), rand(rng, 2), rand(rng, 3)), {"beta": 2})]


def _baddbmm(rng):
    return [Sample((rand(rng, 2, 2, 4), rand(rng, 2, 2, 3), rand(rng, 2, 3, 4)))]


def _addbmm(rng):
    return [Sample((rand(rng, 2, 4), rand(rng, 3, 2, 3), rand(rng, 3, 3, 4)), {"beta": 0})]


SPECS = [
    spec("tensordot", _tensordot_samples),
    spec("inner", _inner_samples),
    method("inner:.", _inner_samples, lambda x, y: x.inner(y)),
    spec("vdot", lambda rng: [Sample((rand(rng, 4), rand(rng, 4)))]),
    method("vdot:.", lambda rng: [Sample((rand(rng, 4), rand(rng, 4)))], lambda x, y: x.vdot(y)),
    spec("inverse", _square_samples, prims=("Inverse",), second_order=True),
    method("inverse:.", _square_samples, lambda x: x.inverse()),
    spec("det", _square_samples, prims=("LogAbsDet", "DetSign"), second_order=True),
    method("det:.", _square_samples, lambda x: x.det()),
    spec("slogdet", _square_samples),
    method("slogdet:.", _square_samples, lambda x: x.slogdet()),
    spec("logdet", _spd_samples),
    method("logdet:.", _spd_samples, lambda x: x.logdet()),
    OpSpec(  # NaN where the determinant is negative
        "logdet:signed", ember.logdet, torch.logdet, _square_samples, grad=False
    ),
    spec("pinverse", _pinverse_samples, prims=("PseudoInverse",)),
    method("pinverse:.", _pinverse_samples, lambda x, *a: x.pinverse(*a)),
    spec("matrix_power", _power_samples),
    method("matrix_power:.", _power_samples, lambda x, n: x.matrix_power(n)),
    spec("matrix_exp", _exp_samples, second_order=True),
    method("matrix_exp:.", _exp_samples, lambda x: x.matrix_exp()),
    # torch's gradient reaches the factor's unread triangle too, which finite differences cannot
    # see: tests/ops/test_linalg_extra.py checks the read triangle against them instead
    spec(
        "cholesky_inverse",
        _cholesky_inverse_samples,
        prims=("CholeskyInverse",),
        gradcheck=False,
    ),
    method(
        "cholesky_inverse:.",
        _cholesky_inverse_samples,
        lambda x, *a: x.cholesky_inverse(*a),
        gradcheck=False,
    ),
    spec("cholesky_solve", _cholesky_solve_samples, gradcheck=False),
    method(
        "cholesky_solve:.",
        _cholesky_solve_samples,
        lambda x, *a: x.cholesky_solve(*a),
        gradcheck=False,
    ),
    OpSpec("qr", ember.qr, quiet(torch.qr), _qr_samples, prims=("QrQ",), second_order=True),
    method("qr:.", _qr_samples, quiet(lambda x, *a: x.qr(*a))),
    OpSpec(  # complete Q of a tall matrix: no derivative, in torch as here
        "qr:complete",
        ember.qr,
        quiet(torch.qr),
        lambda rng: [Sample((rand(rng, 4, 3), False))],
        grad=False,
    ),
    OpSpec(
        "svd",
        _svd_invariants(ember.svd),
        _svd_invariants(torch.svd),
        _svd_samples,
        prims=("SvdU", "SvdV"),
        second_order=True,
    ),
    OpSpec(  # the zero-filled U and V of compute_uv=False: shapes, dtypes, outside the graph
        "svd:no_uv",
        lambda x: ember.svd(x, True, False),
        lambda x: torch.svd(x, True, False),
        lambda rng: [Sample((rand(rng, 4, 3),)), Sample((rand(rng, 2, 2, 5),))],
        grad=False,
    ),
    OpSpec(
        "svd:.",
        _svd_invariants(lambda x, *a: x.svd(*a)),
        _svd_invariants(lambda x, *a: x.svd(*a)),
        lambda rng: _svd_samples(rng)[:1],
    ),
    method("addmm_", _addmm, _inplace("addmm_")),
    method("addmv_", _addmv, _inplace("addmv_")),
    method("addr_", _addr, _inplace("addr_")),
    method("baddbmm_", _baddbmm, _inplace("baddbmm_")),
    method("addbmm_", _addbmm, _inplace("addbmm_")),
]
