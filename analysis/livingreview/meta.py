"""Meta-analysis engine: random/fixed-effects models and meta-regression matching metafor 3.8.

>>> fit = rma(yi, vi, method="REML")            # doctest: +SKIP
>>> fit.estimate, fit.tau2, confint_tau2(fit)   # doctest: +SKIP

Sensitivity analyses live in :mod:`livingreview.meta_sensitivity`; figures in
:mod:`livingreview.meta_plots`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special, stats

from livingreview.meta_core import (
    EPS,
    Control,
    ConvergenceError,
    FArray,
    InputError,
    MetaAnalysisError,
    check_yi_vi,
    chisq_sf,
    wls,
    zeroin,
)
from livingreview.meta_intercept import Workspace, final_sums, fisher_intercept
from livingreview.meta_tau2 import METHODS, estimate_tau2, q_gen

TESTS = ("z", "knha")

__all__ = [
    "METHODS",
    "TESTS",
    "ConvergenceError",
    "Control",
    "InputError",
    "MetaAnalysisError",
    "MetaResult",
    "Prediction",
    "SubgroupResult",
    "Tau2CI",
    "confint_tau2",
    "fisher_z",
    "moderator_matrix",
    "fisher_z_inverse",
    "predict",
    "rma",
    "subgroup_analysis",
]


@dataclass(frozen=True)
class MetaResult:
    """A fitted model with the fields of metafor's ``rma.uni`` object (arrays per coefficient)."""

    yi: FArray
    vi: FArray
    X: FArray | None
    coef_names: tuple[str, ...]
    method: str
    test: str
    level: float
    control: Control
    beta: FArray
    se: FArray
    zval: FArray
    pval: FArray
    ci_lb: FArray
    ci_ub: FArray
    vb: FArray
    tau2: float
    se_tau2: float
    QE: float
    QEp: float
    QM: float
    QM_df: tuple[int, int | None]
    QMp: float
    I2: float
    H2: float
    vt: float
    s2w: float
    ddf: int | None
    R2: float | None = None
    iterations: int = 0

    @property
    def k(self) -> int:
        return int(self.yi.size)

    @property
    def p(self) -> int:
        return int(self.beta.size)

    @property
    def int_only(self) -> bool:
        return self.X is None

    @property
    def weights(self) -> FArray:
        """Model weights in percent, 100·w/Σw with w = 1/(vi + tau²) (metafor ``weights``)."""
        w = 1.0 / (self.vi + self.tau2)
        return 100 * w / w.sum()

    @property
    def estimate(self) -> float:
        """Pooled estimate (the intercept)."""
        return float(self.beta[0])

    def crit(self) -> float:
        """Critical value of the Wald-type tests (z, or t with k − p df)."""
        alpha = 1 - self.level / 100
        if self.ddf is None:
            return float(stats.norm.isf(alpha / 2))
        return float(stats.t.isf(alpha / 2, self.ddf)) if self.ddf > 0 else math.nan


def fisher_z(r: ArrayLike, n: ArrayLike) -> tuple[FArray, FArray]:
    """Correlations to Fisher z: yi = atanh(r), vi = 1/(n − 3) (metafor ``escalc("ZCOR")``)."""
    r_ = np.asarray(r, dtype=float)
    n_ = np.asarray(n, dtype=float)
    if np.any(np.abs(r_) >= 1) or np.any(~np.isfinite(r_)):
        raise MetaAnalysisError("correlations must lie strictly between -1 and 1")
    if np.any(n_ <= 3) or np.any(~np.isfinite(n_)):
        raise MetaAnalysisError("sample sizes must exceed 3 for Fisher's z")
    return np.arctanh(r_), 1.0 / (n_ - 3.0)


def fisher_z_inverse(z: ArrayLike) -> FArray:
    """Back-transform Fisher z to the correlation scale (tanh)."""
    return np.tanh(np.asarray(z, dtype=float))


def moderator_matrix(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[FArray, list[str]]:
    """Moderator columns as R's ``model.matrix`` would code them (without the intercept).

    Numeric columns enter as they are; other columns are factors with sorted levels and
    treatment contrasts against the first level, named ``<column><level>`` as in metafor.
    """
    blocks: list[FArray] = []
    names: list[str] = []
    for col in columns:
        if col not in frame.columns:
            raise MetaAnalysisError(f"no column {col!r} for a moderator")
        series = frame[col]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            blocks.append(series.to_numpy(dtype=float)[:, None])
            names.append(col)
            continue
        if series.isna().any():
            raise InputError(col, int(np.flatnonzero(series.isna())[0]), "missing moderator value")
        values = series.astype(str).to_numpy()
        levels = sorted(set(values.tolist()))
        if len(levels) < 2:
            raise MetaAnalysisError(f"moderator {col!r} has a single level")
        for lev in levels[1:]:
            blocks.append((values == lev).astype(float)[:, None])
            names.append(f"{col}{lev}")
    if not blocks:
        return np.empty((len(frame), 0)), []
    return np.hstack(blocks), names


def _design(mods: ArrayLike | None, k: int) -> FArray | None:
    if mods is None:
        return None
    m = np.asarray(mods, dtype=float)
    if m.ndim == 1:
        m = m[:, None]
    if m.shape[0] != k:
        raise MetaAnalysisError(f"moderators have {m.shape[0]} rows but there are {k} studies")
    if m.shape[1] == 0:
        return None
    bad = np.argwhere(~np.isfinite(m))
    if bad.size:
        raise InputError(f"moderator {bad[0][1] + 1}", int(bad[0][0]), "missing or infinite value")
    X = np.column_stack([np.ones(k), m])
    ev = np.linalg.eigvalsh(X.T @ X)
    if np.any(ev <= 1e-7):
        raise MetaAnalysisError("model matrix not of full rank (redundant or constant moderator)")
    return X


def rma(
    yi: ArrayLike,
    vi: ArrayLike,
    *,
    mods: ArrayLike | None = None,
    coef_names: Sequence[str] | None = None,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    control: Control | None = None,
) -> MetaResult:
    """Fit a fixed/random-effects model or meta-regression (metafor ``rma(yi, vi, mods=...)``).

    ``mods`` holds moderator columns (an intercept is always added); ``test="knha"`` gives
    Knapp–Hartung t/F tests with k − p df (s² not truncated).
    """
    y, v = check_yi_vi(yi, vi)
    if method not in METHODS:
        raise MetaAnalysisError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if test not in TESTS:
        raise MetaAnalysisError(f"unknown test {test!r}; choose 'z' or 'knha'")
    if not 0 < level < 100:
        raise MetaAnalysisError("level must be between 0 and 100")
    control = control or Control()
    k = y.size
    X = _design(mods, k)
    p = 1 if X is None else X.shape[1]
    names = _coef_names(coef_names, p)
    if not (X is None and k == 1):
        need = p if method == "EE" else p + 1
        if need > k:
            raise MetaAnalysisError(
                f"too few studies: {p} coefficient(s){'' if method == 'EE' else ' and tau2'} "
                f"need at least {need} studies, got {k}"
            )
    if k == 1:
        test = "z"
    if v.max() / v.min() >= 1e7:
        warnings.warn("ratio of largest to smallest vi is extremely large", stacklevel=2)
    if X is None:
        return _rma_intercept(y, v, method, test, level, control)
    ymc = y - y.mean()
    t2 = estimate_tau2(ymc, v, X, p, method, control)
    return _finish(y, v, X, names, method, test, level, control, t2.tau2, t2.se, t2.iterations)


def _rma_intercept(
    y: FArray, v: FArray, method: str, test: str, level: float, control: Control
) -> MetaResult:
    """Intercept-only fit through weighted sums (no k×k or p×p algebra, buffers reused)."""
    k = y.size
    ws = Workspace.get(k)
    iterations = 0
    if k == 1 or method == "EE":
        tau2, se_tau2 = 0.0, math.nan
        at, zero, _ = final_sums(y, v, 0.0, ws)
    elif method in ("REML", "ML"):
        reml = method == "REML"
        np.subtract(y, float(y.sum()) / k, out=ws.r)
        he = (float(ws.r @ ws.r) - float(v.sum()) * (1.0 - 1.0 / k)) / (k - 1)
        tau2, iterations, ok = fisher_intercept(y, v, reml, control, ws, max(0.0, he))
        if not ok:
            raise ConvergenceError(
                f"{method}: Fisher scoring did not converge in {control.maxiter} iterations "
                f"(threshold {control.threshold:g}); try a larger maxiter or another method"
            )
        at, zero, gap = final_sums(y, v, tau2, ws, reml)
        if control.ll0check and tau2 > control.threshold and gap > control.tol:
            warnings.warn(
                f"{method}: Fisher scoring may have stopped at a local maximum; tau2 set to 0",
                stacklevel=3,
            )
            tau2, at = 0.0, zero
        se_tau2 = math.sqrt(2.0 / at.tr_pp) if reml else math.sqrt(2.0 / at.sw2)
    else:
        t2 = estimate_tau2(y - y.mean(), v, None, 1, method, control)
        tau2, se_tau2 = t2.tau2, t2.se
        at, zero, _ = final_sums(y, v, tau2, ws)
    s2w, ddf = 1.0, None
    if test == "knha":
        s2w = 0.0 if at.rss <= EPS else at.rss / (k - 1)
        ddf = k - 1
    vb = s2w / at.sw
    se = math.sqrt(vb)
    zval = at.mu / se if se > 0 else math.copysign(math.inf, at.mu)
    alpha = 1 - level / 100  # scipy.special ufuncs: the same values as scipy.stats, faster
    if ddf is None:
        crit = -float(special.ndtri(alpha / 2))
        pval = 2 * float(special.ndtr(-abs(zval)))
        QM_df: tuple[int, int | None] = (1, None)
        QMp = pval
    else:
        crit = -float(special.stdtrit(ddf, alpha / 2))
        pval = 2 * float(special.stdtr(ddf, -abs(zval)))
        QM_df, QMp = (1, ddf), pval
    if k > 1:
        QE = max(0.0, zero.rss)
        QEp = float(special.chdtrc(k - 1, QE))
        vt = (k - 1) / zero.tr_p
        if method == "EE":
            I2 = max(0.0, 100 * (QE - (k - 1)) / QE) if QE > 0 else 0.0
            H2 = QE / (k - 1)
        else:
            I2, H2 = 100 * tau2 / (vt + tau2), tau2 / vt + 1
    else:
        QE, QEp, I2, H2, vt = 0.0, 1.0, 0.0, 1.0, 0.0
    one = np.array
    return MetaResult(
        yi=y, vi=v, X=None, coef_names=("intrcpt",), method=method, test=test, level=level,
        control=control, beta=one([at.mu]), se=one([se]), zval=one([zval]), pval=one([pval]),
        ci_lb=one([at.mu - crit * se]), ci_ub=one([at.mu + crit * se]), vb=one([[vb]]),
        tau2=tau2, se_tau2=se_tau2, QE=QE, QEp=QEp, QM=zval * zval, QM_df=QM_df, QMp=QMp,
        I2=I2, H2=H2, vt=vt, s2w=s2w, ddf=ddf, R2=None, iterations=iterations,
    )  # fmt: skip


def _coef_names(coef_names: Sequence[str] | None, p: int) -> tuple[str, ...]:
    if coef_names is None:
        return ("intrcpt",) + tuple(f"mod{i}" for i in range(1, p))
    names = tuple(coef_names)
    if len(names) == p - 1:
        names = ("intrcpt", *names)
    if len(names) != p:
        raise MetaAnalysisError(f"{len(names)} coefficient names for {p} coefficients")
    return names


def _finish(
    y: FArray,
    v: FArray,
    X: FArray | None,
    names: tuple[str, ...],
    method: str,
    test: str,
    level: float,
    control: Control,
    tau2: float,
    se_tau2: float,
    iterations: int,
) -> MetaResult:
    k = y.size
    fit = wls(y, 1.0 / (v + tau2), X)
    p = fit.beta.size
    s2w = 1.0
    ddf: int | None = None
    if test == "knha":
        rss = fit.rss
        s2w = 0.0 if rss <= EPS else (rss / (k - p) if k > p else math.inf)
        ddf = k - p
    vb = s2w * fit.A
    se = np.sqrt(np.diag(vb))
    with np.errstate(divide="ignore", invalid="ignore"):  # k = p under knha: se = 0, as metafor
        zval = fit.beta / se
    btt = np.arange(1, p) if p > 1 else np.array([0])
    m = btt.size
    try:
        sub = vb[np.ix_(btt, btt)]
        b = fit.beta[btt]
        QM = float(b @ np.linalg.solve(sub, b))
    except np.linalg.LinAlgError:
        QM = math.nan
    alpha = 1 - level / 100
    if ddf is not None:
        QM /= m
        QM_df: tuple[int, int | None] = (m, k - p)
        QMp = float(stats.f.sf(QM, m, k - p)) if k - p > 0 else math.nan
        pval = 2 * stats.t.sf(np.abs(zval), ddf) if ddf > 0 else np.full(p, math.nan)
        crit = float(stats.t.isf(alpha / 2, ddf)) if ddf > 0 else math.nan
    else:
        QM_df = (m, None)
        QMp = chisq_sf(QM, m)
        pval = 2 * stats.norm.sf(np.abs(zval))
        crit = float(stats.norm.isf(alpha / 2))
    if k > p:
        fe = wls(y - y.mean(), 1.0 / v, X)
        QE = max(0.0, fe.rss)
        QEp = chisq_sf(QE, k - p)
        vt = (k - p) / fe.tr_p()
        if method == "EE":
            I2 = max(0.0, 100 * (QE - (k - p)) / QE) if QE > 0 else 0.0
            H2 = QE / (k - p)
        else:
            I2 = 100 * tau2 / (vt + tau2)
            H2 = tau2 / vt + 1
    else:
        QE, QEp, I2, H2, vt = 0.0, 1.0, 0.0, 1.0, 0.0
    R2 = _r2(y, v, X, method, control, tau2) if X is not None else None
    return MetaResult(
        yi=y,
        vi=v,
        X=X,
        coef_names=names,
        method=method,
        test=test,
        level=level,
        control=control,
        beta=fit.beta,
        se=se,
        zval=zval,
        pval=np.asarray(pval, dtype=float),
        ci_lb=fit.beta - crit * se,
        ci_ub=fit.beta + crit * se,
        vb=vb,
        tau2=tau2,
        se_tau2=se_tau2,
        QE=QE,
        QEp=QEp,
        QM=QM,
        QM_df=QM_df,
        QMp=QMp,
        I2=I2,
        H2=H2,
        vt=vt,
        s2w=s2w,
        ddf=ddf,
        R2=R2,
        iterations=iterations,
    )


def _r2(y: FArray, v: FArray, X: FArray, method: str, control: Control, tau2: float) -> float | None:
    """Pseudo-R² (%) as metafor: (tau²_RE − tau²_ME)/tau²_RE; adjusted weighted R² for EE."""
    k, p = X.shape
    if method == "EE":
        if np.var(y) == 0:
            return 0.0
        if k == p:
            return math.nan
        w = 1.0 / v
        fit = wls(y, w, X)
        ybar = float(w @ y) / float(w.sum())
        r2 = 1 - fit.rss / float(w @ (y - ybar) ** 2)
        adj = 1 - (1 - r2) * (k - 1) / (k - p)
        return max(0.0, 100 * adj)
    try:
        tau2_re = estimate_tau2(y - y.mean(), v, None, 1, method, control).tau2
    except MetaAnalysisError:
        return None
    if tau2_re == 0:
        return 0.0
    return max(0.0, 100 * (tau2_re - tau2) / tau2_re)


@dataclass(frozen=True)
class Tau2CI:
    """Q-profile CI for tau² with the implied I² and H² bounds (metafor ``confint``)."""

    tau2: float
    tau2_lb: float
    tau2_ub: float
    I2: float
    I2_lb: float
    I2_ub: float
    H2: float
    H2_lb: float
    H2_ub: float
    lb_sign: str = ""
    ub_sign: str = ""


def confint_tau2(
    fit: MetaResult,
    *,
    level: float | None = None,
    tol: float = EPS**0.25,
    maxiter: int = 1000,
    tau2_max: float | None = None,
) -> Tau2CI:
    """Q-profile CI for tau² (metafor ``confint(res, control=list(tol=..., maxiter=...))``)."""
    if fit.k == 1:
        raise MetaAnalysisError("cannot compute a CI for tau2 with k = 1")
    if fit.method == "EE":
        raise MetaAnalysisError("an equal-effects model has no tau2 to bound")
    level = fit.level if level is None else level
    alpha = 1 - level / 100
    k, p = fit.k, fit.p
    lo = 0.0
    hi = max(100.0, 10 * fit.tau2) if tau2_max is None else tau2_max
    crit_u = float(stats.chi2.isf(alpha / 2, k - p))
    crit_l = float(stats.chi2.ppf(alpha / 2, k - p))

    def q(t: float) -> float:
        return q_gen(t, fit.yi, fit.vi, fit.X)

    q_hi, q_lo = q(hi), q(lo)
    lb = ub = math.nan
    lb_sign = ub_sign = ""

    def root(target: float) -> float:
        r, _ = zeroin(lambda t: q(t) - target, lo, hi, q_lo - target, q_hi - target, tol, maxiter)
        return r

    if q_lo < crit_l:
        lb = ub = lo
    elif q_hi > crit_l:
        ub, ub_sign = hi, ">"
    else:
        ub = root(crit_l)
    if q_hi > crit_u:
        lb = ub = hi
        lb_sign = ub_sign = ">"
    elif q_lo < crit_u:
        lb = lo
    else:
        lb = root(crit_u)
    vt = fit.vt
    return Tau2CI(
        tau2=fit.tau2,
        tau2_lb=lb,
        tau2_ub=ub,
        I2=fit.I2,
        I2_lb=100 * lb / (vt + lb),
        I2_ub=100 * ub / (vt + ub),
        H2=fit.H2,
        H2_lb=lb / vt + 1,
        H2_ub=ub / vt + 1,
        lb_sign=lb_sign,
        ub_sign=ub_sign,
    )


@dataclass(frozen=True)
class Prediction:
    """Predicted (pooled) effect with CI and prediction interval (metafor ``predict``)."""

    pred: float
    se: float
    ci_lb: float
    ci_ub: float
    pi_lb: float
    pi_ub: float


def predict(fit: MetaResult, x: ArrayLike | None = None) -> Prediction:
    """Prediction at moderator values ``x`` (without the intercept; None for intercept-only)."""
    if fit.X is None:
        xr = np.ones(1)
    else:
        if x is None:
            raise MetaAnalysisError("predict: give moderator values for a meta-regression")
        xr = np.concatenate([[1.0], np.atleast_1d(np.asarray(x, dtype=float))])
        if xr.size != fit.p:
            raise MetaAnalysisError(f"predict: need {fit.p - 1} moderator values")
    pred = float(xr @ fit.beta)
    vpred = float(xr @ fit.vb @ xr)
    se = math.sqrt(vpred) if vpred >= 0 else math.nan
    crit = fit.crit()
    spi = math.sqrt(vpred + fit.tau2)
    ci = (pred - crit * se, pred + crit * se)
    return Prediction(pred, se, *ci, pred - crit * spi, pred + crit * spi)


@dataclass(frozen=True)
class SubgroupResult:
    """Per-subgroup fits and the test of subgroup differences (Q-between, separate tau²)."""

    groups: tuple[str, ...]
    fits: tuple[MetaResult, ...]
    Q_between: float
    df: int
    pval: float


def subgroup_analysis(
    yi: ArrayLike,
    vi: ArrayLike,
    groups: Sequence[object],
    *,
    method: str = "REML",
    test: str = "z",
    level: float = 95,
    control: Control | None = None,
) -> SubgroupResult:
    """Fit one model per subgroup; Q-between is the Q test of an EE model of the subgroup estimates.

    Equivalent to metafor's recipe ``rma(estimates, sei=ses, method="EE")$QE``. For the
    common-tau² version use :func:`rma` with the subgroup as a moderator (its QM test).
    """
    y, v = check_yi_vi(yi, vi)
    g = np.asarray([str(x) for x in groups])
    if g.size != y.size:
        raise MetaAnalysisError("groups must have one label per study")
    labels = tuple(sorted(set(g.tolist())))
    if len(labels) < 2:
        raise MetaAnalysisError("subgroup analysis needs at least two subgroups")
    fits = tuple(
        rma(y[g == lab], v[g == lab], method=method, test=test, level=level, control=control)
        for lab in labels
    )
    est = np.array([f.estimate for f in fits])
    var = np.array([f.se[0] ** 2 for f in fits])
    qb = rma(est, var, method="EE")
    return SubgroupResult(labels, fits, qb.QE, len(labels) - 1, qb.QEp)
