"""Sensitivity and small-study analyses matching metafor 3.8.

``leave1out`` and ``cumulative`` (``cumul``) fit all k models at once through the engine's
Fisher-scoring core and inference block (REML, ML, EE; other estimators refit one by one);
``influence`` (``rstudent`` and ``cooks.distance``), ``regtest`` (Egger) and ``trimfill``.
Tables are pandas DataFrames (pandas is imported on first use); ``*_columns`` give numpy columns.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from livingreview.meta.core import EPS, Control, FArray, MetaAnalysisError
from livingreview.meta.fisher import Fits, fisher
from livingreview.meta.inference import intercept_stats
from livingreview.meta.models import MetaResult, rma

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


def _frame(cols: dict[str, Any]) -> Any:
    import pandas as pd

    return pd.DataFrame(cols)


def leave1out_columns(fit: MetaResult) -> dict[str, FArray]:
    """Leave-one-out fits as numpy columns (:data:`CASE_COLUMNS` and ``s2w``), row i without study i."""
    _require_int_only(fit, "leave-one-out")
    k = fit.k
    if fit.method in ("REML", "ML", "EE"):
        prep = fit.prepared()
        mu = (fit.estimate - prep.shift) / prep.yscale  # centre at the full fit: LOO means stay close
        prep = replace(prep, y=prep.y - mu, shift=prep.shift + mu * prep.yscale)
        start = np.full(k, fit.tau2 / prep.vscale) if fit.control.exact and k > 2 else None
        return _batch(fit, Fits(prep.y, prep.v, omit=np.arange(k)), prep, "leave-one-out", start)
    rows = [_row(_try_fit(np.delete(fit.yi, i), np.delete(fit.vi, i), fit)) for i in range(k)]
    return {c: np.array([r[c] for r in rows]) for c in [*CASE_COLUMNS, "s2w"]}


def _batch(
    fit: MetaResult, fits: Fits, prep: Any, what: str, start: FArray | None = None
) -> dict[str, FArray]:
    """All fits of a batch through the Fisher core and the inference block; failures are NaN rows."""
    m = np.asarray(fits.n).size
    ok = np.ones(m, dtype=bool)
    if fit.method == "EE":
        tau2 = np.zeros(m)
    else:
        res = fisher(fits, fit.method == "REML", fit.control, prep.scale, start)
        tau2, ok = res.tau2, res.converged
        if np.any(res.reset):
            warnings.warn(f"{what}: Fisher scoring stuck at a local maximum; tau2 set to 0", stacklevel=4)
    cols = intercept_stats(fits, tau2, prep, fit.method, fit.test, fit.level)
    out = {c: cols[c] for c in [*CASE_COLUMNS, "s2w"]}
    for c in out:
        out[c][~ok] = math.nan
    bad = np.flatnonzero(~ok)
    if bad.size:
        warnings.warn(f"{what}: fit(s) {bad.tolist()} did not converge", stacklevel=4)
    return out


def leave1out(fit: MetaResult, labels: Sequence[object] | None = None) -> Any:
    """Refit omitting each study in turn (metafor ``leave1out``); one row per omitted study.

    A fit that fails or does not converge gives a row of NaN plus a warning, as metafor
    leaves NA. Returns a pandas DataFrame with ``attrs["s2w"]`` (Knapp–Hartung factors).
    """
    with warnings.catch_warnings():  # one warning below names the studies (not one per fit index)
        warnings.filterwarnings("ignore", message=r".*did not converge", category=UserWarning)
        cols = leave1out_columns(fit)
    bad = np.flatnonzero(np.isnan(cols["estimate"]))
    if bad.size:
        warnings.warn(f"leave-one-out: fit(s) without study {bad.tolist()} failed", stacklevel=2)
    df = _frame({c: cols[c] for c in CASE_COLUMNS})
    df.insert(0, "study", _labels(labels, fit.k))
    df.attrs["s2w"] = cols["s2w"]
    return df


def influence(fit: MetaResult, labels: Sequence[object] | None = None) -> Any:
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
    unit = math.sqrt(fit.prepared().scale) * fit.prepared().yscale if fit.control.exact else 1.0
    resid[np.abs(resid) < 100 * EPS * unit] = 0.0  # metafor: absolute 100·eps
    se_resid = np.sqrt(v * s2w_del + vdel + tau2_del * s2w_del)
    cook = np.einsum("ij,jk,ik->i", dfb, np.linalg.inv(fit.vb), dfb)
    df = _frame(
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


def cumulative_columns(fit: MetaResult, order: ArrayLike | None = None) -> dict[str, FArray]:
    """Cumulative fits as numpy columns plus ``index`` (the study added at each step) and ``k``."""
    _require_int_only(fit, "cumulative meta-analysis")
    k = fit.k
    idx = np.arange(k) if order is None else np.argsort(np.asarray(order), kind="stable")
    if idx.size != k:
        raise MetaAnalysisError(f"order has {idx.size} values for {k} studies")
    y, v = fit.yi[idx], fit.vi[idx]
    if fit.method in ("REML", "ML", "EE"):
        prep = fit.__class__.prepared(_reordered(fit, y, v))
        cols = _batch(fit, Fits(prep.y, prep.v, upto=np.arange(1, k + 1)), prep, "cumulative")
    else:
        rows = [_row(_try_fit(y[: i + 1], v[: i + 1], fit)) for i in range(k)]
        cols = {c: np.array([r[c] for r in rows]) for c in [*CASE_COLUMNS, "s2w"]}
    return {"index": idx, "k": np.arange(1, k + 1), **cols}


def _reordered(fit: MetaResult, y: FArray, v: FArray) -> MetaResult:
    return replace(fit, yi=y, vi=v)


def cumulative(
    fit: MetaResult, order: ArrayLike | None = None, labels: Sequence[object] | None = None
) -> Any:
    """Cumulative meta-analysis adding studies by increasing ``order`` (stable; ``cumul``)."""
    cols = cumulative_columns(fit, order)
    df = _frame({c: cols[c] for c in CASE_COLUMNS})
    lab = _labels(labels, fit.k)
    df.insert(0, "study", [lab[i] for i in cols["index"]])
    df.insert(1, "k", cols["k"])
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
