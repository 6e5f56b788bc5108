"""GRADE certainty of evidence and the summary-of-findings table (arm-A evidence per outcome domain).

Certainty is computed, never typed: it starts at ``START`` and loses one level per level of
downgrading recorded in ``data/grade.csv`` (risk of bias, inconsistency, indirectness,
imprecision, publication bias), each with its reason. For prognostic-factor questions GRADE
starts observational (longitudinal) evidence at high certainty, because the cohort is the
natural design for the question (Foroutan et al. 2020); we follow that.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from livingreview.data.dataset import Dataset
from livingreview.reporting.resources import read_resource
from livingreview.synthesis.denominators import participants
from livingreview.synthesis.domains import DomainSummary, pool_domain, study_directions, summarise_domains
from livingreview.text.numbers import fmt_p, fmt_r

if TYPE_CHECKING:  # drawing libraries load only when a table is made (validate stays fast)
    from great_tables import GT

LEVELS = ("very low", "low", "moderate", "high")
START = "high"
FACTORS = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")
FACTOR_LABELS = {
    "risk_of_bias": "risk of bias",
    "inconsistency": "inconsistency",
    "indirectness": "indirectness",
    "imprecision": "imprecision",
    "publication_bias": "publication bias",
}
SOF_DOMAINS = ("symptoms", "adherence", "retention", "satisfaction")
SYMBOLS = {"high": "⊕⊕⊕⊕", "moderate": "⊕⊕⊕◯", "low": "⊕⊕◯◯", "very low": "⊕◯◯◯"}
OUTCOME_PHRASE = {
    "symptoms": "greater symptom improvement",
    "adherence": "better adherence to medication",
    "retention": "staying in treatment",
    "satisfaction": "greater satisfaction with care",
}


def certainty(downgrades: Sequence[int], start: str = START) -> str:
    """Certainty after removing ``sum(downgrades)`` levels from ``start`` (never below very low)."""
    if any(d < 0 or d > 2 for d in downgrades):
        raise ValueError("each downgrade is 0, 1 or 2 levels")
    return LEVELS[max(0, LEVELS.index(start) - sum(downgrades))]


def load_grade(data_dir: Path) -> pd.DataFrame:
    return read_resource(data_dir, "grade")


def arm_a_effects(data: Dataset) -> pd.DataFrame:
    effects = data.effects_with_studies()
    return effects[effects["arm_relevance"] == "A"]


def check_rows(
    grade: list[dict[str, str]], effects: list[dict[str, str]], studies: list[dict[str, str]]
) -> Iterator[tuple[str, int, str, str]]:
    """Validator hook: a graded domain has a decision on all five GRADE factors.

    A domain with arm-A evidence but no decision at all is shown as "not yet graded" (a new study
    can be added before it is graded); a partly graded domain cannot give a certainty.
    """
    del effects, studies  # kept in the signature for checks that need the evidence
    graded: dict[str, set[str]] = {}
    first_row: dict[str, int] = {}
    for row in grade:
        domain = row.get("outcome_domain", "")
        graded.setdefault(domain, set()).add(row.get("factor", ""))
        first_row.setdefault(domain, int(row["_row"]))
    for domain in sorted(graded):
        missing = [f for f in FACTORS if f not in graded[domain]]
        if missing:
            yield (
                "grade.csv",
                first_row[domain],
                "factor",
                f"{domain} is graded without a decision on {', '.join(missing)}: "
                "certainty cannot be computed",
            )


@dataclass(frozen=True)
class DomainGrade:
    """Everything the summary-of-findings table shows for one outcome domain."""

    domain: str
    n_studies: int
    participants: int
    studies_without_n: int
    effect: str
    certainty: str | None  # None: no arm-A evidence to grade
    downgrades: tuple[tuple[str, int, str], ...]  # (factor, levels, reason)
    statement: str


def _effect_text(s: DomainSummary, pooled) -> str:  # noqa: ANN001 - PooledCorrelation | None
    if pooled is not None:
        return (
            f"Pooled r = {fmt_r(pooled.r)} (95% CI {fmt_r(pooled.ci_lb)} to {fmt_r(pooled.ci_ub)}; "
            f"{pooled.k} studies)"
        )
    parts = [
        f"{n} {d}"
        for d, n in (
            ("positive", s.positive),
            ("no association", s.null),
            ("direction not stated", s.unclear),
            ("negative", s.negative),
            ("mixed", s.mixed),
        )
        if n
    ]
    text = "Effect direction: " + ", ".join(parts)
    if s.decisive and s.n_studies > 1:
        text += f"; sign test p {'= ' if not fmt_p(s.sign_p).startswith('<') else ''}{fmt_p(s.sign_p)}"
    return text


def plain_statement(domain: str, level: str | None, s: DomainSummary) -> str:
    """Plain-language statement in GRADE's wording for the certainty level."""
    phrase = OUTCOME_PHRASE[domain]
    if level is None and s.n_studies:
        return "Not yet graded: the GRADE decisions for this domain have not been recorded."
    if level is None:
        return f"No study of the prescriber alliance within a medication arm reported on {domain}."
    if level == "very low":
        return f"We are very uncertain whether a stronger alliance with the prescriber goes with {phrase}."
    mostly_positive = s.positive * 2 > s.n_studies
    verb = {"high": "is", "moderate": "is probably", "low": "may be"}[level]
    if mostly_positive:
        return f"A stronger alliance with the prescriber {verb} associated with {phrase}."
    return f"A stronger alliance with the prescriber {verb} not consistently associated with {phrase}."


def domain_grades(data: Dataset, grade: pd.DataFrame) -> list[DomainGrade]:
    """One ``DomainGrade`` per summary-of-findings domain, from arm-A evidence and ``grade``."""
    eff_a = arm_a_effects(data)
    per_study = study_directions(eff_a) if len(eff_a) else pd.DataFrame(columns=["outcome_domain", "n"])
    out = []
    for s in summarise_domains(eff_a, SOF_DOMAINS):
        rows = per_study[per_study["outcome_domain"] == s.domain]
        decisions = grade[grade["outcome_domain"] == s.domain].set_index("factor")
        if s.n_studies and set(FACTORS) <= set(decisions.index):
            downs = tuple(
                (f, int(decisions.loc[f, "downgrade"]), str(decisions.loc[f, "reason"]))
                for f in FACTORS
                if f in decisions.index
            )
            level = certainty([d for _, d, _ in downs])
        else:
            downs, level = (), None
        out.append(
            DomainGrade(
                domain=s.domain,
                n_studies=s.n_studies,
                participants=participants(data.studies, rows["study_id"]).total,
                studies_without_n=participants(data.studies, rows["study_id"]).without_n,
                effect=_effect_text(s, pool_domain(eff_a, s.domain)) if s.n_studies else "No studies",
                certainty=level,
                downgrades=downs,
                statement=plain_statement(s.domain, level, s),
            )
        )
    return out


def sof_table(data: Dataset, grade: pd.DataFrame) -> GT:
    """GRADE summary of findings: studies, participants, effect, certainty with footnoted reasons."""
    from great_tables import GT

    grades = domain_grades(data, grade)
    notes: list[str] = []
    rows = []
    for g in grades:
        marks = []
        for factor, levels, reason in g.downgrades:
            if levels == 0:
                continue
            mark = "abcdefghijklmnopqrstuvwxyz"[len(notes)]
            marks.append(mark)
            step = "one level" if levels == 1 else "two levels"
            notes.append(f"{mark}. {g.domain.capitalize()}, {FACTOR_LABELS[factor]} (down {step}): {reason}")
        if g.certainty is None:
            certainty_text = "not yet graded" if g.n_studies else "not graded (no evidence)"
        else:
            certainty_text = f"{SYMBOLS[g.certainty]} {g.certainty.capitalize()}" + (
                f" ({', '.join(marks)})" if marks else ""
            )
        if g.n_studies and g.studies_without_n == g.n_studies:
            participants = "not reported"
        else:
            participants = f"{g.participants:,}"
            if g.studies_without_n:
                participants += (
                    f" ({g.studies_without_n} {'study' if g.studies_without_n == 1 else 'studies'} without N)"
                )
        rows.append(
            {
                "domain": g.domain.capitalize(),
                "studies": g.n_studies,
                "participants": participants,
                "effect": g.effect,
                "certainty": certainty_text,
                "statement": g.statement,
            }
        )
    table = (
        GT(pd.DataFrame(rows), id="tbl-sof-gt")
        .cols_label(
            domain="Outcome domain",
            studies="Studies",
            participants="Participants",
            effect="Effect (arm A)",
            certainty="Certainty of evidence (GRADE)",
            statement="What this means",
        )
        .cols_align("right", columns=["studies", "participants"])
        .tab_source_note(
            "Population: people taking medication (or pill placebo) for depression or anxiety; "
            "prognostic factor: a stronger alliance with the prescriber; arm-A studies only. Effect: "
            "the effect-direction count of studies (positive = stronger alliance with better "
            "outcome) with a two-sided sign test, or a pooled correlation where two or more studies "
            "give one. Directions count only where the source states them (printed or in words). "
            "Participants: analysed N of the medication and pill-placebo arms, where reported."
        )
        .tab_source_note(
            "Certainty starts at high, as GRADE advises for prognostic-factor evidence from "
            "observational studies, and loses one or two levels for each serious or very serious "
            "concern; it cannot fall below very low."
        )
    )
    for note in notes:
        table = table.tab_source_note(note)
    return table.tab_source_note("Source: the review's GRADE decisions, associations and studies tables.")
