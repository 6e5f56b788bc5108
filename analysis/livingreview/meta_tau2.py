"""Between-study variance (tau²) estimators, ported from metafor 3.8 ``rma.uni``.

Each estimator takes the mean-centred outcomes ``ymc`` (as metafor does), the sampling
variances ``vi`` and the design ``X`` (None for intercept only) and returns a
:class:`Tau2Fit`. Truncation at 0 and the standard error follow metafor.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from livingreview.meta_core import (
    EPS,
    Control,
    ConvergenceError,
    FArray,
    MetaAnalysisError,
    mad,
    wls,
    zeroin,
)

METHODS = ("REML", "ML", "DL", "PM", "HE", "SJ", "EE")


@dataclass(frozen=True)
class Tau2Fit:
    """Estimated tau², its standard error and iteration count (0 for closed forms)."""

    tau2: float
    se: float
    iterations: int = 0


def estimate_tau2(
    ymc: FArray, vi: FArray, X: FArray | None, p: int, method: str, control: Control
) -> Tau2Fit:
    """Dispatch to the estimator named ``method`` (one of :data:`METHODS`)."""
    k = ymc.size
    if method == "EE":
        return Tau2Fit(0.0, math.nan)
    if k == 1:  # metafor's "k1" pseudo-method
        return Tau2Fit(0.0, math.nan)
    if method == "HE":
        return _he(ymc, vi, X, p)
    if method == "DL":
        return _dl(ymc, vi, X, p)
    if method == "SJ":
        return _sj(ymc, vi, X, p)
    if method == "PM":
        return _pm(ymc, vi, X, p, control)
    if method in ("REML", "ML"):
        return _fisher(ymc, vi, X, p, method, control)
    raise MetaAnalysisError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def _he_raw(ymc: FArray, vi: FArray, X: FArray | None, p: int) -> tuple[float, object]:
    k = ymc.size
    fit = wls(ymc, np.ones(k), X)
    rss = float(fit.resid @ fit.resid)
    tr_pv = float(vi @ (1.0 - np.broadcast_to(fit.h, vi.shape)))
    return (rss - tr_pv) / (k - p), fit


def _he(ymc: FArray, vi: FArray, X: FArray | None, p: int) -> Tau2Fit:
    k = ymc.size
    raw, fit = _he_raw(ymc, vi, X, p)
    tau2 = max(0.0, raw)
    tr_pv = float(vi @ (1.0 - np.broadcast_to(fit.h, vi.shape)))  # type: ignore[attr-defined]
    pvpv = fit.sum_p2(vi, vi)  # type: ignore[attr-defined]
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


def _pm(ymc: FArray, vi: FArray, X: FArray | None, p: int, control: Control) -> Tau2Fit:
    k = ymc.size
    target = float(k - p)
    tau2_max = control.tau2_max
    if tau2_max is None:
        tau2_max = max(100.0, 10.0 * mad(ymc) ** 2)
    f_lo = q_gen(0.0, ymc, vi, X) - target
    iterations = 0
    if f_lo < 0:
        tau2 = 0.0
    else:
        f_hi = q_gen(tau2_max, ymc, vi, X) - target
        if f_hi > 0:
            raise MetaAnalysisError(
                f"PM estimator: tau2_max = {tau2_max:g} too low; increase it or use another method"
            )

        def f(t: float) -> float:
            return q_gen(t, ymc, vi, X) - target

        tau2, ok = zeroin(f, 0.0, tau2_max, f_lo, f_hi, control.tol, control.maxiter)
        if not ok:  # uniroot only warns here; metafor keeps the last value
            warnings.warn("PM estimator: root finder reached maxiter", stacklevel=3)
        tau2 = max(0.0, tau2)
    wsum = float((1.0 / (vi + tau2)).sum())
    se = math.sqrt(2 * k**2 / (k - p) / wsum**2)
    return Tau2Fit(tau2, se, iterations)


def _ll_check(ymc: FArray, vi: FArray, X: FArray | None, tau2: float, reml: bool) -> float:
    """Log-likelihood up to constants shared by tau² and 0 (metafor's ll0 check)."""
    fit = wls(ymc, 1.0 / (vi + tau2), X)
    ll = -0.5 * float(np.log(vi + tau2).sum()) - 0.5 * fit.rss
    if reml:
        if X is None:
            ll -= 0.5 * math.log(float(fit.w.sum()))
        else:
            ll -= 0.5 * float(np.linalg.slogdet(np.linalg.inv(fit.A))[1])
    return ll


def _fisher(ymc: FArray, vi: FArray, X: FArray | None, p: int, method: str, control: Control) -> Tau2Fit:
    reml = method == "REML"
    if X is None and reml:
        tau2, it, ok = reml_intercept(ymc, vi, control)
    else:
        tau2, it, ok = _fisher_general(ymc, vi, X, p, reml, control)
    if not ok:
        raise ConvergenceError(
            f"{method}: Fisher scoring did not converge in {control.maxiter} iterations "
            f"(threshold {control.threshold:g}); try a larger maxiter or another method"
        )
    if control.ll0check and tau2 > control.threshold:
        ll0 = _ll_check(ymc, vi, X, 0.0, reml)
        ll = _ll_check(ymc, vi, X, tau2, reml)
        if ll0 - ll > control.tol:
            warnings.warn(
                f"{method}: Fisher scoring may have stopped at a local maximum; tau2 set to 0",
                stacklevel=3,
            )
            tau2 = 0.0
    fit = wls(ymc, 1.0 / (vi + tau2), X)
    se = math.sqrt(2.0 / fit.sum_p2()) if reml else math.sqrt(2.0 / float(fit.w @ fit.w))
    return Tau2Fit(tau2, se, it)


def _fisher_general(
    ymc: FArray, vi: FArray, X: FArray | None, p: int, reml: bool, control: Control
) -> tuple[float, int, bool]:
    tau2 = max(0.0, _he_raw(ymc, vi, X, p)[0])
    change = control.threshold + 1
    it = 0
    while change > control.threshold:
        it += 1
        old = tau2
        fit = wls(ymc, 1.0 / (vi + tau2), X)
        if reml:
            adj = (fit.ypp - fit.tr_p()) / fit.sum_p2()
        else:
            adj = (fit.ypp - float(fit.w.sum())) / float(fit.w @ fit.w)
        tau2 = _step(tau2, adj * control.stepadj)
        change = abs(old - tau2)
        if it > control.maxiter:
            return tau2, it, False
    return tau2, it, True


def _step(tau2: float, adj: float) -> float:
    """metafor's step halving: halve ``adj`` until tau² + adj ≥ 0."""
    if math.isnan(adj):
        adj = 0.0
    if tau2 == 0.0 and adj < 0:
        return 0.0
    while tau2 + adj < 0:
        adj /= 2
    return tau2 + adj


def reml_intercept(ymc: FArray, vi: FArray, control: Control) -> tuple[float, int, bool]:
    """Fast REML Fisher scoring for the intercept-only model (scalar sums only)."""
    k = ymc.size
    ybar = float(ymc.sum()) / k
    d = ymc - ybar
    tau2 = max(0.0, (float(d @ d) - float(vi.sum()) * (1.0 - 1.0 / k)) / (k - 1))
    threshold, stepadj, maxiter = control.threshold, control.stepadj, control.maxiter
    change = threshold + 1
    it = 0
    while change > threshold:
        it += 1
        old = tau2
        w = 1.0 / (vi + tau2)
        sw = float(w.sum())
        w2 = w * w
        sw2 = float(w2.sum())
        sw3 = float(w2 @ w)
        r = ymc - float(w @ ymc) / sw
        wr = w * r
        tr_p = sw - sw2 / sw
        tr_pp = sw2 - 2.0 * sw3 / sw + (sw2 / sw) ** 2
        tau2 = _step(tau2, (float(wr @ wr) - tr_p) / tr_pp * stepadj)
        change = abs(old - tau2)
        if it > maxiter:
            return tau2, it, False
    return tau2, it, True


__all__ = ["EPS", "METHODS", "Tau2Fit", "estimate_tau2", "q_gen", "reml_intercept"]
