"""Sensitivity and small-study analyses matching metafor 3.8.

``leave1out`` (vectorised over the k fits for REML/ML), ``influence`` (``rstudent`` and
``cooks.distance``), ``cumulative`` (``cumul``), ``regtest`` (Egger) and ``trimfill``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from livingreview.meta import MetaResult, rma
from livingreview.meta_core import EPS, Control, FArray, MetaAnalysisError

__all__ = [
    "RegtestResult",
    "TrimfillResult",
    "cumulative",
    "influence",
    "leave1out",
    "regtest",
    "trimfill",
]

CASE_COLUMNS = ["estimate", "se", "zval", "pval", "ci_lb", "ci_ub", "Q", "Qp", "tau2", "I2", "H2"]
_BLOCK_ELEMENTS = 1 << 20  # fits × studies per block: bounds memory at ~8 MB per work array


def _require_int_only(fit: MetaResult, what: str) -> None:
    if not fit.int_only:
        raise MetaAnalysisError(f"{what} is only available for models without moderators")
    if fit.k == 1:
        raise MetaAnalysisError(f"{what} needs at least 2 studies (k = 1)")


def _row(res: MetaResult | None) -> dict[str, float]:
    if res is None:
        return dict.fromkeys([*CASE_COLUMNS, "s2w"], math.nan)
    return {
        "estimate": res.estimate,
        "se": float(res.se[0]),
        "zval": float(res.zval[0]),
        "pval": float(res.pval[0]),
        "ci_lb": float(res.ci_lb[0]),
        "ci_ub": float(res.ci_ub[0]),
        "Q": res.QE,
        "Qp": res.QEp,
        "tau2": res.tau2,
        "I2": res.I2,
        "H2": res.H2,
        "s2w": res.s2w,
    }


def _try_fit(y: FArray, v: FArray, fit: MetaResult, **kw: object) -> MetaResult | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return rma(y, v, method=fit.method, test=fit.test, level=fit.level, control=fit.control, **kw)  # type: ignore[arg-type]
    except MetaAnalysisError:
        return None


def _labels(labels: Sequence[object] | None, k: int) -> list[object]:
    if labels is None:
        return list(range(1, k + 1))
    out = list(labels)
    if len(out) != k:
        raise MetaAnalysisError(f"{len(out)} study labels for {k} studies")
    return out


def leave1out(fit: MetaResult, labels: Sequence[object] | None = None) -> pd.DataFrame:
    """Refit omitting each study in turn (metafor ``leave1out``); one row per omitted study.

    REML and ML fits are computed together with numpy in blocks of fits; a fit that fails or
    does not converge gives a row of NaN plus a warning, as metafor leaves NA.
    """
    _require_int_only(fit, "leave-one-out")
    k = fit.k
    if fit.method in ("REML", "ML") and k >= 3:
        cols = _loo_vectorised(fit)
    else:
        rows = [_row(_try_fit(np.delete(fit.yi, i), np.delete(fit.vi, i), fit)) for i in range(k)]
        cols = {c: np.array([r[c] for r in rows]) for c in [*CASE_COLUMNS, "s2w"]}
    bad = np.flatnonzero(np.isnan(cols["estimate"]))
    if bad.size:
        warnings.warn(f"leave-one-out: fit(s) without study {bad.tolist()} failed", stacklevel=2)
    df = pd.DataFrame({c: cols[c] for c in CASE_COLUMNS})
    df.insert(0, "study", _labels(labels, k))
    df.attrs["s2w"] = cols["s2w"]
    return df


def _masked(v: FArray, tau2: FArray, omit: FArray) -> FArray:
    w = 1.0 / (v[None, :] + tau2[:, None])
    w[np.arange(omit.size), omit] = 0.0
    return w


def _loo_vectorised(fit: MetaResult) -> dict[str, FArray]:
    k = fit.k
    block = max(1, min(k, _BLOCK_ELEMENTS // k))
    parts = [_loo_block(fit, np.arange(start, min(k, start + block))) for start in range(0, k, block)]
    return {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}


def _loo_block(fit: MetaResult, omit: FArray) -> dict[str, FArray]:
    y, v, con = fit.yi, fit.vi, fit.control
    n = fit.k - 1
    reml = fit.method == "REML"
    tau2 = _loo_he(y, v, omit, n)
    ok = np.ones(omit.size, dtype=bool)
    active = np.arange(omit.size)
    it = 0
    while active.size:
        it += 1
        t_old = tau2[active]
        w = _masked(v, t_old, omit[active])
        sw = w.sum(1)
        r = y[None, :] - ((w @ y) / sw)[:, None]
        wr = w * r
        ypp = np.einsum("ij,ij->i", wr, wr)
        w2 = w * w
        sw2 = w2.sum(1)
        if reml:
            sw3 = np.einsum("ij,ij->i", w2, w)
            adj = (ypp - (sw - sw2 / sw)) / (sw2 - 2.0 * sw3 / sw + (sw2 / sw) ** 2)
        else:
            adj = (ypp - sw) / sw2
        t_new = _step_vec(t_old, adj * con.stepadj)
        tau2[active] = t_new
        if it > con.maxiter:
            ok[active] = False
            break
        active = active[np.abs(t_new - t_old) > con.threshold]
    if con.ll0check:
        check = ok & (tau2 > con.threshold)
        if check.any():
            idx = np.flatnonzero(check)
            ll = _loo_ll(y, v, tau2[idx], omit[idx], reml)
            ll0 = _loo_ll(y, v, np.zeros(idx.size), omit[idx], reml)
            stuck = idx[ll0 - ll > con.tol]
            if stuck.size:
                warnings.warn("leave-one-out: Fisher scoring stuck; tau2 set to 0", stacklevel=4)
                tau2[stuck] = 0.0
    out = _loo_stats(fit, tau2, omit)
    for c in out:
        out[c][~ok] = math.nan
    return out


def _loo_he(y: FArray, v: FArray, omit: FArray, n: int) -> FArray:
    mask = np.ones((omit.size, y.size))
    mask[np.arange(omit.size), omit] = 0.0
    ybar = (y.sum() - y[omit]) / n
    d = (y[None, :] - ybar[:, None]) * mask
    rss = np.einsum("ij,ij->i", d, d)
    tr_pv = (v.sum() - v[omit]) * (1.0 - 1.0 / n)
    return np.maximum(0.0, (rss - tr_pv) / (n - 1))


def _step_vec(tau2: FArray, adj: FArray) -> FArray:
    adj = np.where(np.isnan(adj), 0.0, adj)
    adj = np.where((tau2 == 0.0) & (adj < 0), 0.0, adj)
    bad = tau2 + adj < 0
    while bad.any():
        adj[bad] /= 2
        bad = tau2 + adj < 0
    return tau2 + adj


def _loo_ll(y: FArray, v: FArray, tau2: FArray, omit: FArray, reml: bool) -> FArray:
    w = _masked(v, tau2, omit)
    sw = w.sum(1)
    r = y[None, :] - ((w @ y) / sw)[:, None]
    lv = np.log(v[None, :] + tau2[:, None])
    lv[np.arange(omit.size), omit] = 0.0
    ll = -0.5 * lv.sum(1) - 0.5 * np.einsum("ij,ij->i", w * r, r)
    return ll - 0.5 * np.log(sw) if reml else ll


def _loo_stats(fit: MetaResult, tau2: FArray, omit: FArray) -> dict[str, FArray]:
    """Estimates, tests, Q, I² and H² of each leave-one-out fit given its tau²."""
    y, v = fit.yi, fit.vi
    n = fit.k - 1
    w = _masked(v, tau2, omit)
    sw = w.sum(1)
    est = (w @ y) / sw
    se = np.sqrt(1.0 / sw)
    s2w = np.ones(omit.size)
    alpha = 1 - fit.level / 100
    if fit.test == "knha":
        r = y[None, :] - est[:, None]
        rss = np.einsum("ij,ij->i", w * r, r)
        s2w = np.where(rss <= EPS, 0.0, rss / (n - 1))
        se = se * np.sqrt(s2w)
        zval = est / se
        pval = 2 * stats.t.sf(np.abs(zval), n - 1)
        crit = float(stats.t.isf(alpha / 2, n - 1))
    else:
        zval = est / se
        pval = 2 * stats.norm.sf(np.abs(zval))
        crit = float(stats.norm.isf(alpha / 2))
    w0 = _masked(v, np.zeros(omit.size), omit)
    sw0 = w0.sum(1)
    r0 = y[None, :] - ((w0 @ y) / sw0)[:, None]
    q = np.maximum(0.0, np.einsum("ij,ij->i", w0 * r0, r0))
    vt = (n - 1) / (sw0 - np.einsum("ij,ij->i", w0, w0) / sw0)
    return {
        "estimate": est,
        "se": se,
        "zval": zval,
        "pval": pval,
        "ci_lb": est - crit * se,
        "ci_ub": est + crit * se,
        "Q": q,
        "Qp": stats.chi2.sf(q, n - 1),
        "tau2": tau2,
        "I2": 100 * tau2 / (vt + tau2),
        "H2": tau2 / vt + 1,
        "s2w": s2w,
    }


def influence(fit: MetaResult, labels: Sequence[object] | None = None) -> pd.DataFrame:
    """Studentized deleted residuals, Cook's distances, hat values and weights (metafor).

    Columns: ``rstudent`` (``rstudent()$z``), ``resid``, ``se_resid``, ``cooks_distance``,
    ``tau2_del``, ``QE_del``, ``hat`` and ``weight`` (%).
    """
    if fit.k == 1:
        raise MetaAnalysisError("influence diagnostics need at least 2 studies (k = 1)")
    y, v, k = fit.yi, fit.vi, fit.k
    w = 1.0 / (v + fit.tau2)
    if fit.int_only:
        loo = leave1out(fit)
        delpred = loo["estimate"].to_numpy()
        vdel = loo["se"].to_numpy() ** 2
        tau2_del = loo["tau2"].to_numpy()
        qe_del = loo["Q"].to_numpy()
        s2w_del = loo.attrs["s2w"]
        dfb = (fit.beta[0] - delpred)[:, None]
        hat = w / w.sum()
    else:
        X = fit.X
        assert X is not None
        delpred, vdel, tau2_del, qe_del, s2w_del = (np.full(k, math.nan) for _ in range(5))
        dfb = np.full((k, fit.p), math.nan)
        for i in range(k):
            res = _try_fit(np.delete(y, i), np.delete(v, i), fit, mods=np.delete(X[:, 1:], i, 0))
            if res is None:
                continue
            delpred[i] = X[i] @ res.beta
            vdel[i] = X[i] @ res.vb @ X[i]
            tau2_del[i], qe_del[i], s2w_del[i] = res.tau2, res.QE, res.s2w
            dfb[i] = fit.beta - res.beta
        hat = w * np.einsum("ij,jk,ik->i", X, np.linalg.inv((X.T * w) @ X), X)
    resid = y - delpred
    resid[np.abs(resid) < 100 * EPS] = 0.0
    se_resid = np.sqrt(v * s2w_del + vdel + tau2_del * s2w_del)
    cook = np.einsum("ij,jk,ik->i", dfb, np.linalg.inv(fit.vb), dfb)
    df = pd.DataFrame(
        {
            "rstudent": resid / se_resid,
            "resid": resid,
            "se_resid": se_resid,
            "cooks_distance": cook,
            "tau2_del": tau2_del,
            "QE_del": qe_del,
            "hat": hat,
            "weight": 100 * w / w.sum(),
        }
    )
    df.insert(0, "study", _labels(labels, k))
    return df


def cumulative(
    fit: MetaResult, order: ArrayLike | None = None, labels: Sequence[object] | None = None
) -> pd.DataFrame:
    """Cumulative meta-analysis adding studies by increasing ``order`` (stable; ``cumul``)."""
    _require_int_only(fit, "cumulative meta-analysis")
    k = fit.k
    idx = np.arange(k) if order is None else np.argsort(np.asarray(order), kind="stable")
    if idx.size != k:
        raise MetaAnalysisError(f"order has {idx.size} values for {k} studies")
    y, v = fit.yi[idx], fit.vi[idx]
    rows = [_row(_try_fit(y[: i + 1], v[: i + 1], fit)) for i in range(k)]
    df = pd.DataFrame({c: [r[c] for r in rows] for c in CASE_COLUMNS})
    lab = _labels(labels, k)
    df.insert(0, "study", [lab[i] for i in idx])
    df.insert(1, "k", np.arange(1, k + 1))
    return df


@dataclass(frozen=True)
class RegtestResult:
    """Egger's regression test (metafor ``regtest``, model="rma", predictor="sei")."""

    zval: float
    pval: float
    ddf: int | None
    limit_estimate: float
    limit_ci_lb: float
    limit_ci_ub: float
    fit: MetaResult


def regtest(fit: MetaResult) -> RegtestResult:
    """Egger's test: the model refitted with sqrt(vi) as moderator, same method/test/control."""
    _require_int_only(fit, "Egger's regression test")
    res = rma(
        fit.yi,
        fit.vi,
        mods=np.sqrt(fit.vi),
        coef_names=["sei"],
        method=fit.method,
        test=fit.test,
        level=fit.level,
        control=fit.control,
    )
    return RegtestResult(
        zval=float(res.zval[1]),
        pval=float(res.pval[1]),
        ddf=res.ddf,
        limit_estimate=float(res.beta[0]),
        limit_ci_lb=float(res.ci_lb[0]),
        limit_ci_ub=float(res.ci_ub[0]),
        fit=res,
    )


@dataclass(frozen=True)
class TrimfillResult:
    """Trim-and-fill: number and side of filled studies, their values and the refitted model."""

    k0: int
    se_k0: float
    side: str
    fill_yi: FArray
    fill_vi: FArray
    fit: MetaResult


def trimfill(
    fit: MetaResult,
    side: str | None = None,
    *,
    maxiter: int = 100,
    test: str | None = None,
    control: Control | None = None,
) -> TrimfillResult:
    """Trim and fill with the L0 estimator (metafor ``trimfill``).

    The side is chosen as metafor does (sign of the sqrt(vi) slope). Refits use the fit's
    method and, unless given, its test and control (metafor: ``trimfill(res, test=, control=)``).
    """
    _require_int_only(fit, "trim-and-fill")
    test = fit.test if test is None else test
    control = fit.control if control is None else control

    def refit(y: FArray, v: FArray, mods: FArray | None = None, tst: str = test) -> MetaResult:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return rma(y, v, mods=mods, method=fit.method, test=tst, level=fit.level, control=control)

    if side is None:  # only the slope's sign matters, which does not depend on the test
        side = "right" if refit(fit.yi, fit.vi, np.sqrt(fit.vi), "z").beta[1] < 0 else "left"
    if side not in ("left", "right"):
        raise MetaAnalysisError("side must be 'left' or 'right'")
    sign = -1.0 if side == "right" else 1.0
    ix = np.argsort(sign * fit.yi, kind="stable")
    y, v = sign * fit.yi[ix], fit.vi[ix]
    k = y.size
    k0, k0_prev, it = 0, -1, 0
    beta = 0.0
    se_k0 = math.nan
    yc = y
    while k0 != k0_prev:
        k0_prev = k0
        it += 1
        if it > maxiter:
            raise MetaAnalysisError("trim-and-fill did not converge")
        beta = refit(y[: k - k0], v[: k - k0]).estimate
        yc = y - beta
        ranks = np.empty(k)
        ranks[np.argsort(np.abs(yc), kind="stable")] = np.arange(1, k + 1)
        sr = float((np.sign(yc) * ranks)[yc > 0].sum())
        k0f = (4 * sr - k * (k + 1)) / (2 * k - 1)
        var_sr = (
            k * (k + 1) * (2 * k + 1)
            + 10 * k0f**3
            + 27 * k0f**2
            + 17 * k0f
            - 18 * k * k0f**2
            - 18 * k * k0f
            + 6 * k**2 * k0f
        ) / 24
        se_k0 = max(0.0, 4 * math.sqrt(var_sr) / (2 * k - 1)) if var_sr >= 0 else math.nan
        k0 = max(0, round(k0f))
    if k0 == 0:
        return TrimfillResult(0, se_k0, side, np.empty(0), np.empty(0), fit)
    fill_y = sign * (2 * beta - y[k - k0 :])  # mirror images around the trimmed estimate
    fill_v = v[k - k0 :]
    res = refit(np.concatenate([fit.yi, fill_y]), np.concatenate([fit.vi, fill_v]))
    return TrimfillResult(k0, se_k0, side, fill_y, fill_v, res)
