"""Plain-language key messages for the first screen of the book, generated from the data.

Every sentence is built from the same summaries as the results chapter, so a new study changes the
key messages with everything else; terms are explained where they are first used.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from livingreview.data.dataset import Dataset
from livingreview.synthesis.denominators import participants
from livingreview.synthesis.domains import DomainSummary
from livingreview.synthesis.sensitivity import run
from livingreview.text.numbers import p_relation, plural

DESIGN_WORDS = {
    "rct": "randomised trial",
    "rct_secondary": "secondary analysis of a randomised trial",
    "prospective_cohort": "cohort study",
    "cross_sectional": "cross-sectional survey",
    "non_randomised": "non-randomised study",
    "psychometric": "measurement study",
}


def _studies(n: int) -> str:
    return plural(n, "study", "studies")


def _p(p: float | None) -> str:
    return "not estimable" if p is None else p_relation(p)


def _chance(p: float | None) -> str:
    if p is None:
        return "no study stated a direction, so there is nothing to test"
    if p < 0.05:
        return "more than chance alone would readily produce"
    return "a split that could easily arise by chance"


def symptoms_message(s: DomainSummary) -> str:
    if not s.n_studies:
        return "Symptoms: no core study reported on symptoms."
    return (
        f"Symptoms: of the {_studies(s.n_studies)} that looked at symptoms, {s.positive} said that a "
        f"better alliance went with better results and {s.negative} said the opposite; {s.null} found no "
        f"link and {s.unclear} reported a link without saying which way it ran. A sign test, which asks "
        f"whether more studies point one way than chance would produce, gives p {_p(s.sign_p)}: "
        f"{_chance(s.sign_p)}."
    )


def inferred_message(stated: DomainSummary, all_signs: DomainSummary) -> str:
    added = all_signs.positive + all_signs.negative - stated.positive - stated.negative
    if not added:
        return "No direction had to be inferred by us, so counting inferred directions changes nothing."
    return (
        f"If we also count the {_studies(added)} whose direction we inferred from wording that does not "
        f"state it, {all_signs.positive} of {all_signs.n_studies} point towards benefit (sign test p "
        f"{_p(all_signs.sign_p)}); we show this only as a sensitivity analysis, because those directions "
        "are our reading, not the authors' statement."
    )


def domain_message(label: str, s: DomainSummary) -> str:
    if not s.n_studies:
        return f"{label}: no core study measured it."
    if s.n_studies == 1:
        what = (
            "reported that a better alliance went with better results"
            if s.positive
            else "found no link"
            if s.null
            else "reported a link without saying which way it ran"
            if s.unclear
            else "reported that a better alliance went with worse results"
            if s.negative
            else "had mixed findings"
        )
        return f"{label}: a single core study measured it and {what}; one study cannot show a pattern."
    return (
        f"{label}: {s.n_studies} core studies measured it; {s.positive} reported benefit, {s.negative} harm, "
        f"{s.null} no link and {s.unclear} gave no direction (sign test p {_p(s.sign_p)})."
    )


def participants_message(data: Dataset) -> str:
    studies = data.studies
    core = studies[studies["arm_relevance"] == "A"]
    people = participants(studies, core["study_id"])
    text = (
        f"The {_studies(people.n_studies)} analysed {people.total:,} people in the relevant medication or "
        f"placebo groups"
    )
    if people.without_n:
        text += f" ({_studies(people.without_n)} did not say how many)"
    if people.largest_study:
        design = studies.set_index("study_id").loc[people.largest_study, "design"]
        share = round(100 * people.largest_share)
        text += f"; {share}% of them took part in a single {DESIGN_WORDS.get(str(design), 'study')}"
    return text + "."


GRADE_MEANING = {
    "high": "a high rating means that further research is very unlikely to change the picture",
    "moderate": "a moderate rating means that the true relationship is probably close to the estimate",
    "low": "a low rating means that the true relationship may be substantially different",
    "very low": "a very low rating means that the true relationship is likely to be substantially different "
    "from what the studies suggest",
}
LEVELS = ("very low", "low", "moderate", "high")


def certainty_message(grades: dict[str, Any] | None) -> str:
    if not grades:
        return "The certainty of the evidence has not been rated."
    parts = [
        f"{grades[d]} for {d}"
        for d in ("symptoms", "adherence", "retention", "satisfaction")
        if d in grades and grades[d] not in ("no evidence", "not yet graded")
    ]
    if not parts:
        return "No outcome had evidence that could be rated for certainty."
    lowest = min((grades[d] for d in grades if grades[d] in LEVELS), key=LEVELS.index)
    return (
        "Using the GRADE approach, which rates how much confidence the evidence deserves from high to "
        "very low, the certainty is " + "; ".join(parts) + f"; {GRADE_MEANING[lowest]}."
    )


def bottom_line(s: DomainSummary) -> str:
    consistent = s.sign_p is not None and s.sign_p < 0.05 and 2 * s.positive > s.n_studies
    if consistent:
        return (
            "The core studies consistently link a better alliance with the prescriber to better results of "
            "medication, but they do not show how large the benefit is or that the relationship causes it."
        )
    return (
        "A good relationship with the prescriber may go with better results of medication, but the core "
        "studies do not show this consistently, do not say how large any benefit is, and do not show that "
        "the relationship causes it."
    )


def summary_variables(data: Dataset, effects: pd.DataFrame, grades: dict[str, Any] | None) -> dict[str, Any]:
    """The ``summary`` block of ``_variables.yml``: key messages in plain words."""
    stated = {s.domain: s for s in run(effects, "primary")}
    inferred = {s.domain: s for s in run(effects, "inferred")}
    return {
        "participants": participants_message(data),
        "symptoms": symptoms_message(stated["symptoms"]),
        "inferred": inferred_message(stated["symptoms"], inferred["symptoms"]),
        "adherence": domain_message("Taking the medicine as prescribed (adherence)", stated["adherence"]),
        "retention": domain_message("Staying in treatment (retention)", stated["retention"]),
        "satisfaction": domain_message("Satisfaction with care", stated["satisfaction"]),
        "certainty": certainty_message(grades),
        "bottom_line": bottom_line(stated["symptoms"]),
    }
