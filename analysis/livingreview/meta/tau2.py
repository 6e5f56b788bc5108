"""Between-study variance (tau²) estimators, ported from metafor 3.8 ``rma.uni``.

Each estimator takes centred outcomes ``ymc``, sampling variances ``vi`` and the design ``X``
(None for intercept only) and returns a :class:`Tau2Fit`. REML and ML run the engine's single
Fisher-scoring core (:func:`livingreview.meta.fisher.fisher`); PM solves its estimating
equation with Brent's method, to machine precision under exact control.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from livingreview.meta.core import (
    Control,
    ConvergenceError,
    FArray,
    MetaAnalysisError,
    mad,
    wls,
    zeroin,
)
from livingreview.meta.fisher import Fits, Regression, fisher

METHODS = ("REML", "ML", "DL", "PM", "HE", "SJ", "EE")


@dataclass(frozen=True)
class Tau2Fit:
    """Estimated tau², its standard error and iteration count (0 for closed forms)."""

    tau2: float
    se: float
    iterations: int = 0


def estimate_tau2(
    ymc: FArray,
    vi: FArray,
    X: FArray | None,
    p: int,
    method: str,
    control: Control,
    scale: float = 1.0,
    fits: Fits | None = None,
) -> Tau2Fit:
    """Dispatch to the estimator named ``method`` (one of :data:`METHODS`).

    ``scale`` is the typical sampling variance, the unit of exact control's absolute floors;
    ``fits`` (intercept-only) lets the caller reuse the weighted sums of the final tau².
    """
    k = ymc.size
    if method == "EE" or k == 1:  # k = 1: metafor's "k1" pseudo-method
        return Tau2Fit(0.0, math.nan)
    if method == "HE":
        return _he(ymc, vi, X, p)
    if method == "DL":
        return _dl(ymc, vi, X, p)
    if method == "SJ":
        return _sj(ymc, vi, X, p)
    if method == "PM":
        return _pm(ymc, vi, X, p, control, scale)
    if method in ("REML", "ML"):
        return _fisher(ymc, vi, X, method, control, scale, fits)
    raise MetaAnalysisError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def _he(ymc: FArray, vi: FArray, X: FArray | None, p: int) -> Tau2Fit:
    k = ymc.size
    fit = wls(ymc, np.ones(k), X)
    tr_pv = float(vi @ (1.0 - np.broadcast_to(fit.h, vi.shape)))
    tau2 = max(0.0, (float(fit.resid @ fit.resid) - tr_pv) / (k - p))
    pvpv = fit.sum_p2(vi, vi)
    se = math.sqrt((2 * pvpv + 4 * tau2 * tr_pv + 2 * tau2**2 * (k - p)) / (k - p) ** 2)
    return Tau2Fit(tau2, se)


def _dl(ymc: FArray, vi: FArray, X: FArray | None, p: int) -> Tau2Fit:
    k = ymc.size
    fit = wls(ymc, 1.0 / vi, X)
    tr_p = fit.tr_p()
    tau2 = max(0.0, (fit.rss - (k - p)) / tr_p)
    se = math.sqrt((2 * (k - p) + 4 * tau2 * tr_p + 2 * tau2**2 * fit.sum_p2()) / tr_p**2)
    return Tau2Fit(tau2, se)


def _sj(ymc: FArray, vi: FArray, X: FArray | None, p: int) -> Tau2Fit:
    k = ymc.size
    tau2_0 = float(ymc @ ymc) / k
    fit = wls(ymc, 1.0 / (vi + tau2_0), X)
    tau2 = max(0.0, tau2_0 * fit.rss / (k - p))
    se = math.sqrt(
        tau2_0**2
        / (k - p) ** 2
        * (2 * fit.sum_p2(vi, vi) + 4 * tau2 * fit.sum_p2(1.0, vi) + 2 * tau2**2 * fit.sum_p2())
    )
    return Tau2Fit(tau2, se)


def q_gen(tau2: float, y: FArray, vi: FArray, X: FArray | None) -> float:
    """Generalised Q statistic y'P(tau²)y (metafor ``.QE.func`` with objective 0)."""
    return wls(y, 1.0 / (vi + tau2), X).rss


def solve_decreasing(
    f: Callable[[float], float],
    f0: float,
    hi: float,
    control: Control,
    scale: float,
    what: str,
    grow: bool = True,
) -> tuple[float, int]:
    """Root in (0, ∞) of a decreasing ``f`` with f(0) = ``f0`` ≥ 0: (root, evaluations).

    Exact control: unless ``grow`` is False (a bound the user gave), the bracket grows tenfold
    until f changes sign, and Brent's method runs to machine precision (its step floor is
    2·eps·|root| + ``tol``·``scale``/2). metafor control: the fixed bracket [0, ``hi``] and
    uniroot's absolute ``tol``.
    """
    calls = [0]

    def g(t: float) -> float:
        calls[0] += 1
        return f(t)

    lo, f_lo = 0.0, f0
    f_hi = g(hi)
    if control.exact and grow:
        n = 0
        while f_hi > 0:
            n += 1
            if n > 60 or not math.isfinite(hi * 10):
                raise MetaAnalysisError(f"{what}: no root below {hi:g}")
            lo, f_lo = hi, f_hi
            hi *= 10
            f_hi = g(hi)
        tol = control.tol * scale
    elif control.exact:
        if f_hi > 0:
            raise MetaAnalysisError(f"{what}: tau2_max = {hi:g} too low; increase it or use another method")
        tol = control.tol * scale
    else:
        if f_hi > 0:
            raise MetaAnalysisError(f"{what}: tau2_max = {hi:g} too low; increase it or use another method")
        tol = control.tol
    root, ok = zeroin(g, lo, hi, f_lo, f_hi, tol, control.maxiter)
    if not ok:  # uniroot only warns here; metafor keeps the last value
        warnings.warn(f"{what}: root finder reached maxiter", stacklevel=4)
    return root, calls[0]


def _pm(ymc: FArray, vi: FArray, X: FArray | None, p: int, control: Control, scale: float) -> Tau2Fit:
    k = ymc.size
    target = float(k - p)
    f_lo = q_gen(0.0, ymc, vi, X) - target
    iterations = 0
    if f_lo < 0:
        tau2 = 0.0
    else:
        hi = control.tau2_max
        if hi is None:
            spread = mad(ymc) ** 2
            hi = max(100.0, 10.0 * spread) if not control.exact else 10.0 * max(spread, scale)
        tau2, iterations = solve_decreasing(
            lambda t: q_gen(t, ymc, vi, X) - target,
            f_lo,
            hi,
            control,
            scale,
            "PM estimator",
            grow=control.tau2_max is None,
        )
        tau2 = max(0.0, tau2)
    wsum = float((1.0 / (vi + tau2)).sum())
    se = math.sqrt(2 * k**2 / (k - p) / wsum**2)
    return Tau2Fit(tau2, se, iterations)


def _fisher(
    ymc: FArray, vi: FArray, X: FArray | None, method: str, control: Control, scale: float, fits: Fits | None
) -> Tau2Fit:
    reml = method == "REML"
    if X is None:
        model: Fits | Regression = fits if fits is not None else Fits(ymc, vi)
    else:
        model = Regression(ymc, vi, X)
    res = fisher(model, reml, control, scale)
    if not res.converged:
        raise ConvergenceError(
            f"{method}: Fisher scoring did not converge in {control.maxiter} iterations "
            f"(threshold {control.threshold:g}); try a larger maxiter or another method"
        )
    if res.reset:
        warnings.warn(
            f"{method}: Fisher scoring may have stopped at a local maximum; tau2 set to 0", stacklevel=4
        )
    tau2 = float(res.tau2)
    if X is None:
        s = model.sums(tau2, sw3=reml, ypp=False)  # type: ignore[union-attr,arg-type]
        info = s.tr_pp if reml else s.sw2
    else:
        fit = wls(ymc, 1.0 / (vi + tau2), X)
        info = fit.sum_p2() if reml else float(fit.w @ fit.w)
    return Tau2Fit(tau2, math.sqrt(2.0 / float(info)), res.iterations)


__all__ = ["METHODS", "Tau2Fit", "estimate_tau2", "q_gen", "solve_decreasing"]
