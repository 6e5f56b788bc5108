"""Exact answers for the meta-analysis engine, computed with mpmath at 50 significant digits.

Usage (from the repository root):  python tests/reference/exact_reference.py
Writes tests/reference/exact_reference.json, which the tests read. Independent of the engine:
the tau² roots (REML and ML score equations, Paule–Mandel's generalised Q = k − 1, the Q-profile
bounds) are bracketed and solved in 50-digit arithmetic, and the estimates, standard errors,
z and Knapp–Hartung intervals and prediction intervals follow from them with exact quantiles.
The data are metafor_reference.json's data sets and seeded random ones in several units.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import mpmath as mp

mp.mp.dps = 50
HERE = Path(__file__).parent
METHODS = ("REML", "ML", "PM", "DL")
LEVEL = mp.mpf("0.95")


def _sums(y: list[Any], v: list[Any], t: Any) -> tuple[Any, Any, Any, Any, Any]:
    w = [1 / (vi + t) for vi in v]
    sw = mp.fsum(w)
    mu = mp.fsum(wi * yi for wi, yi in zip(w, y, strict=True)) / sw
    r = [yi - mu for yi in y]
    rss = mp.fsum(wi * ri * ri for wi, ri in zip(w, r, strict=True))
    ypp = mp.fsum((wi * ri) ** 2 for wi, ri in zip(w, r, strict=True))
    sw2 = mp.fsum(wi * wi for wi in w)
    return sw, sw2, mu, rss, ypp


def score(y: list[Any], v: list[Any], t: Any, method: str) -> Any:
    """The estimating equation of ``method`` at tau² = t (decreasing through its root)."""
    sw, sw2, _, rss, ypp = _sums(y, v, t)
    if method == "REML":
        return ypp - (sw - sw2 / sw)
    if method == "ML":
        return ypp - sw
    return rss - (len(y) - 1)  # PM


def solve(f: Any, scale: Any) -> Any:
    """Root in [0, ∞) of f (0 when f(0) ≤ 0), by bracketing and bisection to 45 digits."""
    if f(mp.mpf(0)) <= 0:
        return mp.mpf(0)
    lo, hi = mp.mpf(0), scale
    while f(hi) > 0:
        lo, hi = hi, hi * 4
    for _ in range(400):
        mid = (lo + hi) / 2
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= mp.mpf(10) ** -45 * hi:
            break
    return (lo + hi) / 2


def t_quantile(df: int, p: Any) -> Any:
    """Upper-tail quantile: P(T > x) = p for Student's t with ``df`` degrees of freedom."""

    def upper(x: Any) -> Any:
        return mp.betainc(mp.mpf(df) / 2, mp.mpf(1) / 2, 0, df / (df + x * x), regularized=True) / 2

    return solve(lambda x: upper(x) - p, mp.mpf(1))


def chi2_upper_quantile(df: int, p: Any) -> Any:
    """x with P(X > x) = p for a chi-square with ``df`` degrees of freedom."""
    return solve(lambda x: mp.gammainc(mp.mpf(df) / 2, x / 2, mp.inf, regularized=True) - p, mp.mpf(df))


def fit(y: list[Any], v: list[Any], method: str) -> dict[str, Any]:
    """Exact tau² for ``method`` and everything the engine reports from it (z and Knapp–Hartung)."""
    k = len(y)
    scale = mp.fsum(v) / k
    if method == "DL":
        sw, sw2, _, q, _ = _sums(y, v, 0)
        tau2 = max(mp.mpf(0), (q - (k - 1)) / (sw - sw2 / sw))
    else:
        tau2 = solve(lambda t: score(y, v, t, method), scale)
    sw, _, mu, rss, _ = _sums(y, v, tau2)
    sw0, sw20, _, q0, _ = _sums(y, v, 0)
    vt = (k - 1) / (sw0 - sw20 / sw0)
    alpha = 1 - LEVEL
    out: dict[str, Any] = {"tau2": tau2, "Q": q0, "I2": 100 * tau2 / (vt + tau2), "H2": tau2 / vt + 1}
    z_crit = mp.sqrt(2) * mp.erfinv(LEVEL)
    t_crit = t_quantile(k - 1, alpha / 2)
    for test, s2w, crit in (("z", mp.mpf(1), z_crit), ("knha", rss / (k - 1), t_crit)):
        se = mp.sqrt(s2w / sw)
        zval = mu / se
        pval = (
            mp.erfc(abs(zval) / mp.sqrt(2))
            if test == "z"
            else mp.betainc(
                mp.mpf(k - 1) / 2, mp.mpf(1) / 2, 0, (k - 1) / (k - 1 + zval * zval), regularized=True
            )
        )
        spi = mp.sqrt(se * se + tau2)
        out[test] = {"estimate": mu, "se": se, "zval": zval, "pval": pval, "ci_lb": mu - crit * se,
                     "ci_ub": mu + crit * se, "pi_lb": mu - crit * spi, "pi_ub": mu + crit * spi}  # fmt: skip
    return out


def qprofile(y: list[Any], v: list[Any]) -> dict[str, Any]:
    """The 95% Q-profile interval for tau² (bounds 0 where Q(0) is below the quantile)."""
    k = len(y)
    scale = mp.fsum(v) / k
    alpha = 1 - LEVEL
    crit_u = chi2_upper_quantile(k - 1, alpha / 2)
    crit_l = chi2_upper_quantile(k - 1, 1 - alpha / 2)
    lb = solve(lambda t: _sums(y, v, t)[3] - crit_u, scale)
    ub = solve(lambda t: _sums(y, v, t)[3] - crit_l, scale)
    return {"tau2_lb": lb, "tau2_ub": ub}


def dataset(yi: list[float], vi: list[float], description: str, loo: bool = False) -> dict[str, Any]:
    y = [mp.mpf(x) for x in yi]
    v = [mp.mpf(x) for x in vi]
    rec: dict[str, Any] = {"description": description, "yi": yi, "vi": vi,
                           "fits": {m: fit(y, v, m) for m in METHODS}, "confint": qprofile(y, v)}  # fmt: skip
    if loo:
        rec["leave1out_reml"] = [fit(y[:i] + y[i + 1 :], v[:i] + v[i + 1 :], "REML") for i in range(len(y))]
        rec["cumul_reml"] = [fit(y[: i + 1], v[: i + 1], "REML") for i in range(2, len(y))]
    return rec


def random_data(seed: int, k: int, scale: float, shift: float = 0.0) -> tuple[list[float], list[float]]:
    """Heterogeneous random data in the given units (vi × scale², yi × scale + shift)."""
    rng = random.Random(seed)
    vi = [rng.uniform(0.005, 0.3) for _ in range(k)]
    yi = [rng.gauss(0.3, (x + 0.05) ** 0.5) for x in vi]
    return [y * scale + shift for y in yi], [x * scale * scale for x in vi]


def to_json(x: Any) -> Any:
    if isinstance(x, dict):
        return {key: to_json(val) for key, val in x.items()}
    if isinstance(x, list):
        return [to_json(val) for val in x]
    if isinstance(x, mp.mpf):
        return float(x)  # correctly rounded to the nearest double
    return x


def main() -> None:
    ref = json.loads((HERE / "metafor_reference.json").read_text(encoding="utf-8"))["datasets"]
    out: dict[str, Any] = {}
    for name in ("bcg", "molloy2014", "hine1989", "bangertdrowns2004", "bcg_k3", "bcg_milli",
                 "bcg_kilo", "bcg_shifted"):  # fmt: skip
        d = ref[name]
        out[name] = dataset(d["yi"], d["vi"], d["description"], loo=name in ("bcg", "molloy2014"))
    for seed, k, scale, shift in ((1, 5, 1e-6, 0.0), (2, 30, 1e6, 0.0), (3, 100, 1.0, 0.0),
                                  (4, 12, 1.0, 1e6), (5, 20, 1e-3, -7.0)):  # fmt: skip
        yi, vi = random_data(seed, k, scale, shift)
        out[f"random{seed}"] = dataset(yi, vi, f"random, k = {k}, units × {scale:g}, shift {shift:g}")
    doc = {"generated_by": "tests/reference/exact_reference.py", "mpmath_version": mp.__version__,
           "digits": mp.mp.dps, "level": 95, "datasets": to_json(out)}  # fmt: skip
    path = HERE / "exact_reference.json"
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    print("wrote", path)


if __name__ == "__main__":
    main()
