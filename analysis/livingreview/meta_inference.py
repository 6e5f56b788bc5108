"""The engine's one inference block for intercept-only fits: tests, intervals and heterogeneity.

:func:`intercept_stats` turns the tau² of one fit (numpy scalars) or of a batch of fits
(arrays: leave-one-out, cumulative) into estimates, Wald-type or Knapp–Hartung tests, CIs,
prediction intervals, Q, I² and H² as metafor defines them, back on the scale of the data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import special

from livingreview.meta_core import EPS
from livingreview.meta_fisher import Fits, Prepared


def critical(level: float, ddf: Any) -> Any:
    """Two-sided critical value: normal where ``ddf`` is None or < 1, else Student t."""
    alpha = 1 - level / 100
    z = -special.ndtri(alpha / 2)
    if ddf is None:
        return z
    return np.where(ddf >= 1, -special.stdtrit(np.maximum(ddf, 1), alpha / 2), z)


def intercept_stats(
    fits: Fits, tau2: Any, prep: Prepared, method: str, test: str, level: float
) -> dict[str, Any]:
    """Everything metafor reports for intercept-only fits at the given tau² (normalised units).

    Scalars in, Python floats out (one fit); arrays in, arrays out (one entry per fit of the
    batch). A fit of a single study uses the z test whatever ``test`` says (as metafor).
    """
    many = isinstance(tau2, np.ndarray)
    if many:
        where, sqrt, absolute, maximum = np.where, np.sqrt, np.abs, np.maximum
    else:
        where, sqrt, absolute, maximum = _where, math.sqrt, abs, max  # type: ignore[assignment]
    rows = np.arange(tau2.size) if many else None
    at = fits.sums(tau2, rows, sw3=False, ypp=False)
    zero = at if method == "EE" else fits.sums(tau2 * 0.0, rows, sw3=False, ypp=False)
    mu, sw, rss, q_raw, tr_p0 = at.mu, at.sw, at.rss, zero.rss, zero.tr_p
    if not many:
        mu, sw, rss, q_raw, tr_p0, tau2 = (float(x) for x in (mu, sw, rss, q_raw, tr_p0, tau2))
    n = np.asarray(fits.n, dtype=float) if many else float(fits.n)
    df = n - 1
    one = df >= 1  # more than one study
    alpha = 1 - level / 100
    z_crit = -float(special.ndtri(alpha / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = prep.shift + mu * prep.yscale
        if test == "knha":
            s2w = where(one, (rss > EPS) * rss / maximum(df, 1), 1.0)
            se = sqrt(s2w / sw) * prep.yscale
            zval = estimate / se if many or se > 0 else math.copysign(math.inf, estimate)
            ddf = maximum(df, 1)
            pval = where(one, 2 * special.stdtr(ddf, -absolute(zval)), 2 * special.ndtr(-absolute(zval)))
            crit = where(one, -special.stdtrit(ddf, alpha / 2), z_crit)
        else:
            s2w = 1.0
            se = sqrt(1.0 / sw) * prep.yscale
            zval = estimate / se
            pval = 2 * special.ndtr(-absolute(zval))
            crit = z_crit
        q = maximum(0.0, q_raw)
        qp = where(one, special.chdtrc(maximum(df, 1), q), 1.0)
        vt = df / tr_p0 * prep.vscale if many or one else 0.0
        tau2_raw = tau2 * prep.vscale
        if method == "EE":
            i2 = where(q > 0, maximum(0.0, 100 * (q - df) / q), 0.0) if many or q > 0 else 0.0
            h2 = q / df if many or df > 0 else 1.0
        else:
            i2 = 100 * tau2_raw / (vt + tau2_raw) if many or vt + tau2_raw > 0 else 0.0
            h2 = tau2_raw / vt + 1 if many or vt > 0 else 1.0
        spi = sqrt(se * se + tau2_raw)
    out = {
        "estimate": estimate, "se": se, "zval": zval, "pval": pval, "ci_lb": estimate - crit * se,
        "ci_ub": estimate + crit * se, "Q": where(one, q, 0.0), "Qp": qp, "tau2": tau2_raw,
        "I2": where(one, i2, 0.0), "H2": where(one, h2, 1.0), "vt": where(one, vt, 0.0), "s2w": s2w,
        "pi_lb": estimate - crit * spi, "pi_ub": estimate + crit * spi, "crit": crit,
    }  # fmt: skip
    if many:
        return {key: np.asarray(val, dtype=float) * np.ones(tau2.size) for key, val in out.items()}
    out = {key: float(val) for key, val in out.items()}
    out["ddf"] = int(df) if test == "knha" and one else None
    return out


def _where(cond: Any, a: Any, b: Any) -> Any:
    return a if cond else b
