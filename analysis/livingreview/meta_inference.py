"""The engine's one inference block for intercept-only fits: tests, intervals and heterogeneity.

:func:`intercept_stats` turns the tau² of one fit (numpy scalars) or of a batch of fits
(arrays: leave-one-out, cumulative) into estimates, Wald-type or Knapp–Hartung tests, CIs,
prediction intervals, Q, I² and H² as metafor defines them, back on the scale of the data.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from livingreview.meta_core import EPS, FArray
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

    Scalars in, scalars out (one fit); arrays in, arrays out (one entry per fit of the batch).
    A fit of a single study uses the z test whatever ``test`` says (as metafor).
    """
    many = isinstance(tau2, np.ndarray)
    rows = np.arange(tau2.size) if many else None
    at = fits.sums(tau2, rows, sw3=False)
    zero = at if method == "EE" else fits.sums(tau2 * 0.0, rows, sw3=False)
    n = np.asarray(fits.n, dtype=float) if many else float(fits.n)
    df = n - 1
    knha = test == "knha"
    with np.errstate(divide="ignore", invalid="ignore"):
        if knha:
            s2w = (at.rss > EPS) * at.rss / np.maximum(df, 1)
            s2w = np.where(df >= 1, s2w, 1.0)
            ddf = df
        else:
            s2w, ddf = 1.0 + 0.0 * at.sw, None
        estimate = prep.shift + at.mu * prep.yscale
        se = np.sqrt(s2w / at.sw) * prep.yscale
        zval = estimate / se
        if ddf is None:
            pval = 2 * special.ndtr(-np.abs(zval))
        else:
            pval = np.where(
                ddf >= 1,
                2 * special.stdtr(np.maximum(ddf, 1), -np.abs(zval)),
                2 * special.ndtr(-np.abs(zval)),
            )
        crit = critical(level, ddf)
        q = np.maximum(0.0, zero.rss)
        qp = np.where(df >= 1, special.chdtrc(np.maximum(df, 1), q), 1.0)
        vt = df / zero.tr_p
        tau2_raw = tau2 * prep.vscale
        vt_raw = vt * prep.vscale
        if method == "EE":
            i2 = np.where(q > 0, np.maximum(0.0, 100 * (q - df) / q), 0.0)
            h2 = q / df
        else:
            i2 = 100 * tau2_raw / (vt_raw + tau2_raw)
            h2 = tau2_raw / vt_raw + 1
        spi = np.sqrt(se * se + tau2_raw)
    single = df < 1
    out = {
        "estimate": estimate, "se": se, "zval": zval, "pval": pval, "ci_lb": estimate - crit * se,
        "ci_ub": estimate + crit * se, "Q": np.where(single, 0.0, q), "Qp": qp,
        "tau2": tau2_raw, "I2": np.where(single, 0.0, i2), "H2": np.where(single, 1.0, h2),
        "vt": np.where(single, 0.0, vt_raw), "s2w": s2w, "pi_lb": estimate - crit * spi,
        "pi_ub": estimate + crit * spi, "crit": crit,
    }  # fmt: skip
    if many:
        return {key: np.asarray(val, dtype=float) * np.ones(tau2.size) for key, val in out.items()}
    out = {key: float(val) for key, val in out.items()}
    out["ddf"] = None if ddf is None else int(ddf)
    return out


def as_float(x: Any) -> FArray:
    """A float array view of ``x``."""
    return np.asarray(x, dtype=float)
