"""Claims of the source review as data (``data/claims.csv``) and the rules that test them.

Each claim names a rule; the rule computes, from our data, a verdict (supported / not supported /
cannot be checked), the size of the denominator and a sentence saying why. Verdicts are generated,
never typed, so they follow the data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from livingreview.data.dataset import Dataset
from livingreview.synthesis.domains import DomainSummary, summarise_domains
from livingreview.text.numbers import p_relation, plural

SUPPORTED, NOT_SUPPORTED, UNCHECKABLE = "supported", "not supported", "cannot be checked"
INCLUDED = ("A", "B", "C")
TRIALS = ("rct", "rct_secondary")
WESTERN = (
    "USA", "Canada", "UK", "Ireland", "Germany", "France", "Belgium", "Netherlands", "Spain", "Portugal",
    "Italy", "Switzerland", "Austria", "Denmark", "Sweden", "Norway", "Finland", "Australia", "New Zealand",
)  # fmt: skip
STRONG_R = 0.5
ALPHA = 0.05


@dataclass(frozen=True)
class Verdict:
    """A claim's generated verdict: what, on how many units, and why."""

    verdict: str
    n: int
    why: str


@dataclass(frozen=True)
class Context:
    """What the rules read: the dataset and its associations joined with their studies."""

    data: Dataset
    effects: pd.DataFrame

    @property
    def included(self) -> pd.DataFrame:
        return self.effects[self.effects["arm_relevance"].isin(INCLUDED)]

    @property
    def arm_a(self) -> pd.DataFrame:
        return self.effects[self.effects["arm_relevance"] == "A"]

    @property
    def included_studies(self) -> pd.DataFrame:
        s = self.data.studies
        return s[s["arm_relevance"].isin(INCLUDED)]


def _p(p: float | None) -> str:
    if p is None:
        return "no sign test possible"
    return f"sign test p {p_relation(p)}"


def _tally(s: DomainSummary) -> str:
    return (
        f"{s.positive} of {s.n_studies} stated a positive direction, {s.negative} a negative one, "
        f"{s.null} found no association and {s.unclear} gave no direction we could use ({_p(s.sign_p)})"
    )


def _consistent(domain: str) -> Callable[[Context], Verdict]:
    def rule(c: Context) -> Verdict:
        s = summarise_domains(c.arm_a, (domain,), "stated")[0]
        if not s.n_studies:
            return Verdict(NOT_SUPPORTED, 0, f"no arm-A study reported on {domain}")
        if s.n_studies == 1:
            return Verdict(
                NOT_SUPPORTED, 1, f"a single arm-A study reported on {domain}, so consistency cannot be shown"
            )
        ok = (
            s.positive > s.negative
            and s.sign_p is not None
            and s.sign_p < ALPHA
            and 2 * s.positive > s.n_studies
        )
        return Verdict(SUPPORTED if ok else NOT_SUPPORTED, s.n_studies, _tally(s))

    return rule


def satisfaction_benefit(c: Context) -> Verdict:
    s = summarise_domains(c.arm_a, ("satisfaction",), "stated")[0]
    if not s.n_studies:
        adjacent = int((c.effects["outcome_domain"] == "satisfaction").sum())
        return Verdict(
            NOT_SUPPORTED,
            0,
            f"no arm-A study measured satisfaction; the {adjacent} satisfaction associations in the data "
            "come from adjacent evidence (related constructs, an intervention on the relationship, or "
            "other populations)",
        )
    return _consistent("satisfaction")(c)


def strong_correlation(c: Context) -> Verdict:
    a = c.arm_a
    printed = a["r"].dropna().astype(float)
    derived = int(a["r_derived"].notna().sum())
    if printed.empty:
        return Verdict(
            UNCHECKABLE,
            0,
            f"no arm-A study prints a correlation; {derived} arm-A values are our conversions "
            "(from proportions of variance), which cannot show a printed strong correlation",
        )
    strong = int((printed.abs() >= STRONG_R).sum())
    return Verdict(
        SUPPORTED if strong else NOT_SUPPORTED,
        len(printed),
        f"{strong} of {len(printed)} printed arm-A correlations reach |r| ≥ {STRONG_R}",
    )


def self_report(c: Context) -> Verdict:
    raters = c.included["rater"]
    known = raters[raters != "not_reported"]
    patient = int(known.isin(("patient", "patient_and_clinician")).sum())
    unknown = len(raters) - len(known)
    share = patient / len(known) if len(known) else 0.0
    return Verdict(
        SUPPORTED if share > 0.5 else NOT_SUPPORTED,
        len(known),
        f"{patient} of {len(known)} included associations with a known rater ({round(100 * share)}%) used a "
        f"patient rating; the rater is not reported for {unknown} more",
    )


def observational(c: Context) -> Verdict:
    inc = c.included
    studies = c.included_studies
    trial = int(studies["design"].isin(TRIALS).sum())
    return Verdict(
        SUPPORTED,
        len(inc),
        f"all {len(inc)} included associations relate the alliance to outcome within an arm, so all are "
        f"observational, although {trial} of {len(studies)} included studies draw on trial data: no trial "
        "randomised the alliance",
    )


def follow_up(c: Context) -> Verdict:
    del c
    return Verdict(
        UNCHECKABLE,
        0,
        "the dataset records when the alliance was measured but not how long outcomes were followed, "
        "so the length of follow-up cannot be counted",
    )


def western(c: Context) -> Verdict:
    countries = c.included_studies["country"]
    stated = countries[~countries.isin(("not reported", "multinational"))]
    w = int(stated.isin(WESTERN).sum())
    return Verdict(
        SUPPORTED if len(stated) and 2 * w > len(stated) else NOT_SUPPORTED,
        len(stated),
        f"{w} of the {len(stated)} included studies that state a country were done in North America, "
        "Western Europe or Australasia; education and ethnicity were rarely reported and are not "
        "recorded in the dataset",
    )


def alliance_randomised(c: Context) -> Verdict:
    studies = c.included_studies
    randomised = c.effects[
        (c.effects["exposure"] == "relationship_intervention") & c.effects["design"].isin(TRIALS)
        if "exposure" in c.effects
        else pd.Series(False, index=c.effects.index)
    ]
    n = int(randomised["study_id"].nunique())
    if n == 0:
        why = (
            "no included study randomised patients to an intervention on the relationship, so none of "
            f"the {len(studies)} included studies isolates the alliance experimentally"
        )
    else:
        why = f"{plural(n, 'study', 'studies')} randomised patients to an intervention on the relationship"
    return Verdict(SUPPORTED if n == 0 else NOT_SUPPORTED, len(studies), why)


def psychotherapy_alignment(c: Context) -> Verdict:
    pooled = c.data.syntheses[c.data.syntheses["estimate"].notna()]
    est = {}
    for context in ("pharmacotherapy", "psychotherapy"):
        rows = pooled[pooled["alliance_context"] == context]
        if rows.empty:
            return Verdict(
                UNCHECKABLE, 0, f"no earlier pooled estimate for the {context} alliance is recorded"
            )
        row = rows.iloc[0]
        to_r = math.tanh if row["metric"] == "fisher_z" else float
        est[context] = (to_r(float(row["ci_lb"])), to_r(float(row["estimate"])), to_r(float(row["ci_ub"])))
    lb, _, ub = est["pharmacotherapy"]
    ok = lb <= est["psychotherapy"][1] <= ub
    return Verdict(
        SUPPORTED if ok else NOT_SUPPORTED,
        2,
        "the confidence interval of the earlier pharmacotherapy estimate "
        + ("includes" if ok else "excludes")
        + " the psychotherapy estimate; the pharmacotherapy review pooled all diagnoses, so this is indirect",
    )


def anxiety_benefit(c: Context) -> Verdict:
    a = c.arm_a[c.arm_a["diagnosis"].isin(("anxiety", "ptsd"))]
    s = summarise_domains(a, ("symptoms", "adherence", "retention", "satisfaction"), "stated")
    n = int(a["study_id"].nunique())
    positive = sum(x.positive for x in s)
    if not n:
        return Verdict(NOT_SUPPORTED, 0, "no arm-A study concerned an anxiety disorder")
    return Verdict(
        SUPPORTED if positive and 2 * positive > n else NOT_SUPPORTED,
        n,
        f"{positive} of {n} arm-A studies in anxiety disorders stated a positive direction",
    )


RULES: dict[str, Callable[[Context], Verdict]] = {
    "symptoms_consistent": _consistent("symptoms"),
    "adherence_consistent": _consistent("adherence"),
    "satisfaction_benefit": satisfaction_benefit,
    "strong_correlation": strong_correlation,
    "self_report": self_report,
    "observational": observational,
    "follow_up": follow_up,
    "western": western,
    "alliance_randomised": alliance_randomised,
    "psychotherapy_alignment": psychotherapy_alignment,
    "anxiety_benefit": anxiety_benefit,
}


def load_claims(data_dir: Path) -> pd.DataFrame:
    return pd.read_csv(Path(data_dir) / "claims.csv", dtype=str, keep_default_na=False, encoding="utf-8")


def verdicts(data: Dataset, claims: pd.DataFrame) -> pd.DataFrame:
    """Every claim with its generated verdict, denominator size and reason."""
    context = Context(data, data.effects_with_studies())
    out = []
    for row in claims.itertuples(index=False):
        v = RULES[row.rule](context)
        out.append({**row._asdict(), "verdict": v.verdict, "n": v.n, "why": v.why})
    return pd.DataFrame(out)


def check_rows(claims: list[dict[str, str]]) -> list[tuple[str, int, str, str]]:
    """Validator hook: every claim names a rule that exists in ``RULES``."""
    return [
        (
            "claims.csv",
            int(r["_row"]),
            "rule",
            f"unknown rule {r.get('rule', '')!r} (known: {', '.join(sorted(RULES))})",
        )
        for r in claims
        if r.get("rule", "") not in RULES
    ]
