"""Direction provenance in the sign test, sensitivity analyses, denominators, claims and key messages."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from livingreview.checks.rules import MEASURED
from livingreview.checks.validate import validate_data
from livingreview.data.dataset import load_dataset
from livingreview.synthesis.claims import RULES, load_claims, verdicts
from livingreview.synthesis.denominators import participants
from livingreview.synthesis.domains import summarise_domains, vote
from livingreview.synthesis.sensitivity import run, sensitivity_frame


def frame(rows: list[tuple[str, str, str, str, str]]) -> pd.DataFrame:
    """(study, direction, source, significant, arm_relevance) rows in the symptoms domain."""
    return pd.DataFrame(
        [
            {
                "effect_id": f"{s}-{i}",
                "study_id": s,
                "outcome_domain": "symptoms",
                "direction": d,
                "direction_source": src,
                "significant": sig,
                "arm_relevance": rel,
                "n": 50,
            }
            for i, (s, d, src, sig, rel) in enumerate(rows)
        ]
    )


def test_vote_admits_only_the_provenances_of_the_analysis() -> None:
    e = frame(
        [
            ("P", "positive", "printed_statistic", "yes", "A"),
            ("W", "positive", "stated_in_words", "yes", "A"),
            ("I", "positive", "inferred", "yes", "A"),
            ("N", "not_reported", "none", "no", "A"),
            ("U", "not_reported", "none", "yes", "A"),
        ]
    )
    assert list(vote(e, "stated")) == ["positive", "positive", "unclear", "null", "unclear"]
    assert list(vote(e, "printed")) == ["positive", "unclear", "unclear", "null", "unclear"]
    assert list(vote(e, "all")) == ["positive", "positive", "positive", "null", "unclear"]
    s = summarise_domains(e, ("symptoms",), "stated")[0]
    assert (s.positive, s.null, s.unclear, s.negative, s.sign_p) == (2, 1, 2, 0, 0.5)


def test_older_data_without_provenance_count_as_stated() -> None:
    e = frame([("P", "positive", "", "yes", "A"), ("N", "null", "", "no", "A")]).drop(
        columns="direction_source"
    )
    assert list(vote(e)) == ["positive", "null"]


def test_primary_sign_test_uses_stated_directions_and_sensitivity_shows_the_rest(root: Path) -> None:
    data = load_dataset(root / "data")
    e = data.effects_with_studies()
    primary = {s.domain: s for s in run(e, "primary")}["symptoms"]
    inferred = {s.domain: s for s in run(e, "inferred")}["symptoms"]
    a = e[(e["arm_relevance"] == "A") & (e["outcome_domain"] == "symptoms")]
    stated_positive = a[a["direction_source"].isin(("printed_statistic", "stated_in_words"))]
    assert (
        primary.positive
        == stated_positive.loc[stated_positive["direction"] == "positive", "study_id"].nunique()
    )
    assert inferred.positive > primary.positive  # the inferred signs are in the sensitivity analysis only
    table = sensitivity_frame(e)
    for label in (
        "Signs of printed statistics only",
        "Validated alliance scales only",
        "Adding categories B and C",
    ):
        assert label in set(table["analysis"]), label


def test_no_arm_a_count_includes_an_unmeasured_alliance(root: Path) -> None:
    e = load_dataset(root / "data").effects
    included = e[e["arm_relevance"].isin(("A", "B", "C"))]
    assert set(included["exposure"]) <= set(MEASURED)
    assert set(e.loc[e["study_id"] == "Michel2023", "arm_relevance"]) == {"D"}
    assert e.set_index("effect_id").loc["Read2015-3", "arm_relevance"] == "D"
    assert set(e.loc[e["arm"] == "pooled_with_psychotherapy", "arm_relevance"]) <= {"B", "D"}


def test_participants_are_counted_in_the_relevant_arms(root: Path) -> None:
    studies = load_dataset(root / "data").studies
    krupnick = studies.set_index("study_id").loc["Krupnick1996"]
    assert int(krupnick["n_relevant_arms"]) < int(krupnick["n_analysed"])  # drug + placebo arms, not all four
    arm_a = studies[studies["arm_relevance"] == "A"]
    p = participants(studies, arm_a["study_id"])
    assert p.total == int(arm_a["n_relevant_arms"].sum())
    assert p.without_n == int(arm_a["n_relevant_arms"].isna().sum())
    assert all(arm_a["n_relevant_arms_basis"].str.len() > 0)


def test_every_claim_has_a_generated_verdict_with_its_denominator(root: Path) -> None:
    data = load_dataset(root / "data")
    v = verdicts(data, load_claims(root / "data"))
    assert set(v["verdict"]) <= {"supported", "not supported", "cannot be checked"}
    assert v["denominator"].str.len().min() > 0 and v["why"].str.len().min() > 0
    by_rule = v.set_index("rule")
    # self-report: among associations with a known rater; every within-arm association is observational
    assert by_rule.loc["self_report", "verdict"] == "supported"
    assert "known rater" in by_rule.loc["self_report", "why"]
    assert by_rule.loc["observational", "verdict"] == "supported"
    assert by_rule.loc["follow_up", "verdict"] == "cannot be checked"
    for rule in ("adherence_consistent", "satisfaction_benefit", "strong_correlation", "follow_up"):
        assert rule in set(v["rule"]), rule


def test_self_report_verdict_follows_the_data(root: Path) -> None:
    data = load_dataset(root / "data")
    effects = data.effects.copy()
    effects.loc[effects["rater"] == "patient", "rater"] = "observer"
    changed = type(data)(**{**data.__dict__, "effects": effects})
    v = verdicts(changed, load_claims(root / "data")).set_index("rule")
    assert v.loc["self_report", "verdict"] == "not supported"


def test_randomised_alliance_verdict_follows_the_data(root: Path) -> None:
    """No trial of a relationship intervention: supported, in plain words; one such trial: not supported."""
    data = load_dataset(root / "data")
    v = verdicts(data, load_claims(root / "data")).set_index("rule")
    if v.loc["alliance_randomised", "verdict"] == "supported":
        assert v.loc["alliance_randomised", "why"].startswith("no included study randomised")
    effects = data.effects_with_studies().copy()
    trial = effects.index[effects["design"].isin(["rct", "rct_secondary"])][0]
    data.effects.loc[trial, "exposure"] = "relationship_intervention"
    v = verdicts(data, load_claims(root / "data")).set_index("rule")
    assert v.loc["alliance_randomised", "verdict"] == "not supported"
    assert v.loc["alliance_randomised", "why"].startswith("1 study randomised")


def test_a_claim_with_an_unknown_rule_is_rejected(data_copy: Path) -> None:
    path = data_copy / "claims.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
        header = list(rows[0])
    rows[2]["rule"] = "gut_feeling"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, header, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    problems = [str(p) for p in validate_data(data_copy).problems]
    assert any(p.startswith("claims.csv:4:rule:") and "unknown rule" in p for p in problems), problems
    assert "gut_feeling" not in RULES


@pytest.mark.parametrize(
    "key",
    [
        "summary.symptoms",
        "summary.inferred",
        "summary.certainty",
        "summary.bottom_line",
        "synthesis.anxiety_sentence",
    ],
)
def test_first_screen_states_key_messages_from_variables(root: Path, key: str) -> None:
    index = (root / "index.qmd").read_text(encoding="utf-8")
    # the title, the conclusion flag and the key messages come before the summary section
    first_screen = index.split("## Summary of this version")[0]
    assert "## Key messages in plain words" in first_screen
    assert "{{< var " + key + " >}}" in first_screen


def test_reader_text_names_no_working_notes(root: Path) -> None:
    for path in [root / "index.qmd", *sorted((root / "chapters").glob("*.qmd"))]:
        text = path.read_text(encoding="utf-8")
        for word in ("literature-notes", "in the notes", "data/searches.csv"):
            assert word not in text, (path.name, word)
