"""Tables of the book as great-tables objects with fixed ids (deterministic HTML for nbval).

great-tables escapes every cell, header and note given as plain text, so text from the data
(quotes, measures) always reaches HTML as text, never as markup.
"""

from __future__ import annotations

import re

import pandas as pd
from great_tables import GT

from livingreview.data.dataset import RELEVANCE_LABELS, Dataset
from livingreview.reporting.scale import MAX_TABLE_ROWS, head_note
from livingreview.synthesis.domains import (
    favourable_r,
    pool_domain,
    study_correlations,
    summary_frame,
)
from livingreview.text.numbers import fmt_p, fmt_r

DIRECTION_SYMBOL = {
    "positive": "▲ positive",
    "null": "○ null",
    "negative": "▼ negative",
    "mixed": "◆ mixed",
    "not_reported": "· not reported",
}
PROVENANCE_TEXT = {
    "printed_statistic": "printed statistic",
    "stated_in_words": "stated in words",
    "inferred": "inferred by us",
    "none": "",
}
LABEL = {
    "rct": "RCT",
    "rct_secondary": "Secondary analysis of an RCT",
    "prospective_cohort": "Prospective cohort",
    "cross_sectional": "Cross-sectional",
    "non_randomised": "Non-randomised intervention",
    "psychometric": "Psychometric study",
    "depression": "Depression",
    "anxiety": "Anxiety",
    "ptsd": "PTSD",
    "bipolar": "Bipolar disorder",
    "psychosis": "Psychosis",
    "mixed": "Mixed psychiatric",
    "abstract": "Abstract",
    "full_text": "Full text",
}


def study_label(study_id: str) -> str:
    """'ZilchaMano2015PPS' → 'ZilchaMano 2015 (PPS)': readable without the bibliography."""
    match = re.fullmatch(r"(.+?)(\d{4})([A-Za-z]*)", study_id)
    if not match:
        return study_id
    name, year, suffix = match.groups()
    return f"{name} {year}" + (f" ({suffix})" if suffix else "")


def group_label(relevance: str) -> str:
    return f"{relevance}: {RELEVANCE_LABELS[relevance]}"


def _relevant_n_text(s: pd.DataFrame) -> list[str]:
    if "n_relevant_arms" not in s:
        return [""] * len(s)
    return [
        "" if rel != "A" else ("not reported" if pd.isna(v) else f"{int(v):,}")
        for rel, v in zip(s["arm_relevance"], s["n_relevant_arms"], strict=True)
    ]


def characteristics_table(data: Dataset) -> GT:
    """Characteristics of every extracted study, grouped by arm relevance."""
    s = data.studies.sort_values(["arm_relevance", "year", "study_id"], kind="stable")
    cut = head_note(len(s), "data/studies.csv")
    s = s.head(MAX_TABLE_ROWS)
    frame = pd.DataFrame(
        {
            "group": s["arm_relevance"].map(group_label),
            "study": s["study_id"].map(study_label),
            "design": s["design"].map(LABEL),
            "diagnosis": s["diagnosis"].map(LABEL),
            "country": s["country"],
            "n": s["n_analysed"].map(lambda v: "not reported" if pd.isna(v) else f"{int(v):,}"),
            "n_arms": _relevant_n_text(s),
            "medication": s["medication"],
            "level": s["extraction_level"].map(LABEL),
        }
    )
    table = (
        GT(frame, id="tbl-characteristics-gt", groupname_col="group")
        .cols_label(
            study="Study",
            design="Design",
            diagnosis="Diagnosis",
            country="Country",
            n="N analysed",
            n_arms="N in drug and placebo arms",
            medication="Medication",
            level="Extracted from",
        )
        .cols_align("right", columns=["n", "n_arms"])
        .tab_source_note(
            "Arm relevance as defined in the methods. N as printed by the source; "
            "'not reported' where the text read did not give it. N in drug and placebo arms: the "
            "participants counted for category A studies (printed, or the sum of printed arm sizes; "
            "its quote and address are stored with the study); blank for other categories."
        )
        .tab_source_note("Source: the review's studies table.")
    )
    return table.tab_source_note(cut) if cut else table


def _range_text(constraints: dict) -> str:
    low, high = constraints.get("minimum"), constraints.get("maximum")
    if low is not None and high is not None:
        return f"from {low} to {high}"
    return f"≥ {low}" if low is not None else f"≤ {high}"


def data_dictionary_table(data: Dataset) -> GT:
    """The data dictionary, rendered from ``datapackage.json``."""
    rows = []
    for resource in data.package["resources"]:
        for field in resource["schema"]["fields"]:
            c = field.get("constraints", {})
            rules = []
            if c.get("required"):
                rules.append("required")
            if c.get("unique"):
                rules.append("unique")
            if "enum" in c:
                rules.append("one of: " + ", ".join(c["enum"]))
            if "minimum" in c or "maximum" in c:
                rules.append(_range_text(c))
            if "pattern" in c:
                rules.append("pattern " + c["pattern"])
            rows.append(
                {
                    "table": resource["path"],
                    "field": field["name"],
                    "type": field["type"],
                    "rules": "; ".join(rules),
                    "description": field.get("description", ""),
                }
            )
    for resource in data.package["resources"]:
        for fk in resource["schema"].get("foreignKeys", []):
            rows.append(
                {
                    "table": resource["path"],
                    "field": ", ".join(fk["fields"]),
                    "type": "foreign key",
                    "rules": "",
                    "description": f"must exist in {fk['reference']['resource']}.csv "
                    f"({', '.join(fk['reference']['fields'])})",
                }
            )
    return (
        GT(pd.DataFrame(rows), id="tbl-data-dictionary-gt", groupname_col="table")
        .cols_label(field="Field", type="Type", rules="Constraints", description="Description")
        .tab_source_note(
            "Source: data/datapackage.json (Frictionless Data Package); "
            "`livingreview validate` enforces every rule shown."
        )
    )


DIRECTION_COUNTS = ("positive", "null", "unclear", "negative", "mixed")
DIRECTION_LABELS = {
    "positive": "▲ Positive",
    "null": "○ No association",
    "unclear": "· Direction not stated",
    "negative": "▼ Negative",
    "mixed": "◆ Mixed",
}


def _direction_columns(table: GT, **more_counts: str) -> GT:
    """Labels, spanner and alignment of a table of study-level direction counts per domain."""
    counts = list(DIRECTION_COUNTS)
    numeric = ["n_studies", *more_counts, *counts, "sign_p"]
    return (
        table.cols_label(
            domain="Outcome domain",
            n_studies="Studies",
            **more_counts,
            **DIRECTION_LABELS,
            sign_p="Sign test p",
        )
        .tab_spanner("Study-level direction", columns=counts)
        .cols_align("right", columns=numeric)
    )


def direction_table(data: Dataset) -> GT:
    """Effect-direction summary per outcome domain: arm A, then arms A–C (studies as unit)."""
    effects = data.effects_with_studies()
    frame = summary_frame(effects, {"Arm A (primary)": ["A"], "Arms A–C (sensitivity)": ["A", "B", "C"]})
    frame["sign_p"] = frame["sign_p"].map(fmt_p)
    frame = frame[["group", "domain", "n_studies", "k", *DIRECTION_COUNTS, "sign_p"]]
    return (
        _direction_columns(GT(frame, id="tbl-direction-gt", groupname_col="group"), k="Associations")
        .tab_source_note(
            "A study's direction in a domain is the one shared by at least 70% of its "
            "associations, otherwise mixed. Positive: stronger alliance with better "
            "outcome. Only directions the source states (a printed statistic or words) count; "
            "a direction we inferred counts as not stated (see the sensitivity table). "
            "Two-sided exact sign test of positive against negative studies."
        )
        .tab_source_note("Source: the review's associations and studies tables.")
    )


POOLING_DOMAINS = ("symptoms", "adherence", "retention", "satisfaction")


def pooling_table(data: Dataset) -> GT:
    """Per outcome domain: can arm-A correlations be pooled, and if so the random-effects result."""
    effects = data.effects_with_studies()
    arm_a = effects[effects["arm_relevance"] == "A"]
    rows = []
    for label, derived in (("Printed and derived r", True), ("Printed r only (sensitivity)", False)):
        available = study_correlations(arm_a, derived)
        for domain in POOLING_DOMAINS:
            k = int((available["outcome_domain"] == domain).sum())
            pooled = pool_domain(arm_a, domain, derived)
            row = {"analysis": label, "domain": domain, "k": k}
            if pooled is None:
                row.update(r="not pooled: fewer than two studies with a correlation", pi="", tau2="", i2="")
            else:
                row.update(
                    r=f"{fmt_r(pooled.r)} ({fmt_r(pooled.ci_lb)} to {fmt_r(pooled.ci_ub)})",
                    pi=f"{fmt_r(pooled.pi_lb)} to {fmt_r(pooled.pi_ub)}",
                    tau2=f"{pooled.tau2:.3f}",
                    i2=f"{pooled.I2:.0f}%",
                )
            rows.append(row)
    return (
        GT(pd.DataFrame(rows), id="tbl-pooling-gt", groupname_col="analysis")
        .cols_label(
            domain="Outcome domain",
            k="Studies with r",
            r="Pooled r (95% CI)",
            pi="95% prediction interval",
            tau2="τ²",
            i2="I²",
        )
        .cols_align("right", columns=["k"])
        .tab_source_note(
            "Arm A only. One Fisher z per study (the mean of its correlations), weighted by "
            "N − 3; REML τ², Knapp–Hartung confidence interval, prediction interval as "
            "metafor's predict()."
        )
        .tab_source_note("Source: the review's associations and studies tables.")
    )


def associations_table(data: Dataset) -> GT:
    """Every association with its statistic exactly as printed."""
    e = data.effects_with_studies().sort_values(
        ["arm_relevance", "outcome_domain", "effect_id"], kind="stable"
    )
    cut = head_note(len(e), "data/effects.csv")
    e = e.head(MAX_TABLE_ROWS)
    fav = favourable_r(e)
    r_text = [
        "" if pd.isna(v) else fmt_r(float(v)) + (" (derived)" if pd.isna(p) else "")
        for v, p in zip(fav, e["r"], strict=True)
    ]
    frame = pd.DataFrame(
        {
            "group": e["arm_relevance"].map(group_label),
            "study": e["study_id"].map(study_label),
            "domain": e["outcome_domain"],
            "arm": e["arm"].str.replace("_", " "),
            "rater": e["rater"].str.replace("_", " "),
            "statistic": e["statistic_reported"],
            "r": r_text,
            "direction": [
                DIRECTION_SYMBOL.get(d, d)
                + (f" ({PROVENANCE_TEXT.get(s, s)})" if PROVENANCE_TEXT.get(s) else "")
                for d, s in zip(
                    e["direction"], e.get("direction_source", pd.Series("none", index=e.index)), strict=True
                )
            ],
        }
    )
    table = (
        GT(frame, id="tbl-associations-gt", groupname_col="group")
        .cols_label(
            study="Study",
            domain="Outcome",
            arm="Patients",
            rater="Alliance rater",
            statistic="Statistic as printed",
            r="r (alliance-favourable)",
            direction="Direction",
        )
        .tab_source_note(
            "r is oriented so that a positive value means stronger alliance with better "
            "outcome; 'derived' marks values we converted (the derivation is stored with each value). "
            "Direction: where it comes from in brackets (printed statistic, stated in words, or "
            "inferred by us, with the reason stored in the dataset)."
        )
        .tab_source_note("Source: the review's associations table.")
    )
    return table.tab_source_note(cut) if cut else table


def evidence_table(data: Dataset) -> GT:
    """Every association with its verbatim quote and source address (traceability)."""
    e = data.effects.sort_values("effect_id", kind="stable")
    cut = head_note(len(e), "data/effects.csv")
    e = e.head(MAX_TABLE_ROWS)
    frame = pd.DataFrame(
        {
            "effect": e["effect_id"],
            "quote": e["quote"],
            "source": e["source_url"].str.replace(" ; ", "\n", regex=False),
        }
    )
    table = (
        GT(frame, id="tbl-evidence-gt")
        .cols_label(effect="Association", quote="Verbatim quote", source="Where it was read")
        .tab_source_note("Quotes are verbatim from the sources; '[…]' marks omissions.")
        .tab_source_note("Source: the review's associations table (quotes and addresses).")
    )
    return table.tab_source_note(cut) if cut else table


class Shown:
    """Notebook display of a table: its HTML, and a stable plain-text stand-in.

    GT's own ``repr`` contains memory addresses, which would make every execution differ.
    """

    def __init__(self, table: GT) -> None:
        self._html = table.as_raw_html()
        self._id = table._options.table_id.value

    def _repr_html_(self) -> str:
        return self._html

    def __repr__(self) -> str:
        return f"<table {self._id}>"


def show(table: GT) -> Shown:
    """What a notebook cell returns to display ``table`` deterministically."""
    return Shown(table)


def sensitivity_table(data: Dataset) -> GT:
    """Arm-A effect direction under each sensitivity analysis (studies as the unit)."""
    from livingreview.synthesis.sensitivity import sensitivity_frame

    frame = sensitivity_frame(data.effects_with_studies())
    frame["sign_p"] = frame["sign_p"].map(lambda p: fmt_p(None if pd.isna(p) else float(p)))
    return (
        _direction_columns(GT(frame, id="tbl-sensitivity-gt", groupname_col="analysis"))
        .tab_source_note(
            "Arm A unless the row says otherwise; only domains with at least one study are shown. "
            "A direction counts as positive or negative only where the analysis admits its provenance; "
            "otherwise the study counts as 'direction not stated'. Two-sided exact sign test of "
            "positive against negative studies."
        )
        .tab_source_note("Source: the review's associations and studies tables.")
    )


def claims_table(data: Dataset, claims: pd.DataFrame) -> GT:
    """Each claim of the source review with its generated verdict, denominator and reason."""
    from livingreview.synthesis.claims import verdicts

    v = verdicts(data, claims)
    frame = pd.DataFrame(
        {
            "claim": v["claim_id"] + ". " + v["claim"] + " (" + v["section"] + ")",
            "verdict": v["verdict"],
            "denominator": v["denominator"] + ": " + v["n"].astype(str),
            "why": v["why"].str[0].str.upper() + v["why"].str[1:] + ".",
        }
    )
    return (
        GT(frame, id="tbl-claims-gt")
        .cols_label(
            claim="Claim of the source review (paraphrased)",
            verdict="Verdict",
            denominator="Denominator",
            why="Why",
        )
        .tab_source_note(
            "Verdicts are generated from the data by the rule each claim names; 'cannot be checked' "
            "means the dataset does not record what the claim is about."
        )
        .tab_source_note("Source: the review's claims table and the associations and studies tables.")
    )
