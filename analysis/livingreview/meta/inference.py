"""The engine's one inference block for intercept-only fits: tests, intervals and heterogeneity.

:func:`intercept_stats` turns the tau² of one fit (a float) or of a batch of fits
(arrays: leave-one-out, cumulative) into estimates, Wald-type or Knapp–Hartung tests, CIs,
prediction intervals, Q, I² and H² as metafor defines them, back on the scale of the data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from livingreview.meta.core import EPS
from livingreview.meta.fisher import Fits, Prepared


def critical(level: float, ddf: Any) -> Any:
    """Two-sided critical value: normal where ``ddf`` is None or < 1, else Student t."""
    alpha = 1 - level / 100
    z = -special.ndtri(alpha / 2)
    if ddf is None:
        return z
    return np.where(ddf >= 1, -special.stdtrit(np.maximum(ddf, 1), alpha / 2), z)


class _Scalar:
    """The operations of the inference block on Python floats (one fit): no numpy scalars, so no
    floating-point warnings to silence and no per-operation dispatch; special functions → float,
    evaluated only where needed."""

    sqrt = staticmethod(math.sqrt)
    absolute = staticmethod(abs)
    maximum = staticmethod(max)

    @staticmethod
    def where(cond: Any, a: Any, b: Any) -> Any:
        return a if cond else b

    @staticmethod
    def cdf(t: Any, df: Any, x: Any) -> float:
        """Student t (df) lower tail where ``t``, else normal."""
        return float(special.stdtr(df, x) if t else special.ndtr(x))

    @staticmethod
    def quantile(t: Any, df: Any, p: Any) -> float:
        """Student t (df) quantile where ``t``, else normal."""
        return float(special.stdtrit(df, p) if t else special.ndtri(p))

    @staticmethod
    def ndtr(x: Any) -> float:
        return float(special.ndtr(x))

    @staticmethod
    def chdtrc(df: Any, x: Any) -> float:
        return float(special.chdtrc(df, x))


class _Array:
    """The same operations on arrays (a batch of fits)."""

    where, sqrt, absolute, maximum = np.where, np.sqrt, np.abs, np.maximum
    ndtr, chdtrc = special.ndtr, special.chdtrc

    @staticmethod
    def cdf(t: Any, df: Any, x: Any) -> Any:
        return np.where(t, special.stdtr(df, x), special.ndtr(x))

    @staticmethod
    def quantile(t: Any, df: Any, p: Any) -> Any:
        return np.where(t, special.stdtrit(df, p), special.ndtri(p))


def intercept_stats(
    fits: Fits, tau2: Any, prep: Prepared, method: str, test: str, level: float
) -> dict[str, Any]:
    """Everything metafor reports for intercept-only fits at the given tau² (normalised units).

    Scalars in, Python floats out (one fit); arrays in, arrays out (one entry per fit of the
    batch). A fit of a single study uses the z test whatever ``test`` says (as metafor).
    """
    many = isinstance(tau2, np.ndarray)
    rows = np.arange(tau2.size) if many else None
    at = fits.sums(tau2, rows, sw3=False, ypp=False)
    zero = at if method == "EE" else fits.sums(tau2 * 0.0, rows, sw3=False, ypp=False)
    mu, sw, rss, q_raw, tr_p0 = at.mu, at.sw, at.rss, zero.rss, zero.tr_p
    if many:
        n = np.asarray(fits.n, dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = _block(_Array, True, mu, sw, rss, q_raw, tr_p0, tau2, n, prep, method, test, level)
        return {key: np.asarray(val, dtype=float) * np.ones(tau2.size) for key, val in out.items()}
    n1 = float(fits.n)  # a single fit's sums are Python floats already
    out = _block(_Scalar, False, mu, sw, rss, q_raw, tr_p0, float(tau2), n1, prep, method, test, level)
    out["ddf"] = int(fits.n) - 1 if test == "knha" and fits.n > 1 else None
    return out


def _block(
    op: Any,
    many: bool,
    mu: Any,
    sw: Any,
    rss: Any,
    q_raw: Any,
    tr_p0: Any,
    tau2: Any,
    n: Any,
    prep: Prepared,
    method: str,
    test: str,
    level: float,
) -> dict[str, Any]:
    """The inference block: the weighted sums of each fit at its tau² → metafor's outputs."""
    where, sqrt, absolute, maximum = op.where, op.sqrt, op.absolute, op.maximum
    yscale, vscale = prep.yscale, prep.vscale
    df = n - 1
    one = df >= 1  # more than one study
    alpha = 1 - level / 100
    estimate = prep.shift + mu * yscale
    if test == "knha":  # t tests with k − 1 df (z where k = 1)
        s2w = where(one, (rss > EPS) * rss / maximum(df, 1), 1.0)
        se = sqrt(s2w / sw) * yscale
        zval = estimate / se if many or se > 0 else math.copysign(math.inf, estimate)
        ddf = maximum(df, 1)
        pval = 2 * op.cdf(one, ddf, -absolute(zval))
        crit = -op.quantile(one, ddf, alpha / 2)
    else:
        s2w = 1.0
        se = sqrt(1.0 / sw) * yscale
        zval = estimate / se
        pval = 2 * op.ndtr(-absolute(zval))
        crit = -float(special.ndtri(alpha / 2))
    q = maximum(0.0, q_raw)
    qp = where(one, op.chdtrc(maximum(df, 1), q), 1.0)
    vt = df / tr_p0 * vscale if many or one else 0.0
    tau2_raw = tau2 * vscale
    if method == "EE":
        i2 = where(q > 0, maximum(0.0, 100 * (q - df) / q), 0.0) if many or q > 0 else 0.0
        h2 = q / df if many or df > 0 else 1.0
    else:
        i2 = 100 * tau2_raw / (vt + tau2_raw) if many or vt + tau2_raw > 0 else 0.0
        h2 = tau2_raw / vt + 1 if many or vt > 0 else 1.0
    spi = sqrt(se * se + tau2_raw)
    return {
        "estimate": estimate, "se": se, "zval": zval, "pval": pval, "ci_lb": estimate - crit * se,
        "ci_ub": estimate + crit * se, "Q": where(one, q, 0.0), "Qp": qp, "tau2": tau2_raw,
        "I2": where(one, i2, 0.0), "H2": where(one, h2, 1.0), "vt": where(one, vt, 0.0), "s2w": s2w,
        "pi_lb": estimate - crit * spi, "pi_ub": estimate + crit * spi, "crit": crit,
    }  # fmt: skip
