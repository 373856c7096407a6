"""L-BFGS: quasi-Newton steps from a short history of updates, optionally line-searched."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from ember.autograd import enable_grad, no_grad
from ember.creation import zeros
from ember.ops.movement import cat
from ember.optim.optimizer import Optimizer
from ember.tensor import Tensor

__all__ = ["LBFGS"]


class _Point(NamedTuple):
    """A trial step ``t`` along the search direction: loss, flat gradient, slope g·d there."""

    t: float
    f: float
    g: Tensor
    gtd: float


def _cubic_minimizer(a: _Point, b: _Point, bounds: tuple[float, float] | None = None) -> float:
    """The minimizer of the cubic matching both points' values and slopes, clipped to
    ``bounds`` (default: the interval between them); their midpoint if it has none."""
    lo, hi = bounds if bounds is not None else (min(a.t, b.t), max(a.t, b.t))
    d1 = a.gtd + b.gtd - 3 * (a.f - b.f) / (a.t - b.t)
    discriminant = d1**2 - a.gtd * b.gtd
    if discriminant < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(discriminant)
    near, far = (a, b) if a.t <= b.t else (b, a)
    t = far.t - (far.t - near.t) * ((far.gtd + d2 - d1) / (far.gtd - near.gtd + 2 * d2))
    return min(max(t, lo), hi)


def _strong_wolfe(
    evaluate: Callable[[float], _Point],
    start: _Point,
    t: float,
    d_norm: float,
    tolerance_change: float,
    max_tries: int,
    c1: float = 1e-4,
    c2: float = 0.9,
) -> tuple[_Point, int]:
    """A step satisfying the strong Wolfe conditions (Nocedal & Wright, algorithms 3.5-3.6),
    and the number of evaluations spent (at most ``max_tries`` after the one at ``t``);
    ``start`` is the point at t = 0.

    First extrapolate (cubic steps of at least 1% more, at most 10x) until an interval
    brackets an acceptable step, then zoom into it by safeguarded cubic interpolation.
    """

    def sufficient_decrease(p: _Point) -> bool:  # a NaN loss passes, as in PyTorch
        return not p.f > start.f + c1 * p.t * start.gtd

    def curvature(p: _Point) -> bool:
        return abs(p.gtd) <= -c2 * start.gtd

    prev, new = start, evaluate(t)
    evals, tries = 1, 0
    bracket: list[_Point] | None = None
    while tries < max_tries:
        if not sufficient_decrease(new) or (tries > 1 and new.f >= prev.f):
            bracket = [prev, new]
            break
        if curvature(new):
            return new, evals
        if new.gtd >= 0:
            bracket = [prev, new]
            break
        bounds = (new.t + 0.01 * (new.t - prev.t), new.t * 10)
        prev, new = new, evaluate(_cubic_minimizer(prev, new, bounds))
        evals += 1
        tries += 1
    if bracket is None:  # out of evaluations while still extrapolating
        bracket = [start, new]

    low = 0 if bracket[0].f <= bracket[1].f else 1
    stalled = False
    while tries < max_tries:
        if abs(bracket[1].t - bracket[0].t) * d_norm < tolerance_change:
            break
        t = _cubic_minimizer(bracket[0], bracket[1])
        left, right = min(bracket[0].t, bracket[1].t), max(bracket[0].t, bracket[1].t)
        margin = 0.1 * (right - left)
        if min(right - t, t - left) < margin:  # next to an end: progress may stall
            if stalled or t >= right or t <= left:
                t = right - margin if abs(t - right) < abs(t - left) else left + margin
                stalled = False
            else:
                stalled = True
        else:
            stalled = False
        new = evaluate(t)
        evals += 1
        tries += 1
        if not sufficient_decrease(new) or new.f >= bracket[low].f:
            bracket[1 - low] = new
            low = 0 if bracket[0].f <= bracket[1].f else 1
            continue
        if curvature(new):
            return new, evals
        if new.gtd * (bracket[1 - low].t - bracket[low].t) >= 0:
            bracket[1 - low] = bracket[low]
        bracket[low] = new
    return bracket[low], evals


class LBFGS(Optimizer):
    """L-BFGS (Nocedal, 1980; Liu & Nocedal, 1989) as PyTorch runs it, after minFunc.

    ``step(closure)`` runs up to ``max_iter`` iterations (``max_eval`` closure calls): the
    direction from the two-loop recursion over the last ``history_size`` updates, then a
    fixed step ``lr`` or, with ``line_search_fn="strong_wolfe"``, a strong-Wolfe line search.
    One parameter group only; its state is kept under the first parameter, in PyTorch's keys.
    The line search computes in Python floats (doubles) where PyTorch keeps some of its
    scalars as tensors of the parameters' dtype: float32 runs can take different line-search
    branches once rounding noise dominates (float64 runs take the same ones).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1.0,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            max_iter=max_iter,
            max_eval=max_iter * 5 // 4 if max_eval is None else max_eval,
            tolerance_grad=tolerance_grad,
            tolerance_change=tolerance_change,
            history_size=history_size,
            line_search_fn=line_search_fn,
        )
        super().__init__(params, defaults)
        self._params: list[Tensor] = self.param_groups[0]["params"]

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Refused after the first: LBFGS keeps one flat vector over all its parameters."""
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise ValueError(
                f"LBFGS: only 'strong_wolfe' is supported as line_search_fn, got "
                f"{group['line_search_fn']!r}\nhint: pass line_search_fn='strong_wolfe' or None"
            )

    # -- the flat view of all parameters ----------------------------------------------------
    def _flat_grad(self) -> Tensor:
        return cat(
            [
                zeros(p.numel(), dtype=p.dtype, device=p.device)
                if p.grad is None
                else p.grad.reshape(-1)
                for p in self._params
            ]
        )

    def _move(self, t: float, d: Tensor) -> None:
        """p += t * d, d cut into the parameters' shapes."""
        offset = 0
        for p in self._params:
            n = p.numel()
            p.add_(d[offset : offset + n].reshape(p.shape), alpha=t)
            offset += n

    def _evaluate(self, closure: Callable[[], Any]) -> tuple[Any, float, Tensor]:
        with enable_grad():
            loss = closure()
        return loss, float(loss), self._flat_grad()

    # -- the step ---------------------------------------------------------------------------
    def step(self, closure: Callable[[], Any]) -> Any:  # type: ignore[override]
        """Minimize ``closure()`` (which recomputes the loss and its gradients) for up to
        ``max_iter`` iterations; returns the loss of the first evaluation."""
        group = self.param_groups[0]
        lr = float(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tol_grad, tol_change = group["tolerance_grad"], group["tolerance_change"]
        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)
        with no_grad():
            orig_loss, loss, g = self._evaluate(closure)
            evals = 1
            state["func_evals"] += 1
            if g.abs().max().item() <= tol_grad:
                return orig_loss
            d, t = state.get("d"), state.get("t")
            dirs, steps, rhos = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
            h_diag, prev_g = state.get("H_diag"), state.get("prev_flat_grad")
            prev_loss = state.get("prev_loss")
            for n_iter in range(1, max_iter + 1):
                state["n_iter"] += 1
                first = state["n_iter"] == 1
                if first:
                    d, dirs, steps, rhos, h_diag = -g, [], [], [], 1.0
                else:
                    y, s = g - prev_g, d * t
                    ys = y.dot(s).item()
                    if ys > 1e-10:  # keep the pair only where curvature is positive
                        keep = group["history_size"] - 1
                        dirs = (dirs[-keep:] if keep else []) + [y]
                        steps = (steps[-keep:] if keep else []) + [s]
                        rhos = (rhos[-keep:] if keep else []) + [1.0 / ys]
                        h_diag = ys / y.dot(y).item()
                    d = _two_loop(g, dirs, steps, rhos, float(h_diag))
                prev_g, prev_loss = g, loss
                t = min(1.0, 1.0 / g.abs().sum().item()) * lr if first else lr
                gtd = g.dot(d).item()
                if gtd > -tol_change:  # not a descent direction any more
                    break
                if group["line_search_fn"] is None:
                    self._move(t, d)
                    spent = 0
                    if n_iter != max_iter:  # the last iteration's loss would go unused
                        _, loss, g = self._evaluate(closure)
                        spent = 1
                else:
                    start = _Point(0.0, loss, g, gtd)
                    found, spent = self._line_search(closure, start, t, d, max_eval - evals)
                    t, loss, g = found.t, found.f, found.g
                    self._move(t, d)
                evals += spent
                state["func_evals"] += spent
                if (
                    n_iter == max_iter
                    or evals >= max_eval
                    or g.abs().max().item() <= tol_grad
                    or (d * t).abs().max().item() <= tol_change
                    or abs(loss - prev_loss) < tol_change
                ):
                    break
        state.update(
            d=d,
            t=t,
            old_dirs=dirs,
            old_stps=steps,
            ro=rhos,
            H_diag=h_diag,
            prev_flat_grad=prev_g,
            prev_loss=prev_loss,
        )
        return orig_loss

    def _line_search(
        self, closure: Callable[[], Any], start: _Point, t: float, d: Tensor, budget: int
    ) -> tuple[_Point, int]:
        """The strong-Wolfe step along ``d`` from the current parameters (left unchanged),
        with at most ``budget`` evaluations of ``closure`` after the first."""
        origin = [p.clone() for p in self._params]

        def evaluate(step: float) -> _Point:
            self._move(step, d)
            _, f, g = self._evaluate(closure)
            for p, x in zip(self._params, origin):
                p.copy_(x)
            return _Point(step, f, g, g.dot(d).item())

        tolerance = self.param_groups[0]["tolerance_change"]
        return _strong_wolfe(evaluate, start, t, d.abs().max().item(), tolerance, budget)


def _two_loop(
    g: Tensor, dirs: list[Tensor], steps: list[Tensor], rhos: list[float], h_diag: float
) -> Tensor:
    """-H g for the L-BFGS inverse-Hessian estimate H: ``h_diag`` times identity updated by
    the (s, y, 1 / y·s) pairs, oldest first (Nocedal & Wright, algorithm 7.4)."""
    q = -g
    alphas = []
    for s, y, rho in zip(reversed(steps), reversed(dirs), reversed(rhos)):
        a = s.dot(q).item() * float(rho)
        q.add_(y, alpha=-a)
        alphas.append(a)
    r = q * h_diag
    for s, y, rho, a in zip(steps, dirs, rhos, reversed(alphas)):
        b = y.dot(r).item() * float(rho)
        r.add_(s, alpha=a - b)
    return r
