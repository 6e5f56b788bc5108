"""Meta-analysis engine: random/fixed-effects models and meta-regression matching metafor 3.8.

>>> fit = rma(yi, vi, method="REML")            # doctest: +SKIP
>>> fit.estimate, fit.tau2, confint_tau2(fit)   # doctest: +SKIP

Sensitivity analyses live in :mod:`livingreview.meta.sensitivity`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from livingreview.meta.core import (
    EPS,
    Control,
    ConvergenceError,
    FArray,
    InputError,
    MetaAnalysisError,
    check_data,
    check_yi_vi,
    chisq_sf,
    wls,
)
from livingreview.meta.fisher import Fits, Prepared, prepare
from livingreview.meta.inference import critical, intercept_stats
from livingreview.meta.tau2 import METHODS, estimate_tau2, q_gen, solve_decreasing

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
    pi_lb: float = math.nan
    pi_ub: float = math.nan

    @classmethod
    def _of(cls, fields: dict[str, Any]) -> MetaResult:
        """A result from the dict of all its fields (the single-fit path: the dict becomes the
        instance's, instead of a frozen dataclass's ``object.__setattr__`` per field)."""
        obj = object.__new__(cls)
        object.__setattr__(obj, "__dict__", fields)
        return obj

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
        if self.ddf is not None and self.ddf < 1:
            return math.nan
        return float(critical(self.level, self.ddf))

    def prepared(self) -> Prepared:
        """The centred (and, for extreme units, rescaled) data the fit was computed on."""
        return prepare(self.yi, self.vi, self.control.exact)


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


def moderator_matrix(frame: Any, columns: Sequence[str]) -> tuple[FArray, list[str]]:
    """Moderator columns as R's ``model.matrix`` would code them (without the intercept).

    Numeric columns enter as they are; other columns are factors with sorted levels and
    treatment contrasts against the first level, named ``<column><level>`` as in metafor.
    """
    import pandas as pd

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
    control: Control | str | None = None,
) -> MetaResult:
    """Fit a fixed/random-effects model or meta-regression (metafor ``rma(yi, vi, mods=...)``).

    ``mods`` holds moderator columns (an intercept is always added); ``test="knha"`` gives
    Knapp–Hartung t/F tests with k − p df (s² not truncated). ``control`` is ``"exact"`` (the
    default: converged to machine precision, independent of the units of yi) or ``"metafor"``
    (metafor's absolute stopping rules, to reproduce its printed output), or a :class:`Control`.
    """
    control = Control.of(control)
    y, v, extent = check_data(yi, vi, control.exact)
    if method not in METHODS:
        raise MetaAnalysisError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if test not in TESTS:
        raise MetaAnalysisError(f"unknown test {test!r}; choose 'z' or 'knha'")
    if not 0 < level < 100:
        raise MetaAnalysisError("level must be between 0 and 100")
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
    if extent.vmax >= 1e7 * extent.vmin:
        warnings.warn("ratio of largest to smallest vi is extremely large", stacklevel=2)
    prep = prepare(y, v, control.exact, extent)
    fits = Fits(prep.y, prep.v) if X is None else None
    t2 = estimate_tau2(prep.y, prep.v, X, p, method, control, prep.scale, fits)
    if fits is not None:
        return _intercept_result(
            y, v, prep, fits, method, test, level, control, t2.tau2, t2.se, t2.iterations
        )
    return _finish(y, v, prep, X, names, method, test, level, control, t2.tau2, t2.se, t2.iterations)


def _intercept_result(
    y: FArray,
    v: FArray,
    prep: Prepared,
    fits: Fits,
    method: str,
    test: str,
    level: float,
    control: Control,
    tau2: float,
    se_tau2: float,
    iterations: int,
) -> MetaResult:
    """An intercept-only fit from its tau² (normalised units) through the inference block."""
    s = intercept_stats(fits, tau2, prep, method, test, level)
    ddf = s["ddf"]
    z, se, pval = s["zval"], s["se"], s["pval"]
    a = np.array([s["estimate"], se, z, pval, s["ci_lb"], s["ci_ub"], se**2])[:, None]  # seven rows
    return MetaResult._of({
        "yi": y, "vi": v, "X": None, "coef_names": ("intrcpt",), "method": method, "test": test,
        "level": level, "control": control, "beta": a[0], "se": a[1], "zval": a[2],
        "pval": a[3], "ci_lb": a[4], "ci_ub": a[5], "vb": a[6:], "tau2": s["tau2"],
        "se_tau2": se_tau2 * prep.vscale, "QE": s["Q"], "QEp": s["Qp"], "QM": z * z, "QM_df": (1, ddf),
        "QMp": pval, "I2": s["I2"], "H2": s["H2"], "vt": s["vt"], "s2w": s["s2w"], "ddf": ddf, "R2": None,
        "iterations": iterations, "pi_lb": s["pi_lb"], "pi_ub": s["pi_ub"],
    })  # fmt: skip


def _coef_names(coef_names: Sequence[str] | None, p: int) -> tuple[str, ...]:
    if coef_names is None and p == 1:
        return ("intrcpt",)
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
    prep: Prepared,
    X: FArray,
    names: tuple[str, ...],
    method: str,
    test: str,
    level: float,
    control: Control,
    tau2: float,
    se_tau2: float,
    iterations: int,
) -> MetaResult:
    """A meta-regression from its tau² (normalised units): WLS on the centred data, QM test."""
    from scipy import special

    k = y.size
    fit = wls(prep.y, 1.0 / (prep.v + tau2), X)
    p = fit.beta.size
    beta = fit.beta * prep.yscale
    beta[0] += prep.shift
    s2w = 1.0
    ddf: int | None = None
    if test == "knha":
        rss = fit.rss
        s2w = 0.0 if rss <= EPS else (rss / (k - p) if k > p else math.inf)
        ddf = k - p
    vb = s2w * fit.A * prep.vscale
    se = np.sqrt(np.diag(vb))
    with np.errstate(divide="ignore", invalid="ignore"):  # k = p under knha: se = 0, as metafor
        zval = beta / se
    btt = np.arange(1, p) if p > 1 else np.array([0])
    m = btt.size
    try:
        sub = vb[np.ix_(btt, btt)]
        b = beta[btt]
        QM = float(b @ np.linalg.solve(sub, b))
    except np.linalg.LinAlgError:
        QM = math.nan
    if ddf is not None:
        QM /= m
        QM_df: tuple[int, int | None] = (m, k - p)
        QMp = float(special.fdtrc(m, k - p, QM)) if k - p > 0 else math.nan
        pval = 2 * special.stdtr(ddf, -np.abs(zval)) if ddf > 0 else np.full(p, math.nan)
        crit = float(critical(level, ddf)) if ddf > 0 else math.nan
    else:
        QM_df = (m, None)
        QMp = chisq_sf(QM, m)
        pval = 2 * special.ndtr(-np.abs(zval))
        crit = float(critical(level, None))
    if k > p:
        fe = wls(prep.y, 1.0 / prep.v, X)
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
    R2 = _r2(prep, X, method, control, tau2)
    return MetaResult(
        yi=y, vi=v, X=X, coef_names=names, method=method, test=test, level=level, control=control,
        beta=beta, se=se, zval=zval, pval=np.asarray(pval, dtype=float), ci_lb=beta - crit * se,
        ci_ub=beta + crit * se, vb=vb, tau2=tau2 * prep.vscale, se_tau2=se_tau2 * prep.vscale,
        QE=QE, QEp=QEp, QM=QM, QM_df=QM_df, QMp=QMp, I2=I2, H2=H2, vt=vt * prep.vscale, s2w=s2w,
        ddf=ddf, R2=R2, iterations=iterations,
    )  # fmt: skip


def _r2(prep: Prepared, X: FArray, method: str, control: Control, tau2: float) -> float | None:
    """Pseudo-R² (%) as metafor: (tau²_RE − tau²_ME)/tau²_RE; adjusted weighted R² for EE."""
    y, v = prep.y, prep.v
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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tau2_re = estimate_tau2(y, v, None, 1, method, control, prep.scale).tau2
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
    tol: float | None = None,
    maxiter: int | None = None,
    tau2_max: float | None = None,
) -> Tau2CI:
    """Q-profile CI for tau² (metafor ``confint(res, control=list(tol=..., maxiter=...))``).

    Under the fit's exact control the bounds are solved to machine precision on a bracket
    that grows until it holds them; under metafor control on [0, max(100, 10·tau²)] with
    uniroot's tolerance eps^¼ (``tol``, ``maxiter`` and ``tau2_max`` override either).
    """
    if fit.k == 1:
        raise MetaAnalysisError("cannot compute a CI for tau2 with k = 1")
    if fit.method == "EE":
        raise MetaAnalysisError("an equal-effects model has no tau2 to bound")
    level = fit.level if level is None else level
    alpha = 1 - level / 100
    k, p = fit.k, fit.p
    prep = fit.prepared()
    exact = fit.control.exact
    con = Control(tol=fit.control.tol if tol is None else tol, maxiter=1000 if maxiter is None else maxiter,
                  exact=exact)  # fmt: skip
    if not exact and tol is None:
        con = Control.metafor(maxiter=con.maxiter)
    tau2 = fit.tau2 / prep.vscale
    if tau2_max is not None:
        hi = tau2_max / prep.vscale
    elif exact:
        hi = 10 * max(tau2, prep.scale)
    else:
        hi = max(100.0, 10 * tau2)
    crit_u = float(special.chdtri(k - p, alpha / 2))
    crit_l = float(special.chdtri(k - p, 1 - alpha / 2))

    def q(t: float) -> float:
        return q_gen(t, prep.y, prep.v, fit.X)

    q_lo = q(0.0)
    lb = ub = math.nan
    lb_sign = ub_sign = ""
    grow = exact and tau2_max is None

    def root(target: float) -> float:
        if not grow and q(hi) > target:
            return math.nan
        r, _ = solve_decreasing(
            lambda t: q(t) - target, q_lo - target, hi, con, prep.scale, "Q-profile CI", grow
        )
        return r

    if q_lo < crit_l:
        lb = ub = 0.0
    elif not grow and q(hi) > crit_l:
        ub, ub_sign = hi, ">"
    else:
        ub = root(crit_l)
    if not grow and q(hi) > crit_u:
        lb = ub = hi
        lb_sign = ub_sign = ">"
    elif q_lo < crit_u:
        lb = 0.0
    else:
        lb = root(crit_u)
    lb, ub = lb * prep.vscale, ub * prep.vscale
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
    control: Control | str | None = None,
) -> SubgroupResult:
    """Fit one model per subgroup; Q-between is the Q test of an EE model of the subgroup estimates.

    Equivalent to metafor's recipe ``rma(estimates, sei=ses, method="EE")$QE``. For the
    common-tau² version use :func:`rma` with the subgroup as a moderator (its QM test).
    """
    y, v = check_yi_vi(yi, vi, Control.of(control).exact)
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
