"""Numerical core of :mod:`livingreview.meta.models`: errors, input checks, root finding, WLS algebra.

Everything here works on vectors of length k and p×p matrices; no k×k matrix is ever built.
The algebra follows metafor 3.8 (``rma.uni``) term by term so results agree to rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

EPS = float(np.finfo(float).eps)
FArray = NDArray[np.float64]


class MetaAnalysisError(ValueError):
    """A meta-analysis cannot be computed; the message names the problem."""


class ConvergenceError(MetaAnalysisError):
    """An iterative estimator did not converge (never reported as a number)."""


class InputError(MetaAnalysisError):
    """Invalid input value, located by column name and 0-based index."""

    def __init__(self, column: str, index: int | None, problem: str) -> None:
        self.column = column
        self.index = index
        self.problem = problem
        where = column if index is None else f"{column}[{index}]"
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class Control:
    """Iteration settings; names follow metafor's ``control=list(...)``.

    By default (``exact=True``) every stopping rule is relative: Fisher scoring (REML/ML) stops
    when a step changes tau² by at most ``threshold`` × tau² (or, where rounding in the score
    keeps Newton's steps from shrinking below 1e-10 × tau², there), root finders (PM, Q-profile) solve
    to machine precision, and the data are rescaled by a power of two first, so that results do
    not depend on the units of yi. :meth:`metafor` gives metafor's absolute defaults
    (``threshold`` 1e-5 on tau², root tolerance ``tol`` = eps^¼), to reproduce its printed output.
    ``tau2_max`` is the PM search bound (None: metafor's ``max(100, 10 * mad(yi)^2)`` under
    metafor control; an expanding bracket under exact control).
    """

    threshold: float = 1e-13
    tol: float = 1e-14
    maxiter: int = 1000
    tau2_max: float | None = None
    stepadj: float = 1.0
    ll0check: bool = True
    exact: bool = True

    @classmethod
    def metafor(cls, **settings: Any) -> Control:
        """metafor 3.8's defaults (absolute threshold 1e-5, uniroot tol eps^¼, maxiter 100)."""
        base: dict[str, Any] = {"threshold": 1e-5, "tol": EPS**0.25, "maxiter": 100, "exact": False}
        return cls(**{**base, **settings})

    @classmethod
    def of(cls, control: Control | str | None) -> Control:
        """A Control from an instance, ``"exact"`` (also None) or ``"metafor"``."""
        if isinstance(control, Control):
            return control
        if control is None or control == "exact":
            return EXACT
        if control == "metafor":
            return cls.metafor()
        raise MetaAnalysisError(f"unknown control {control!r}; choose 'exact' or 'metafor'")


_MIN, _MAX = np.minimum.reduce, np.maximum.reduce  # ndarray.min/max without their Python wrappers
EXACT = Control()  # the default (frozen, so one instance serves every fit)
TINY = float(np.finfo(float).tiny)  # smallest normal double: below it precision is lost
MAX_VI_RATIO = 1e100  # widest range of variances the sums can hold without overflow
MAX_Z = 1e50  # largest |yi − mean| in units of the typical standard error
METAFOR_RANGE = (1e-100, 1e100)  # vi for absolute (metafor) tolerances on the raw scale


def _as_vector(x: ArrayLike, name: str) -> FArray:
    arr = np.asarray(x)
    if arr.ndim > 1 and sum(n > 1 for n in arr.shape) > 1:
        raise MetaAnalysisError(f"{name} must be one-dimensional, got shape {arr.shape}")
    try:
        out = np.asarray(arr, dtype=float).ravel()
    except (TypeError, ValueError):
        flat = arr.ravel()
        for i, item in enumerate(flat.tolist()):
            try:
                float(item)
            except (TypeError, ValueError):
                raise InputError(name, i, f"not a number: {item!r}") from None
        raise
    return out


class Extent(NamedTuple):
    """Smallest and largest outcome and variance of checked data (found once, used by every step)."""

    ymin: float
    ymax: float
    vmin: float
    vmax: float


def check_yi_vi(yi: ArrayLike, vi: ArrayLike, exact: bool = True) -> tuple[FArray, FArray]:
    """Return (yi, vi) as float vectors or raise :class:`InputError` naming the first bad value.

    Beyond missing and non-positive values this refuses what cannot be fitted exactly in double
    precision: subnormal variances, variances spanning more than 1e100, and outcomes so far
    from the others that their squares in units of the variances would overflow.
    """
    y, v, _ = check_data(yi, vi, exact)
    return y, v


def check_data(yi: ArrayLike, vi: ArrayLike, exact: bool = True) -> tuple[FArray, FArray, Extent]:
    """:func:`check_yi_vi` that also returns the :class:`Extent` of the data."""
    y = _as_vector(yi, "yi")
    v = _as_vector(vi, "vi")
    if y.size != v.size:
        raise MetaAnalysisError(f"yi and vi differ in length ({y.size} vs {v.size})")
    if y.size == 0:
        raise MetaAnalysisError("no studies (k = 0)")
    extent = Extent(float(_MIN(y)), float(_MAX(y)), float(_MIN(v)), float(_MAX(v)))
    vmin, vmax = extent.vmin, extent.vmax
    ymax = max(extent.ymax, -extent.ymin)  # NaN if any yi is NaN (min and max both are)
    lo, hi = (TINY, math.inf) if exact else METAFOR_RANGE
    if (
        math.isfinite(ymax)
        and ymax <= 1e300
        and math.isfinite(vmax)
        and lo <= vmin
        and vmax <= hi
        and vmax <= MAX_VI_RATIO * vmin
    ):
        return y, v, extent
    for name, arr in (("yi", y), ("vi", v)):
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            what = "missing value" if np.isnan(arr[bad[0]]) else "infinite value"
            raise InputError(name, int(bad[0]), what)
    bad = np.flatnonzero(v <= 0)
    if bad.size:
        raise InputError("vi", int(bad[0]), f"variance must be positive, got {v[bad[0]]:.17g}")
    if ymax > 1e300:
        i = int(np.argmax(np.abs(y)))
        raise InputError("yi", i, f"{y[i]:.17g} is too large to be fitted exactly (|yi| > 1e300)")
    if vmin < lo:
        i = int(np.argmin(v))
        if exact:
            raise InputError("vi", i, f"{v[i]:.17g} is subnormal (below {TINY:.3g}): it has lost precision")
        raise InputError("vi", i, f"{v[i]:.17g} is below {lo:g}: control='metafor' (absolute "
                         "tolerances) cannot fit it; use the default exact control")  # fmt: skip
    if vmax > hi:
        i = int(np.argmax(v))
        raise InputError("vi", i, f"{v[i]:.17g} is above {hi:g}: control='metafor' (absolute "
                         "tolerances) cannot fit it; use the default exact control")  # fmt: skip
    med = float(np.median(v))
    if med / vmin > vmax / med:  # name the variance that stands out
        i = int(np.argmin(v))
        raise InputError("vi", i, f"{v[i]:.17g} is more than 1e100 times smaller than the largest "
                         f"variance ({vmax:.17g}): the weights cannot be summed exactly")  # fmt: skip
    i = int(np.argmax(v))
    raise InputError("vi", i, f"{v[i]:.17g} is more than 1e100 times the smallest variance "
                     f"({vmin:.17g}): the weights cannot be summed exactly")  # fmt: skip


def mad(x: FArray) -> float:
    """R's ``mad()``: 1.4826 × median absolute deviation."""
    med = np.median(x)
    return float(1.4826 * np.median(np.abs(x - med)))


def zeroin(
    f: Callable[[float], float],
    lower: float,
    upper: float,
    f_lower: float,
    f_upper: float,
    tol: float,
    maxiter: int,
) -> tuple[float, bool]:
    """Brent's root finder exactly as R's ``uniroot`` (``R_zeroin2``); returns (root, converged)."""
    a, b, fa, fb = lower, upper, f_lower, f_upper
    c, fc = a, fa
    if fa == 0.0:
        return a, True
    if fb == 0.0:
        return b, True
    for _ in range(maxiter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2.0 * EPS * abs(b) + tol / 2.0
        new_step = (c - b) / 2.0
        if abs(new_step) <= tol_act or fb == 0.0:
            return b, True
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2.0) and p < abs(prev_step * q / 2.0):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b, False


@dataclass(frozen=True)
class Wls:
    """Weighted least-squares fit of y on X with weights w.

    ``A`` is (X'WX)^-1 (p×p), ``h`` the diagonal x_i' A x_i, ``resid`` = y − Xβ. The implied
    k×k matrix P = W − W X A X' W is only ever used through the trace helpers below.
    """

    w: FArray
    X: FArray | None  # None means intercept only
    beta: FArray
    A: FArray
    h: FArray | float
    resid: FArray

    @property
    def rss(self) -> float:
        """y'Py = Σ w r²."""
        return float(self.w @ (self.resid * self.resid))

    @property
    def ypp(self) -> float:
        """y'PPy = ‖Py‖² = Σ (w r)²."""
        wr = self.w * self.resid
        return float(wr @ wr)

    def tr_p(self) -> float:
        """tr(P) = Σ w − Σ w² h."""
        return float(self.w.sum() - (self.w * self.w) @ _as_vec(self.h, self.w))

    def sum_p2(self, u: FArray | float = 1.0, s: FArray | float = 1.0) -> float:
        """Σ_ij P_ij² u_i s_j (u, s vectors or scalars)."""
        w = self.w
        w2 = w * w
        uu = np.broadcast_to(np.asarray(u, dtype=float), w.shape)
        ss = np.broadcast_to(np.asarray(s, dtype=float), w.shape)
        us = uu * ss
        term1 = float(w2 @ us)
        term2 = -2.0 * float((w2 * w) @ (us * _as_vec(self.h, w)))
        if self.X is None:
            a = float(self.A[0, 0])
            term3 = a * a * float(w2 @ uu) * float(w2 @ ss)
        else:
            mu = self.X.T @ (self.X * (w2 * uu)[:, None])
            ms = self.X.T @ (self.X * (w2 * ss)[:, None])
            term3 = float(np.trace(self.A @ mu @ self.A @ ms))
        return term1 + term2 + term3


def _as_vec(h: FArray | float, like: FArray) -> FArray:
    return np.broadcast_to(np.asarray(h, dtype=float), like.shape)


def wls(y: FArray, w: FArray, X: FArray | None) -> Wls:
    """Solve the weighted least-squares problem (X None: intercept only)."""
    if X is None:
        sw = float(w.sum())
        a = 1.0 / sw
        beta = np.array([float(w @ y) / sw if y.size > 1 else float(y[0])])
        return Wls(w, None, beta, np.array([[a]]), a, y - beta[0])
    sw = np.sqrt(w)
    q, r = np.linalg.qr(X * sw[:, None])  # QR of W^½X, as metafor's .invcalc
    r_inv = np.linalg.inv(r)  # p×p upper triangular
    beta = r_inv @ (q.T @ (sw * y))
    A = r_inv @ r_inv.T
    t = X @ r_inv
    h = np.einsum("ij,ij->i", t, t)
    return Wls(w, X, beta, A, h, y - X @ beta)


def chisq_sf(x: float, df: float) -> float:
    """Upper chi-square tail, NaN-safe."""
    from scipy import special

    return float(special.chdtrc(df, x)) if df > 0 and math.isfinite(x) else math.nan
