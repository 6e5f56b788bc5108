"""Validation of :mod:`livingreview.meta` against R metafor, for the tests and the book.

``tests/reference/metafor_reference.json`` (written by ``metafor_reference.R``) holds inputs and
metafor's results. :func:`comparisons` recomputes every quantity in Python and pairs it with
metafor's value; the tests assert on them and the book summarises them.

A value passes when |ours − metafor| ≤ 1e-8 · max(|metafor|, 0.01), i.e. 1e-8 relative with an
absolute floor of 1e-10 near zero; p-values must agree to 1e-6 relative, however small.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from livingreview.meta import (
    Control,
    MetaAnalysisError,
    MetaResult,
    confint_tau2,
    fisher_z,
    moderator_matrix,
    predict,
    rma,
    subgroup_analysis,
)
from livingreview.meta_core import EPS
from livingreview.meta_sensitivity import (
    cumulative,
    influence,
    leave1out,
    regtest,
    trimfill,
)

REL_TOL = {"value": 1e-8, "pvalue": 1e-6}
FLOOR = 0.01  # below |x| = 0.01 the difference is measured absolutely (×0.01)
DEFAULT_REFERENCE = Path(__file__).resolve().parents[2] / "tests/reference/metafor_reference.json"

__all__ = [
    "Comparison",
    "comparisons",
    "fit_comparisons",
    "metareg_comparisons",
    "load_reference",
    "summary_variables",
    "validation_frame",
    "validation_table",
]


@dataclass(frozen=True)
class Comparison:
    """One quantity computed here and by metafor."""

    dataset: str
    method: str
    test: str
    group: str
    quantity: str
    actual: Any
    expected: Any
    kind: str = "value"  # "value", "pvalue", "exact" or "error"

    @property
    def diff(self) -> float:
        """Scaled difference |a − e| / max(|e|, 0.01); 0 when both are missing; inf on mismatch."""
        if self.kind == "error":
            return 0.0 if self.actual == "raised" else math.inf
        if self.kind == "exact":
            return 0.0 if self.actual == self.expected else math.inf
        a = math.nan if self.actual is None else float(self.actual)
        if self.expected is None:  # metafor's NA (or ±Inf, written as null)
            return 0.0 if not math.isfinite(a) else math.inf
        e = float(self.expected)
        if math.isnan(a):
            return math.inf
        return abs(a - e) / max(abs(e), FLOOR if self.kind == "value" else 1e-300)

    @property
    def ok(self) -> bool:
        if self.kind in ("error", "exact"):
            return self.diff == 0.0
        return self.diff <= REL_TOL[self.kind]


def load_reference(path: str | Path = DEFAULT_REFERENCE) -> dict[str, Any]:
    """Read the reference JSON written by ``tests/reference/metafor_reference.R``."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _control(name: str) -> Control:
    return Control(threshold=1e-12, tol=1e-12) if name == "tight" else Control()


def _arr(x: Any) -> list[float | None]:
    return list(x) if isinstance(x, list) else [x]


def _pairs(
    ctx: tuple[str, str, str], group: str, actual: dict[str, Any], expected: dict[str, Any]
) -> Iterator[Comparison]:
    for q, a in actual.items():
        if q not in expected or expected[q] == []:  # metafor does not report it (EE: no PI)
            continue
        kind = "pvalue" if q in {"pval", "QEp", "QMp", "Qp"} else "value"
        if isinstance(a, str | int) and not isinstance(a, bool) and q in {"k0", "side"}:
            yield Comparison(*ctx, group, q, a, expected[q], "exact")
            continue
        exp_vals = _arr(expected[q])
        act_vals = np.atleast_1d(np.asarray(a, dtype=float)).tolist()
        if len(exp_vals) != len(act_vals):
            yield Comparison(*ctx, group, f"{q} (length)", len(act_vals), len(exp_vals), "exact")
            continue
        for i, (av, ev) in enumerate(zip(act_vals, exp_vals, strict=True)):
            name = q if len(exp_vals) == 1 else f"{q}[{i}]"
            yield Comparison(*ctx, group, name, av, ev, kind)


def _guard(
    ctx: tuple[str, str, str], group: str, expected: Any, compute: Callable[[], dict[str, Any]]
) -> Iterator[Comparison]:
    """Compare ``compute()`` with ``expected``, or check that we refuse what metafor refused."""
    if isinstance(expected, dict) and "error" in expected:
        try:
            compute()
        except MetaAnalysisError:
            outcome = "raised"
        else:
            outcome = "no error"
        yield Comparison(*ctx, group, "error", outcome, expected["error"], "error")
        return
    yield from _pairs(ctx, group, compute(), expected)


def fit_comparisons(name: str, data: dict[str, Any], rec: dict[str, Any]) -> Iterator[Comparison]:
    yi, vi = np.array(data["yi"]), np.array(data["vi"])
    ctx = (name, rec["method"], f"{rec['test']}/{rec['control']}")
    con = _control(rec["control"])
    holder: dict[str, MetaResult] = {}

    def fit() -> dict[str, Any]:
        res = rma(yi, vi, method=rec["method"], test=rec["test"], control=con)
        holder["fit"] = res
        pr = predict(res)
        return {
            "estimate": res.estimate, "se": res.se[0], "zval": res.zval[0], "pval": res.pval[0],
            "ci_lb": res.ci_lb[0], "ci_ub": res.ci_ub[0], "tau2": res.tau2,
            "se_tau2": None if math.isnan(res.se_tau2) else res.se_tau2, "QE": res.QE,
            "QEp": res.QEp, "I2": res.I2, "H2": res.H2, "vt": res.vt, "s2w": res.s2w,
            "pi_lb": pr.pi_lb, "pi_ub": pr.pi_ub,
        }  # fmt: skip

    yield from _guard(ctx, "model", rec.get("fit", {"error": rec.get("error")}), fit)
    res = holder.get("fit")
    if res is None:
        return
    tol = 1e-12 if rec["control"] == "tight" else EPS**0.25
    if "confint" in rec:

        def ci() -> dict[str, Any]:
            c = confint_tau2(res, tol=tol)
            return {"tau2_lb": c.tau2_lb, "tau2_ub": c.tau2_ub, "I2_lb": c.I2_lb,
                    "I2_ub": c.I2_ub, "H2_lb": c.H2_lb, "H2_ub": c.H2_ub}  # fmt: skip

        yield from _guard(ctx, "confint", rec["confint"], ci)
    if "leave1out" in rec:
        yield from _guard(ctx, "leave1out", rec["leave1out"], lambda: _frame(leave1out(res)))
    if "cumul" in rec:
        order = np.array(data["order"])
        yield from _guard(ctx, "cumul", rec["cumul"], lambda: _frame(cumulative(res, order)))
    if "rstudent" in rec:

        def rs() -> dict[str, Any]:
            inf = influence(res)
            return {"resid": inf["resid"], "se": inf["se_resid"], "z": inf["rstudent"]}

        yield from _guard(ctx, "rstudent", rec["rstudent"], rs)
    if "cooks" in rec:
        exp = rec["cooks"]
        exp = exp if isinstance(exp, dict) else {"cooks": exp}
        yield from _guard(ctx, "cooks", exp, lambda: {"cooks": influence(res)["cooks_distance"].to_numpy()})
    if "regtest" in rec:

        def eg() -> dict[str, Any]:
            r = regtest(res)
            return {"zval": r.zval, "pval": r.pval, "limit_estimate": r.limit_estimate,
                    "limit_ci_lb": r.limit_ci_lb, "limit_ci_ub": r.limit_ci_ub}  # fmt: skip

        yield from _guard(ctx, "regtest", rec["regtest"], eg)
    if "trimfill" in rec:

        def tf() -> dict[str, Any]:
            t = trimfill(res)
            f = t.fit
            return {"k0": t.k0, "side": t.side, "estimate": f.estimate, "se": f.se[0],
                    "ci_lb": f.ci_lb[0], "ci_ub": f.ci_ub[0], "tau2": f.tau2}  # fmt: skip

        yield from _guard(ctx, "trimfill", rec["trimfill"], tf)


def _frame(df: pd.DataFrame) -> dict[str, Any]:
    return {c: df[c].to_numpy() for c in df.columns if c not in ("study", "k")}


def metareg_comparisons(name: str, data: dict[str, Any], rec: dict[str, Any]) -> Iterator[Comparison]:
    frame = pd.DataFrame({c: data["moderators"][c] for c in rec["mods"]})
    ctx = (name, rec["method"], f"{rec['test']}/tight")
    group = "metareg ~" + "+".join(rec["mods"])

    def mr() -> dict[str, Any]:
        X, names = moderator_matrix(frame, rec["mods"])
        res = rma(data["yi"], data["vi"], mods=X, coef_names=names, method=rec["method"],
                  test=rec["test"], control=_control("tight"))  # fmt: skip
        if ["intrcpt", *names] != rec["coef_names"]:
            raise AssertionError(f"coefficient names {names} != {rec['coef_names']}")
        inf = influence(res)
        return {"b": res.beta, "se": res.se, "zval": res.zval, "pval": res.pval,
                "ci_lb": res.ci_lb, "ci_ub": res.ci_ub, "QM": res.QM, "QMp": res.QMp,
                "QE": res.QE, "QEp": res.QEp, "tau2": res.tau2, "I2": res.I2, "H2": res.H2,
                "R2": res.R2, "cooks": inf["cooks_distance"].to_numpy(),
                "rstudent": inf["rstudent"].to_numpy()}  # fmt: skip

    yield from _guard(ctx, group, rec if "b" in rec else {"error": rec.get("error")}, mr)


def comparisons(ref: dict[str, Any]) -> Iterator[Comparison]:
    """Every Python-vs-metafor comparison defined by the reference file."""
    for name, data in ref["datasets"].items():
        for rec in data["fits"]:
            yield from fit_comparisons(name, data, rec)
        for rec in data.get("metareg", []):
            yield from metareg_comparisons(name, data, rec)
        for rec in data.get("subgroup", []):
            ctx = (name, rec["method"], "z/tight")

            def sg(rec: dict[str, Any] = rec, data: dict[str, Any] = data) -> dict[str, Any]:
                s = subgroup_analysis(data["yi"], data["vi"], data["moderators"][rec["group"]],
                                      method=rec["method"], control=_control("tight"))  # fmt: skip
                return {"estimate": [f.estimate for f in s.fits], "se": [f.se[0] for f in s.fits],
                        "tau2": [f.tau2 for f in s.fits], "Q_between": s.Q_between,
                        "pval": s.pval}  # fmt: skip

            yield from _guard(ctx, f"subgroup {rec['group']}", rec, sg)
        if "ri" in data:
            ctx = (name, "-", "-")
            yi, vi = fisher_z(data["ri"], data["ni"])
            yield from _pairs(ctx, "fisher_z", {"yi": yi, "vi": vi}, data)


def validation_frame(path: str | Path = DEFAULT_REFERENCE) -> pd.DataFrame:
    """One row per dataset × method × test/control × quantity group: count and worst difference."""
    rows = [
        {
            "dataset": c.dataset,
            "method": c.method,
            "test": c.test,
            "group": c.group,
            "diff": c.diff,
            "ok": c.ok,
        }  # fmt: skip
        for c in comparisons(load_reference(path))
    ]
    df = pd.DataFrame(rows)
    keys = ["dataset", "method", "test", "group"]
    out = (
        df.groupby(keys, sort=True)
        .agg(n=("diff", "size"), worst_rel_diff=("diff", "max"), all_ok=("ok", "all"))
        .reset_index()
    )
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


DISPLAY_FLOOR = 1e-12  # below this, differences are floating-point noise that varies by BLAS build


def _fmt(x: float) -> str:
    """Worst difference for display, as the power of ten it stays below (``< 1e-8``): its digits are
    floating-point noise that differs between BLAS builds, so only the bound is the same on every
    machine; noise below ``DISPLAY_FLOOR`` is shown as that floor."""
    if x < DISPLAY_FLOOR:
        return f"< {DISPLAY_FLOOR:.0e}"
    return f"< 1e{math.floor(math.log10(x)) + 1}"


def validation_table(path: str | Path = DEFAULT_REFERENCE) -> Any:
    """great_tables table of :func:`validation_frame` (fixed id, sorted rows: deterministic HTML)."""
    from great_tables import GT

    df = validation_frame(path)
    ref = load_reference(path)
    shown = df.assign(
        worst_rel_diff=df["worst_rel_diff"].map(_fmt),
        all_ok=df["all_ok"].map({True: "yes", False: "NO"}),
    )
    return (
        GT(shown, id="metafor-validation")
        .tab_header(
            title="Agreement with R metafor",
            subtitle=f"metafor {ref['metafor_version']}, R {ref['R_version']}",
        )
        .cols_label(dataset="Data set", method="Method", test="Test / control", group="Quantity",
                    n="Values", worst_rel_diff="Worst rel. difference", all_ok="Within tolerance")
        .tab_source_note(
            "Relative difference |ours − metafor| / max(|metafor|, 0.01); tolerance 1e-8 "
            "(p-values 1e-6). 'error' rows: both refuse the analysis."
        )
    )  # fmt: skip


def summary_variables(path: str | Path = DEFAULT_REFERENCE) -> dict[str, Any]:
    """Figures for the book's ``_variables.yml``."""
    ref = load_reference(path)
    comps = list(comparisons(ref))
    numeric = [c.diff for c in comps if c.kind in ("value", "pvalue")]
    return {
        "n_comparisons": len(comps),
        "n_failed": sum(not c.ok for c in comps),
        "worst_rel_diff": _fmt(max(numeric)),
        "metafor_version": ref["metafor_version"],
        "R_version": ref["R_version"],
        "n_datasets": len(ref["datasets"]),
    }
