"""Sensitivity analyses of the arm-A effect-direction synthesis, the drug-versus-placebo contrast and
the bottom line for anxiety disorders, each as data that tables and sentences are made from."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from livingreview.synthesis.domains import DomainSummary, summarise_domains

DOMAINS = ("symptoms", "adherence", "retention", "satisfaction")
ANXIETY = ("anxiety", "ptsd")
YOUTH = re.compile(r"youth|child|adolescent|young people", re.I)
Select = Callable[[pd.DataFrame], pd.Series]


def _col(e: pd.DataFrame, name: str, default: str) -> pd.Series:
    return e[name].fillna(default) if name in e else pd.Series(default, index=e.index)


@dataclass(frozen=True)
class Analysis:
    """One row group of the sensitivity table: which associations, and which directions count."""

    key: str
    label: str
    relevance: tuple[str, ...]
    signs: str
    select: Select | None = None


ANALYSES = (
    Analysis("primary", "Primary: directions stated by the source (printed or in words)", ("A",), "stated"),
    Analysis("printed", "Signs of printed statistics only", ("A",), "printed"),
    Analysis("inferred", "Adding directions inferred by us", ("A",), "all"),
    Analysis(
        "validated",
        "Validated alliance scales only",
        ("A",),
        "stated",
        lambda e: _col(e, "exposure", "validated_alliance_scale") == "validated_alliance_scale",
    ),
    Analysis(
        "prior_change",
        "Analyses that controlled for prior symptom change (inferred directions included)",
        ("A",),
        "all",
        lambda e: _col(e, "adjusts_prior_change", "not_reported") == "yes",
    ),
    Analysis(
        "drug_arm",
        "Drug-arm associations only (including cohorts of medication users)",
        ("A",),
        "stated",
        lambda e: e["arm"].isin(("medication", "observational")),
    ),
    Analysis(
        "placebo_arm", "Pill-placebo-arm associations only", ("A",), "stated", lambda e: e["arm"] == "placebo"
    ),
    Analysis(
        "both_arms",
        "Drug and placebo arms reported together",
        ("A",),
        "stated",
        lambda e: e["arm"] == "medication_and_placebo",
    ),
    Analysis("abc", "Adding categories B and C", ("A", "B", "C"), "stated"),
)
BY_KEY = {a.key: a for a in ANALYSES}


def subset(effects: pd.DataFrame, analysis: Analysis) -> pd.DataFrame:
    rows = effects[effects["arm_relevance"].isin(analysis.relevance)]
    return rows[analysis.select(rows)] if analysis.select is not None and len(rows) else rows


def run(effects: pd.DataFrame, key: str, domains: tuple[str, ...] = DOMAINS) -> list[DomainSummary]:
    """Domain summaries of one analysis."""
    analysis = BY_KEY[key]
    return summarise_domains(subset(effects, analysis), domains, analysis.signs)


def sensitivity_frame(effects: pd.DataFrame) -> pd.DataFrame:
    """Every analysis × outcome domain with studies: counts of study-level directions and sign-test p."""
    rows = []
    for analysis in ANALYSES:
        for s in run(effects, analysis.key):
            if not s.n_studies:
                continue
            rows.append(
                {
                    "analysis": analysis.label,
                    "domain": s.domain,
                    "n_studies": s.n_studies,
                    "positive": s.positive,
                    "null": s.null,
                    "unclear": s.unclear,
                    "negative": s.negative,
                    "mixed": s.mixed,
                    "sign_p": s.sign_p,
                }
            )
    return pd.DataFrame(rows)


def counts_phrase(s: DomainSummary) -> str:
    """'1 positive, 2 with no association and 1 without a stated direction' for one domain summary."""
    parts = [
        (s.positive, "stated a positive direction", "stated a positive direction"),
        (s.negative, "stated a negative direction", "stated a negative direction"),
        (s.null, "found no association", "found no association"),
        (
            s.unclear,
            "reported an association without a direction we could use",
            "reported one without a direction we could use",
        ),
        (s.mixed, "had mixed findings", "had mixed findings"),
    ]
    listed = [f"{n} {text}" for n, text, _ in parts if n]
    if not listed:
        return "none reported on it"
    return listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]


def anxiety_studies(effects: pd.DataFrame) -> pd.DataFrame:
    a = effects[(effects["arm_relevance"] == "A") & effects["diagnosis"].isin(ANXIETY)]
    return a


def anxiety_sentence(effects: pd.DataFrame, studies: pd.DataFrame) -> str:
    """Bottom line for anxiety disorders (arm A, all outcome domains, stated directions)."""
    a = anxiety_studies(effects)
    ids = sorted(set(a["study_id"]))
    if not ids:
        return "No arm-A study concerned an anxiety disorder, so nothing can be said about anxiety disorders."
    s = summarise_domains(a, ("symptoms",), "stated")[0]
    population = studies.set_index("study_id")["population"].reindex(ids).fillna("")
    young = int(population.str.contains(YOUTH).sum())
    text = (
        f"For anxiety disorders, {len(ids)} arm-A {'study' if len(ids) == 1 else 'studies'} reported on "
        f"symptoms: {counts_phrase(s)}"
    )
    if young:
        text += f"; {young} of {'it' if len(ids) == 1 else 'them'} concerned children and adolescents"
    decisive = s.positive + s.negative
    text += (
        ". No anxiety study stated a direction, so the data allow no conclusion for anxiety disorders."
        if not decisive
        else "."
    )
    return text


def drug_placebo_sentence(effects: pd.DataFrame) -> str:
    """Symptom associations within drug arms, within placebo arms, and both reported together."""
    clauses = []
    for key, where in (("drug_arm", "within drug arms"), ("placebo_arm", "within pill-placebo arms")):
        s = run(effects, key, ("symptoms",))[0]
        clauses.append(
            f"{where}, {s.n_studies} arm-A {'study' if s.n_studies == 1 else 'studies'} reported on symptoms"
            + (f" ({counts_phrase(s)})" if s.n_studies else "")
        )
    both = run(effects, "both_arms", ("symptoms",))[0]
    text = "; ".join(clauses)
    text = text[0].upper() + text[1:]
    if both.n_studies:
        text += (
            f"; {both.n_studies} more reported drug and placebo arms together ({counts_phrase(both)}), "
            "so their result cannot be assigned to either"
        )
    return text + "."
