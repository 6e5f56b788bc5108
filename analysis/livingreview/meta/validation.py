"""The engine (:mod:`livingreview.meta`) checked against R metafor and exact answers, for tests and book.

``tests/reference/metafor_reference.json`` (written by ``metafor_reference.R``) holds inputs and
metafor's results: refits under tight control (compared with our exact default) and under
metafor's defaults (compared with ``control="metafor"``). ``exact_reference.json`` (written by
``exact_reference.py`` with mpmath at 50 digits) holds the exact tau² roots and what follows
from them. :func:`comparisons` pairs every quantity with its reference value.

A value passes when |ours − reference| ≤ 1e-9 · max(|reference|, 0.01·unit), where unit is
the data's natural scale (sqrt(mean vi) for locations, mean vi for variances, 1 otherwise);
p-values must agree to 1e-6 relative, however small. Cook's distances of meta-regressions are
held to 1e-8: metafor's own values carry rounding of that size (ours are invariant to centring
the moderators to 1e-12).
"""

from __future__ import annotations

import functools
import json
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from livingreview.meta.models import (
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
from livingreview.meta.sensitivity import (
    cumulative,
    influence,
    leave1out,
    regtest,
    trimfill,
)

REL_TOL = {"value": 1e-9, "pvalue": 1e-6, "cooks": 1e-8}
FLOOR = 0.01  # below |x| = 0.01 the difference is measured absolutely (×0.01)
DEFAULT_REFERENCE = Path(__file__).resolve().parents[3] / "tests/reference/metafor_reference.json"
EXACT_REFERENCE = DEFAULT_REFERENCE.with_name("exact_reference.json")

__all__ = [
    "Comparison",
    "bound",
    "exact_comparisons",
    "exact_frame",
    "exact_table",
    "metafor_defaults_frame",
    "metafor_defaults_table",
    "comparisons",
    "detail_table",
    "fit_comparisons",
    "metareg_comparisons",
    "load_reference",
    "summary_frame",
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
    unit: float = 1.0  # the quantity's natural scale: near 0 differences count relative to FLOOR·unit

    @property
    def diff(self) -> float:
        """Scaled difference |a − e| / max(|e|, 0.01·unit); 0 when both missing; inf on mismatch."""
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
        return abs(a - e) / max(abs(e), 1e-300 if self.kind == "pvalue" else FLOOR * self.unit)

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
    """metafor's tight refits are compared with the exact default, its defaults with metafor's."""
    return Control() if name in ("tight", "exact") else Control.metafor()


def _arr(x: Any) -> list[float | None]:
    return list(x) if isinstance(x, list) else [x]


LOCATION = {"estimate", "se", "ci_lb", "ci_ub", "pi_lb", "pi_ub", "b", "limit_estimate",
            "limit_ci_lb", "limit_ci_ub", "resid", "yi", "pred"}  # fmt: skip
VARIANCE = {"tau2", "se_tau2", "vt", "tau2_lb", "tau2_ub", "vi"}


def units_of(vi: Any) -> dict[str, float]:
    """Natural scales of a data set: sqrt(mean vi) for locations, mean vi for variances."""
    mean_v = float(np.mean(np.asarray(vi, dtype=float)))
    return {"loc": math.sqrt(mean_v), "var": mean_v}


def _unit(q: str, units: dict[str, float] | None) -> float:
    if units is None:
        return 1.0
    if q in LOCATION:
        return units["loc"]
    return units["var"] if q in VARIANCE else 1.0


def _pairs(
    ctx: tuple[str, str, str],
    group: str,
    actual: dict[str, Any],
    expected: dict[str, Any],
    units: dict[str, float] | None = None,
) -> Iterator[Comparison]:
    for q, a in actual.items():
        if q not in expected or expected[q] == []:  # metafor does not report it (EE: no PI)
            continue
        kind = "pvalue" if q in {"pval", "QEp", "QMp", "Qp"} else "value"
        if q == "cooks" and group.startswith("metareg"):
            kind = "cooks"  # metafor's own values carry ~1e-8 rounding with an uncentred year
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
            yield Comparison(*ctx, group, name, av, ev, kind, _unit(q, units))


def _guard(
    ctx: tuple[str, str, str],
    group: str,
    expected: Any,
    compute: Callable[[], dict[str, Any]],
    units: dict[str, float] | None = None,
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
    yield from _pairs(ctx, group, compute(), expected, units)


def fit_comparisons(name: str, data: dict[str, Any], rec: dict[str, Any]) -> Iterator[Comparison]:
    yi, vi = np.array(data["yi"]), np.array(data["vi"])
    ctx = (name, rec["method"], f"{rec['test']}/{rec['control']}")
    con = _control(rec["control"])
    units = units_of(vi)
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

    yield from _guard(ctx, "model", rec.get("fit", {"error": rec.get("error")}), fit, units)
    res = holder.get("fit")
    if res is None:
        return
    if "confint" in rec:

        def ci() -> dict[str, Any]:
            c = confint_tau2(res)
            return {"tau2_lb": c.tau2_lb, "tau2_ub": c.tau2_ub, "I2_lb": c.I2_lb,
                    "I2_ub": c.I2_ub, "H2_lb": c.H2_lb, "H2_ub": c.H2_ub}  # fmt: skip

        yield from _guard(ctx, "confint", rec["confint"], ci, units)
    if "leave1out" in rec:
        yield from _guard(ctx, "leave1out", rec["leave1out"], lambda: _frame(leave1out(res)), units)
    if "cumul" in rec:
        order = np.array(data["order"])
        yield from _guard(ctx, "cumul", rec["cumul"], lambda: _frame(cumulative(res, order)), units)
    if "rstudent" in rec:

        def rs() -> dict[str, Any]:
            inf = influence(res)
            return {"resid": inf["resid"], "se": inf["se_resid"], "z": inf["rstudent"]}

        yield from _guard(ctx, "rstudent", rec["rstudent"], rs, units)
    if "cooks" in rec:
        exp = rec["cooks"]
        exp = exp if isinstance(exp, dict) else {"cooks": exp}
        yield from _guard(
            ctx, "cooks", exp, lambda: {"cooks": influence(res)["cooks_distance"].to_numpy()}, units
        )
    if "regtest" in rec:

        def eg() -> dict[str, Any]:
            r = regtest(res)
            return {"zval": r.zval, "pval": r.pval, "limit_estimate": r.limit_estimate,
                    "limit_ci_lb": r.limit_ci_lb, "limit_ci_ub": r.limit_ci_ub}  # fmt: skip

        yield from _guard(ctx, "regtest", rec["regtest"], eg, units)
    if "trimfill" in rec:

        def tf() -> dict[str, Any]:
            t = trimfill(res)
            f = t.fit
            return {"k0": t.k0, "side": t.side, "estimate": f.estimate, "se": f.se[0],
                    "ci_lb": f.ci_lb[0], "ci_ub": f.ci_ub[0], "tau2": f.tau2}  # fmt: skip

        yield from _guard(ctx, "trimfill", rec["trimfill"], tf, units)


def _frame(df: Any) -> dict[str, Any]:
    return {c: df[c].to_numpy() for c in df.columns if c not in ("study", "k")}


def metareg_comparisons(name: str, data: dict[str, Any], rec: dict[str, Any]) -> Iterator[Comparison]:
    import pandas as pd

    frame = pd.DataFrame({c: data["moderators"][c] for c in rec["mods"]})
    ctx = (name, rec["method"], f"{rec['test']}/tight")
    group = "metareg ~" + "+".join(rec["mods"])
    units = units_of(data["vi"])

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

    yield from _guard(ctx, group, rec if "b" in rec else {"error": rec.get("error")}, mr, units)


def comparisons(ref: dict[str, Any]) -> Iterator[Comparison]:
    """Every Python-vs-metafor comparison defined by the reference file."""
    for name, data in ref["datasets"].items():
        for rec in data["fits"]:
            yield from fit_comparisons(name, data, rec)
        for rec in data.get("metareg", []):
            yield from metareg_comparisons(name, data, rec)
        for rec in data.get("subgroup", []):
            ctx = (name, rec["method"], "z/tight")
            units = units_of(data["vi"])

            def sg(rec: dict[str, Any] = rec, data: dict[str, Any] = data) -> dict[str, Any]:
                s = subgroup_analysis(data["yi"], data["vi"], data["moderators"][rec["group"]],
                                      method=rec["method"], control=_control("tight"))  # fmt: skip
                return {"estimate": [f.estimate for f in s.fits], "se": [f.se[0] for f in s.fits],
                        "tau2": [f.tau2 for f in s.fits], "Q_between": s.Q_between,
                        "pval": s.pval}  # fmt: skip

            yield from _guard(ctx, f"subgroup {rec['group']}", rec, sg, units)
        if "ri" in data:
            ctx = (name, "-", "-")
            yi, vi = fisher_z(data["ri"], data["ni"])
            yield from _pairs(ctx, "fisher_z", {"yi": yi, "vi": vi}, data)


def exact_comparisons(ref: dict[str, Any]) -> Iterator[Comparison]:
    """Every comparison of the exact default with the 50-digit answers of ``exact_reference.json``."""
    for name, d in ref["datasets"].items():
        yield from _exact_dataset(name, d)


def _exact_dataset(name: str, d: dict[str, Any]) -> Iterator[Comparison]:
    units = units_of(d["vi"])
    for method, rec in d["fits"].items():
        for test in ("z", "knha"):
            ctx = (name, method, f"{test}/exact")

            def model(method: str = method, test: str = test) -> dict[str, Any]:
                res = rma(d["yi"], d["vi"], method=method, test=test)
                pr = predict(res)
                return {"tau2": res.tau2, "Q": res.QE, "I2": res.I2, "H2": res.H2,
                        "estimate": res.estimate, "se": res.se[0], "zval": res.zval[0],
                        "pval": res.pval[0], "ci_lb": res.ci_lb[0], "ci_ub": res.ci_ub[0],
                        "pi_lb": pr.pi_lb, "pi_ub": pr.pi_ub}  # fmt: skip

            expected = {key: rec[key] for key in ("tau2", "Q", "I2", "H2")} | rec[test]
            yield from _guard(ctx, "model", expected, model, units)
    ctx = (name, "REML", "z/exact")

    def ci() -> dict[str, Any]:
        c = confint_tau2(rma(d["yi"], d["vi"]))
        return {"tau2_lb": c.tau2_lb, "tau2_ub": c.tau2_ub}

    yield from _guard(ctx, "confint", d["confint"], ci, units)
    for group, recs, cols in (("leave1out", d.get("leave1out_reml"), _loo_exact),
                              ("cumul", d.get("cumul_reml"), _cumul_exact)):  # fmt: skip
        if recs:
            expected = {key: [r[key] if key in r else r["z"][key] for r in recs]
                        for key in ("tau2", "estimate", "se", "ci_lb", "ci_ub")}  # fmt: skip
            yield from _guard(ctx, group, expected, lambda cols=cols, d=d: cols(d), units)


def _loo_exact(d: dict[str, Any]) -> dict[str, Any]:
    return _frame(leave1out(rma(d["yi"], d["vi"])))


def _cumul_exact(d: dict[str, Any]) -> dict[str, Any]:
    cols = _frame(cumulative(rma(d["yi"], d["vi"])))
    return {key: val[2:] for key, val in cols.items()}  # the reference starts at k = 3


def _frame_of(comps: Iterator[Comparison]) -> Any:
    """One row per data set × method × test/control × quantity group: counts and worst differences."""
    import pandas as pd

    rows = [
        {
            "dataset": c.dataset,
            "method": c.method,
            "test": c.test,
            "group": c.group,
            "value_diff": c.diff if c.kind == "value" else math.nan,
            "cooks_diff": c.diff if c.kind == "cooks" else math.nan,
            "p_diff": c.diff if c.kind == "pvalue" else math.nan,
            "ok": c.ok,
        }  # fmt: skip
        for c in comps
    ]
    df = pd.DataFrame(rows)
    keys = ["dataset", "method", "test", "group"]
    out = (
        df.groupby(keys, sort=True)
        .agg(
            n=("ok", "size"),
            worst_value_diff=("value_diff", "max"),
            worst_cooks_diff=("cooks_diff", "max"),
            worst_p_diff=("p_diff", "max"),
            all_ok=("ok", "all"),
        )  # fmt: skip
        .reset_index()
    )
    return out.sort_values(keys, kind="stable").reset_index(drop=True)


@functools.lru_cache(maxsize=4)
def _all(path: str, exact: bool) -> tuple[Comparison, ...]:
    """Every comparison of one reference file (computed once per process: they are deterministic)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = load_reference(path)
        return tuple(exact_comparisons(ref) if exact else comparisons(ref))


def validation_frame(path: str | Path = DEFAULT_REFERENCE) -> Any:
    """Agreement with metafor, one row per data set × method × test/control × quantity group."""
    return _frame_of(iter(_all(str(path), False)))


def exact_frame(path: str | Path = EXACT_REFERENCE) -> Any:
    """Agreement with the 50-digit answers, one row per data set × method × test × group."""
    return _frame_of(iter(_all(str(path), True)))


def bound(x: float, tol: float) -> str:
    """A difference for display as the bound it meets (``< 1e-9``), the same on every machine;
    a difference beyond the tolerance (a failing test) is printed as it is."""
    if math.isnan(x):
        return "–"
    return f"< {tol:.0e}".replace("e-0", "e-") if x <= tol else f"{x:.1e}"


# The analyses in reading order, with their names in the book (keys: the group up to its first space).
ANALYSES = {
    "model": "Model fit",
    "fisher_z": "Fisher z transformation",
    "confint": "tau² confidence interval (Q-profile)",
    "leave1out": "Leave-one-out",
    "cumul": "Cumulative meta-analysis",
    "rstudent": "Studentized residuals",
    "cooks": "Cook's distances",
    "regtest": "Egger's regression test",
    "trimfill": "Trim-and-fill",
    "subgroup": "Subgroup analysis",
    "metareg": "Meta-regression",
}
CONTROLS = {"tight": "tight refit", "default": "metafor defaults", "exact": "exact answer", "-": "–"}


def summary_frame(frame: Any) -> Any:
    """One row per analysis × control of a :func:`validation_frame`/:func:`exact_frame`: the
    estimators, tests and data sets covered, the number of values and the worst differences."""
    import pandas as pd

    parts = frame["test"].str.split("/")
    df = frame.assign(
        analysis=frame["group"].str.split(" ").str[0],
        test_kind=parts.str[0],
        control=parts.str[-1],
    )
    unknown = set(df["analysis"]) - set(ANALYSES)
    if unknown:
        raise ValueError(f"validation groups without a name in the book: {sorted(unknown)}")

    def names(values: Any) -> str:
        return ", ".join(sorted(set(values) - {"-"})) or "–"

    rows = []
    for (analysis, control), g in df.groupby(["analysis", "control"], sort=False):
        rows.append({
            "analysis": analysis, "control": control, "methods": names(g["method"]),
            "tests": names(g["test_kind"]), "datasets": g["dataset"].nunique(), "n": int(g["n"].sum()),
            "worst_value_diff": g["worst_value_diff"].max(), "worst_cooks_diff": g["worst_cooks_diff"].max(),
            "worst_p_diff": g["worst_p_diff"].max(),
            "all_ok": bool(g["all_ok"].all()),
        })  # fmt: skip
    out = pd.DataFrame(rows)
    order = {name: i for i, name in enumerate(ANALYSES)}
    rank = out["analysis"].map(order) * 10 + out["control"].map({c: i for i, c in enumerate(CONTROLS)})
    return out.iloc[rank.argsort(kind="stable")].reset_index(drop=True)


def value_bound(value: float, cooks: float) -> str:
    """The worst value difference as a bound: 1e-9, or 1e-8 where Cook's distances need it."""
    if math.isnan(cooks):
        return bound(value, REL_TOL["value"])
    if math.isnan(value):
        return bound(cooks, REL_TOL["cooks"])
    shown = bound(value, REL_TOL["value"])
    if not shown.startswith("<"):
        return shown
    return bound(cooks, REL_TOL["cooks"]) if cooks > REL_TOL["value"] else shown


def _shown(df: Any) -> Any:
    """Differences as the bounds they meet, the same on every machine."""
    return df.assign(
        worst_value_diff=[
            value_bound(v, c) for v, c in zip(df["worst_value_diff"], df["worst_cooks_diff"], strict=True)
        ],
        worst_p_diff=df["worst_p_diff"].map(lambda x: bound(x, REL_TOL["pvalue"])),
        all_ok=df["all_ok"].map({True: "yes", False: "NO"}),
    ).drop(columns=["worst_cooks_diff"])


def _named(df: Any) -> Any:
    return df.assign(analysis=df["analysis"].map(ANALYSES), control=df["control"].map(CONTROLS))


LABELS = {
    "dataset": "Data set", "method": "Method", "test": "Test / control", "group": "Quantity",
    "analysis": "Analysis", "control": "Compared with", "methods": "tau² estimators", "tests": "Tests",
    "datasets": "Data sets", "n": "Values", "worst_value_diff": "Values: worst rel. difference",
    "worst_p_diff": "p-values: worst", "all_ok": "Within tolerance",
}  # fmt: skip


def _labels(gt: Any, reference: str, columns: Any) -> Any:
    controls = (
        " 'tight refit': metafor refitted with tolerances tightened to the units of the data, against "
        "our default; 'metafor defaults': metafor's default settings, against control = \"metafor\"."
        if reference == "metafor"
        else ""
    )
    return (
        gt.cols_label(**{c: LABELS[c] for c in columns})
        .fmt_integer(columns="n")
        .tab_source_note(
            f"Relative difference |ours − {reference}| / max(|{reference}|, 0.01·unit), unit sqrt(mean vi) "
            "for locations and mean vi for variances; shown as the bound it meets (values 1e-9, Cook's "
            "distances 1e-8, p-values 1e-6). Tests: z or Knapp–Hartung (knha)." + controls
        )
    )


def validation_table(path: str | Path = DEFAULT_REFERENCE) -> Any:
    """great_tables table of :func:`validation_frame` summarised by :func:`summary_frame`."""
    ref = load_reference(path)
    subtitle = (
        f"metafor {ref['metafor_version']}, R {ref['R_version']}, {len(ref['datasets'])} data sets; "
        "worst difference over every data set, estimator and test"
    )
    return _summary_table(
        validation_frame(path), "metafor-validation", "Agreement with R metafor", subtitle, "metafor"
    )


def exact_table(path: str | Path = EXACT_REFERENCE) -> Any:
    """great_tables table of :func:`exact_frame` summarised by :func:`summary_frame`."""
    ref = load_reference(path)
    subtitle = (
        f"tau² roots and intervals solved with mpmath {ref['mpmath_version']} at {ref['digits']} digits, "
        f"{len(ref['datasets'])} data sets"
    )
    return _summary_table(
        exact_frame(path), "exact-validation", "Agreement with exact answers", subtitle, "exact"
    )


def _summary_table(frame: Any, ident: str, title: str, subtitle: str, reference: str) -> Any:
    """The book's table of a comparison frame (fixed id, sorted rows: deterministic HTML)."""
    from great_tables import GT

    shown = _named(_shown(summary_frame(frame)))
    return _labels(GT(shown, id=ident).tab_header(title=title, subtitle=subtitle), reference, shown.columns)


def detail_table(frame: Any, ident: str, reference: str = "reference") -> Any:
    """great_tables table of every row of a :func:`validation_frame` or :func:`exact_frame`."""
    from great_tables import GT

    shown = _shown(frame)
    return _labels(GT(shown, id=ident), reference, shown.columns)


def metafor_defaults_frame(
    metafor_path: str | Path = DEFAULT_REFERENCE, exact_path: str | Path = EXACT_REFERENCE
) -> Any:
    """How far metafor's default output lies from the exact answer (from the committed files only).

    One row per data set and estimator with a metafor default record: relative error of its
    tau², estimate and Q-profile bounds. These numbers are what ``control="metafor"``
    reproduces; the default exact control does not carry them.
    """
    import pandas as pd

    metafor, exact = load_reference(metafor_path)["datasets"], load_reference(exact_path)["datasets"]
    rows = []
    for name, d in metafor.items():
        for rec in d["fits"]:
            if rec["control"] != "default" or rec["test"] != "z" or name not in exact:
                continue
            truth = exact[name]["fits"].get(rec["method"])
            if truth is None or "fit" not in rec:
                continue

            def rel(a: float, e: float) -> float:
                return abs(a - e) / abs(e) if e else abs(a)

            ci = rec.get("confint", {})
            bounds = exact[name]["confint"]
            rows.append({
                "dataset": name, "method": rec["method"],
                "tau2": rel(rec["fit"]["tau2"], truth["tau2"]),
                "estimate": rel(rec["fit"]["estimate"], truth["z"]["estimate"]),
                "tau2_lb": rel(ci["tau2_lb"], bounds["tau2_lb"]) if "tau2_lb" in ci else math.nan,
                "tau2_ub": rel(ci["tau2_ub"], bounds["tau2_ub"]) if "tau2_ub" in ci else math.nan,
            })  # fmt: skip
    return pd.DataFrame(rows).sort_values(["dataset", "method"], kind="stable").reset_index(drop=True)


def metafor_defaults_table(
    metafor_path: str | Path = DEFAULT_REFERENCE, exact_path: str | Path = EXACT_REFERENCE
) -> Any:
    """great_tables table of :func:`metafor_defaults_frame` (two significant digits)."""
    from great_tables import GT

    df = metafor_defaults_frame(metafor_path, exact_path)
    cols = ["tau2", "estimate", "tau2_lb", "tau2_ub"]
    shown = df.assign(**{c: df[c].map(lambda x: "–" if math.isnan(x) else f"{x:.1e}") for c in cols})
    return (
        GT(shown, id="metafor-defaults")
        .tab_header(title="metafor's default output against exact answers",
                    subtitle="relative error of metafor's printed values (absolute stopping rules)")
        .cols_label(dataset="Data set", method="Method", tau2="tau²", estimate="Estimate",
                    tau2_lb="tau² CI lower", tau2_ub="tau² CI upper")
        .tab_source_note("Computed from the committed reference files only. livingreview reproduces these "
                         "values with control = \"metafor\"; its default exact control does not carry them.")
    )  # fmt: skip


def summary_variables(
    path: str | Path = DEFAULT_REFERENCE, exact_path: str | Path | None = None
) -> dict[str, Any]:
    """Figures for the book's ``_variables.yml`` (differences as the bounds they meet)."""
    ref = load_reference(path)
    comps = _all(str(path), False)
    exact_path = Path(path).with_name(EXACT_REFERENCE.name) if exact_path is None else exact_path
    exact = load_reference(exact_path)
    ecomps = _all(str(exact_path), True)
    defaults = metafor_defaults_frame(path, exact_path)
    values = [c.diff for c in comps if c.kind == "value"]
    evalues = [c.diff for c in ecomps if c.kind == "value"]
    return {
        "n_comparisons": len(comps),
        "n_failed": sum(not c.ok for c in comps),
        "worst_rel_diff": bound(max(values), REL_TOL["value"]),
        "metafor_version": ref["metafor_version"],
        "R_version": ref["R_version"],
        "n_datasets": len(ref["datasets"]),
        "n_exact_comparisons": len(ecomps),
        "n_exact_failed": sum(not c.ok for c in ecomps),
        "exact_worst_rel_diff": bound(max(evalues), REL_TOL["value"]),
        "exact_digits": exact["digits"],
        "n_exact_datasets": len(exact["datasets"]),
        "metafor_default_worst_tau2": f"{defaults['tau2'].max():.1e}",
    }
