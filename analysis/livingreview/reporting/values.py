"""Values of the reporting-standards artefacts (PRISMA, QUIPS, GRADE, gap map) for ``_variables.yml``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from livingreview.data.dataset import Dataset
from livingreview.reporting import gapmap, grade, prisma, rob
from livingreview.text.numbers import fmt_pct

DIAGNOSIS_WORDS = {"depression": "depression", "anxiety": "anxiety disorders", "ptsd": "PTSD"}


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def grade_sentence(grades: list[grade.DomainGrade]) -> str:
    graded = [g for g in grades if g.certainty]
    by_level: dict[str, list[str]] = {}
    for g in graded:
        by_level.setdefault(g.certainty or "", []).append(g.domain)
    parts = [f"{level} for {_join(domains)}" for level, domains in by_level.items()]
    text = "The certainty of the arm-A evidence was " + "; ".join(parts) + "." if parts else ""
    pending = [g.domain for g in grades if not g.certainty and g.n_studies]
    if pending:
        text += f" The evidence on {_join(pending)} has not yet been graded."
    missing = [g.domain for g in grades if not g.certainty and not g.n_studies]
    if missing:
        text += f" No arm-A study reported on {_join(missing)}, so there was nothing to grade."
    return text.strip()


def gap_sentence(data: Dataset) -> str:
    cells = gapmap.gap_cells(data)
    empty = gapmap.empty_cells(cells)
    by_diagnosis: dict[str, list[str]] = {}
    for diagnosis, domain in empty:
        by_diagnosis.setdefault(diagnosis, []).append(domain)
    if not by_diagnosis:
        return "Every combination of diagnosis and outcome domain has at least one included study."
    parts = [
        f"{_join(['other outcomes' if x == 'other' else x for x in domains])} in {DIAGNOSIS_WORDS[d]}"
        for d, domains in by_diagnosis.items()
    ]
    return "No included study reported on " + "; on ".join(parts) + "."


def reporting_variables(data_dir: Path, data: Dataset, version: str) -> dict[str, Any]:
    """The ``reporting`` block of ``_variables.yml``."""
    flow = prisma.load_flow(Path(data_dir).parent, version)
    judgements = rob.load_rob(data_dir)
    counts = rob.counts(judgements, data)
    shares, unweighted = rob.weighted_shares(judgements, data)
    plain, _ = rob.weighted_shares(judgements, data, weighted=False)
    grades = grade.domain_grades(data, grade.load_grade(data_dir))
    cells = gapmap.gap_cells(data)
    return {
        "prisma": {
            "n_searches": flow.n_searches,
            "records_identified": flow.records_identified,
            "records_screened": flow.records_screened,
            "not_included": flow.n_not_included,
            "adjacent": flow.n_adjacent,
            "excluded": flow.n_excluded,
            "syntheses": flow.synthesis,
            "awaiting": flow.awaiting,
            "reports_sought": flow.reports_sought,
            "not_retrieved": flow.not_retrieved,
            "reports_assessed": flow.reports_assessed,
            "new_studies": flow.new_studies,
            "total_studies": flow.total_studies,
            "previous_sentence": (
                "This is the first version of the review, so the flow diagram has no studies from a "
                "previous version."
                if flow.previous_version is None
                else f"The flow diagram starts from the {flow.previous_studies} studies included in "
                f"version {flow.previous_version} and adds the records screened since."
            ),
        },
        "rob": {
            "n_studies": int(data.studies["arm_relevance"].isin(rob.INCLUDED).sum()),
            "n_judgements": sum(counts.values()),
            "not_assessed": counts[rob.NOT_ASSESSED],
            "low": counts["low"],
            "moderate": counts["moderate"],
            "high": counts["high"],
            "unclear": counts["unclear"],
            "unclear_abstract": counts[rob.ABSTRACT_ONLY],
            "pct_unclear_abstract": fmt_pct(counts[rob.ABSTRACT_ONLY], sum(counts.values())),
            "n_unweighted": unweighted,
            "pct_studies_unclear_abstract": f"{plain.loc['prognostic_factor', rob.ABSTRACT_ONLY]:.0f}%",
            "pct_participants_unclear_abstract": f"{shares.loc['prognostic_factor', rob.ABSTRACT_ONLY]:.0f}%",
        },
        "grade": {
            "start": grade.START,
            **{g.domain: g.certainty or ("not yet graded" if g.n_studies else "no evidence") for g in grades},
            "sentence": grade_sentence(grades),
        },
        "gap": {
            "n_empty": len(gapmap.empty_cells(cells)),
            "n_cells": len(gapmap.DIAGNOSES) * len(gapmap.DOMAINS),
            "sentence": gap_sentence(data),
        },
    }
