"""Reporting standards (issue 6): PRISMA flow and checklist, QUIPS risk of bias, GRADE, gap map."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from livingreview.checks.validate import validate_data
from livingreview.data.dataset import load_dataset
from livingreview.reporting import gapmap, grade, prisma, rob
from livingreview.reporting.values import reporting_variables
from scratch import current_version, read_table, write_table

PRISMA_2020_ITEMS = (
    [str(i) for i in range(1, 10)]
    + ["10a", "10b", "11", "12"]
    + [f"13{c}" for c in "abcdef"]
    + ["14", "15", "16a", "16b", "17", "18", "19"]
    + [f"20{c}" for c in "abcd"]
    + ["21", "22"]
    + [f"23{c}" for c in "abcd"]
    + ["24a", "24b", "24c", "25", "26", "27"]
)


def problems(data_dir: Path) -> list[str]:
    return [str(p) for p in validate_data(data_dir).problems]


# --- PRISMA flow -------------------------------------------------------------------------------


def test_flow_counts_add_up_for_the_shipped_data(root: Path) -> None:
    flow = prisma.load_flow(root, current_version(root))
    screening = pd.read_csv(root / "data" / "screening.csv", dtype=str, keep_default_na=False)
    studies = pd.read_csv(root / "data" / "studies.csv", dtype=str, keep_default_na=False)
    assert prisma.flow_problems(flow) == []
    previous = prisma.snapshot_screening(root / "releases", current_version(root))
    if previous is None:  # the first version: every record is new
        assert flow.previous_version is None
    else:  # a later version: only records screened since the previous one
        assert flow.previous_version == previous[0]
        screening = screening[~screening["record_id"].isin(set(previous[1]["record_id"]))]
    assert flow.records_screened == len(screening) == flow.n_not_included + flow.new_reports
    assert flow.n_adjacent == (screening["decision"] == "adjacent").sum()
    assert flow.n_excluded == (screening["decision"] == "excluded").sum()
    assert flow.total_studies == studies["arm_relevance"].isin(["A", "B", "C"]).sum()
    assert prisma.OTHER_REASON not in flow.excluded, "a shipped exclusion reason fits no group"


def test_first_version_has_no_previous_arm(root: Path) -> None:
    flow = prisma.load_flow(root, "0.0.1")
    if not (root / "releases").is_dir():
        assert flow.previous_version is None and flow.previous_studies is None
        assert flow.records_identified == flow.records_screened  # no per-search counts recorded


def test_previous_version_arm_from_a_release_snapshot(project_copy: Path) -> None:
    data = project_copy / "data"
    header, body = read_table(data / "screening.csv")
    snapshot = project_copy / "releases" / "v0.0.1" / "data"
    snapshot.mkdir(parents=True)
    old = [r for r in body if r["record_id"] < "M"]  # an earlier version held fewer records
    write_table(snapshot / "screening.csv", header, old)
    flow = prisma.load_flow(project_copy, "0.1.0")
    old_included = {r["study_id"] for r in old if r["decision"] == "included"}
    assert flow.previous_version == "0.0.1"
    assert flow.previous_studies == len(old_included)
    assert flow.records_screened == len(body) - len(old)
    assert flow.total_studies == flow.previous_studies + flow.new_studies
    assert prisma.flow_problems(flow) == []
    fig = prisma.flow_figure(flow)
    texts = " ".join(" ".join(t.get_text() for t in fig.axes[0].texts).split())
    assert f"Studies included in version 0.0.1: n = {flow.previous_studies}" in texts
    fig.savefig(project_copy / "flow-with-previous.png")


def test_searches_reporting_fewer_records_than_screened_is_a_validation_error(data_copy: Path) -> None:
    header, body = read_table(data_copy / "searches.csv")
    for r in body:
        r["records_found"] = "1"
    write_table(data_copy / "searches.csv", header, body)
    found = problems(data_copy)
    assert any(p.startswith("searches.csv:0:") and "fewer than the" in p for p in found), found


def test_records_found_for_only_some_searches_is_a_validation_error(data_copy: Path) -> None:
    header, body = read_table(data_copy / "searches.csv")
    body[-1]["records_found"] = "500"  # a new search that records its count
    write_table(data_copy / "searches.csv", header, body)
    found = problems(data_copy)
    assert any(p.startswith(f"searches.csv:{len(body) + 1}:records_found:") for p in found), found
    for r in body:  # every search gives a count but the new one
        r["records_found"] = "500"
    body[-1]["records_found"] = ""
    write_table(data_copy / "searches.csv", header, body)
    found = problems(data_copy)
    assert any(p.startswith(f"searches.csv:{len(body) + 1}:records_found:") for p in found), found


def test_records_found_for_every_search_gives_duplicates_removed(data_copy: Path) -> None:
    header, body = read_table(data_copy / "searches.csv")
    for r in body:
        r["records_found"] = "10"
    write_table(data_copy / "searches.csv", header, body)
    assert problems(data_copy) == []
    flow = prisma.load_flow(data_copy.parent, "0.1.0")
    assert flow.records_found == 10 * len(body)
    assert flow.removed_before_screening == flow.records_found - flow.records_screened


def test_flow_problems_catch_inconsistent_numbers(root: Path) -> None:
    flow = prisma.load_flow(root, current_version(root))
    bad = prisma.Flow(**{**flow.__dict__, "total_studies": flow.total_studies + 1})
    assert any("studies included in total" in p for p in prisma.flow_problems(bad))


@pytest.mark.parametrize(
    ("reason", "group"),
    [
        ("alcohol dependence, not depression/anxiety", "Population not depression or anxiety"),
        ("narrative review without data", "Not a primary study (review, editorial, secondary source)"),
        ("results sentence truncated in source", "No usable result in the text read"),
        ("something new", prisma.OTHER_REASON),
    ],
)
def test_exclusion_reasons_are_grouped(reason: str, group: str) -> None:
    assert prisma.exclusion_group(reason) == group


# --- PRISMA checklist --------------------------------------------------------------------------


def test_checklist_has_every_prisma_2020_item_and_living_items(root: Path) -> None:
    items = [r["item"] for r in prisma.read_checklist(root / "data" / "prisma-checklist.csv")]
    assert [i for i in items if not i.startswith("LSR")] == PRISMA_2020_ITEMS
    assert sum(i.startswith("LSR-") for i in items) >= 5


def test_every_checklist_anchor_exists_in_the_book(root: Path) -> None:
    assert prisma.missing_anchors(root) == []


def test_a_checklist_anchor_that_does_not_exist_is_caught(project_copy: Path) -> None:
    path = project_copy / "data" / "prisma-checklist.csv"
    header, body = read_table(path)
    body[0]["anchor"] = "sec-nowhere"
    write_table(path, header, body)
    assert prisma.missing_anchors(project_copy) == ["1: #sec-nowhere"]


def test_renaming_a_heading_id_breaks_the_checklist(project_copy: Path) -> None:
    methods = project_copy / "chapters" / "methods.qmd"
    methods.write_text(methods.read_text(encoding="utf-8").replace("{#sec-rob-methods}", "{#sec-rob2}"))
    assert prisma.missing_anchors(project_copy) == ["11: #sec-rob-methods"]


# --- risk of bias ------------------------------------------------------------------------------


def test_every_included_study_is_assessed_in_every_quips_domain(root: Path) -> None:
    data = load_dataset(root / "data")
    judged = rob.complete(rob.load_rob(root / "data"), data)
    assert rob.NOT_ASSESSED not in set(judged["judgement"])
    assert len(judged) == 6 * data.studies["arm_relevance"].isin(["A", "B", "C"]).sum()
    raw = rob.load_rob(root / "data")
    assert raw["justification"].str.len().min() > 20


def test_an_unassessed_study_is_shown_as_not_yet_assessed(root: Path) -> None:
    data = load_dataset(root / "data")
    judgements = rob.load_rob(root / "data")
    fewer = judgements[judgements["study_id"] != "Krupnick1996"]
    assert rob.counts(fewer, data)[rob.NOT_ASSESSED] == 6
    assert rob.judgement_matrix(fewer, data).loc["Krupnick1996"].eq(rob.NOT_ASSESSED).all()


def test_weighted_summary_shares_add_to_one_hundred(root: Path) -> None:
    data = load_dataset(root / "data")
    shares, unweighted = rob.weighted_shares(rob.load_rob(root / "data"), data)
    assert shares.sum(axis=1).round(9).eq(100).all()
    included = data.studies[data.studies["arm_relevance"].isin(["A", "B", "C"])]
    assert unweighted == included["n_analysed"].isna().sum()


@pytest.mark.parametrize(
    ("column", "value", "text"),
    [
        ("judgement", "fine", "is not one of the allowed values"),
        ("domain", "blinding", "is not one of the allowed values"),
        ("study_id", "Nobody2020", "refers to a value that does not exist"),
        ("justification", "", "required value is empty"),
    ],
)
def test_risk_of_bias_schema_is_enforced(data_copy: Path, column: str, value: str, text: str) -> None:
    header, body = read_table(data_copy / "risk_of_bias.csv")
    body[0][column] = value
    write_table(data_copy / "risk_of_bias.csv", header, body)
    found = problems(data_copy)
    assert any(p.startswith(f"risk_of_bias.csv:2:{column}:") and text in p for p in found), found


def test_risk_of_bias_for_an_adjacent_study_is_a_validation_error(data_copy: Path) -> None:
    header, body = read_table(data_copy / "risk_of_bias.csv")
    body.append(
        {"study_id": "Bull2002", "domain": "attrition", "judgement": "low", "justification": "x" * 30}
    )
    write_table(data_copy / "risk_of_bias.csv", header, body)
    found = problems(data_copy)
    assert any(p.startswith(f"risk_of_bias.csv:{len(body) + 1}:study_id:") for p in found), found


def test_a_changed_judgement_changes_the_reported_counts(project_copy: Path) -> None:
    data_dir = project_copy / "data"
    data = load_dataset(data_dir)
    before = reporting_variables(data_dir, data, current_version(project_copy))["rob"]
    header, body = read_table(data_dir / "risk_of_bias.csv")
    i = next(i for i, r in enumerate(body) if r["judgement"] == rob.ABSTRACT_ONLY)
    body[i]["judgement"] = "high"
    write_table(data_dir / "risk_of_bias.csv", header, body)
    after = reporting_variables(data_dir, data, current_version(project_copy))["rob"]
    assert after["unclear_abstract"] == before["unclear_abstract"] - 1
    assert after["high"] == before["high"] + 1


# --- GRADE -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("downgrades", "level"),
    [
        ([0, 0, 0, 0, 0], "high"),
        ([1, 0, 0, 0, 0], "moderate"),
        ([1, 0, 1, 0, 0], "low"),
        ([2, 0, 0, 1, 0], "very low"),
        ([2, 2, 2, 2, 2], "very low"),
    ],
)
def test_certainty_starts_high_and_loses_a_level_per_downgrade(downgrades: list[int], level: str) -> None:
    assert grade.START == "high"
    assert grade.certainty(downgrades) == level


def test_certainty_shown_follows_its_recorded_reasons(root: Path) -> None:
    data = load_dataset(root / "data")
    recorded = grade.load_grade(root / "data")
    for g in grade.domain_grades(data, recorded):
        rows_ = recorded[recorded["outcome_domain"] == g.domain]
        if g.certainty is None:
            assert rows_.empty or g.n_studies == 0
            continue
        total = int(rows_["downgrade"].sum())
        assert g.certainty == grade.LEVELS[max(0, grade.LEVELS.index(grade.START) - total)]
        assert {f for f, _, _ in g.downgrades} == set(grade.FACTORS)
        assert all(reason.strip() for _, _, reason in g.downgrades)
    html = grade.sof_table(data, recorded).as_raw_html()
    for _, row in recorded[recorded["downgrade"] > 0].iterrows():
        assert row["reason"].split(":")[0][:40].replace("'", "&#x27;") in html.replace("&quot;", '"')


def test_lifting_every_downgrade_makes_the_certainty_high(project_copy: Path) -> None:
    data_dir = project_copy / "data"
    header, body = read_table(data_dir / "grade.csv")
    for r in body:
        if r["outcome_domain"] == "symptoms":
            r["downgrade"] = "0"
    write_table(data_dir / "grade.csv", header, body)
    data = load_dataset(data_dir)
    values = reporting_variables(data_dir, data, current_version(project_copy))["grade"]
    assert values["symptoms"] == "high"
    assert "⊕⊕⊕⊕ High" in grade.sof_table(data, grade.load_grade(data_dir)).as_raw_html()


def test_a_partly_graded_domain_is_a_validation_error(data_copy: Path) -> None:
    header, body = read_table(data_copy / "grade.csv")
    body = [r for r in body if not (r["outcome_domain"] == "symptoms" and r["factor"] == "imprecision")]
    write_table(data_copy / "grade.csv", header, body)
    found = problems(data_copy)
    assert any(p.startswith("grade.csv:") and "imprecision" in p for p in found), found


def test_downgrade_out_of_range_is_a_validation_error(data_copy: Path) -> None:
    header, body = read_table(data_copy / "grade.csv")
    body[0]["downgrade"] = "3"
    write_table(data_copy / "grade.csv", header, body)
    assert any(p.startswith("grade.csv:2:downgrade:") for p in problems(data_copy))


# --- gap map -----------------------------------------------------------------------------------


def test_gap_map_counts_every_included_study_and_shows_empty_cells(root: Path) -> None:
    data = load_dataset(root / "data")
    cells = gapmap.gap_cells(data)
    included = data.studies[data.studies["arm_relevance"].isin(["A", "B", "C"])]
    eligible = included[included["diagnosis"].isin(gapmap.DIAGNOSES)]
    effects = data.effects[data.effects["study_id"].isin(eligible["study_id"])]
    assert cells["studies"].sum() == effects.drop_duplicates(["study_id", "outcome_domain"]).shape[0]
    empty = gapmap.empty_cells(cells)
    assert len(empty) + len(cells[["diagnosis", "outcome_domain"]].drop_duplicates()) == 15
    fig = gapmap.gap_map(data)
    assert sum(t.get_text() == "no studies" for t in fig.axes[0].texts) == len(empty)


def test_snapshot_folder_without_screening_is_ignored(tmp_path: Path, root: Path) -> None:
    (tmp_path / "releases" / "v0.0.1").mkdir(parents=True)
    assert prisma.snapshot_screening(tmp_path / "releases", "0.1.0") is None
    shutil.rmtree(tmp_path / "releases")
    assert prisma.snapshot_screening(tmp_path / "releases", "0.1.0") is None


def test_traffic_light_marks_every_judgement_in_its_colour_and_symbol(root: Path) -> None:
    """One circle per study × domain (drawn as one collection), coloured and labelled by judgement."""
    from matplotlib.colors import to_rgba

    data = load_dataset(root / "data")
    judgements = rob.load_rob(root / "data")
    matrix = rob.judgement_matrix(judgements, data)
    ax = rob.traffic_light(judgements, data).axes[0]
    circles = ax.collections[0]
    n_rows = len(matrix)
    expected = [
        (j, n_rows - 1 - i, judgement)
        for i, row in enumerate(matrix.itertuples(index=False))
        for j, judgement in enumerate(row)
    ]
    assert [tuple(xy) for xy in circles.get_offsets().tolist()] == [(x, y) for x, y, _ in expected]
    assert [tuple(c) for c in circles.get_facecolors()] == [to_rgba(rob.STYLE[j][0]) for _, _, j in expected]
    symbols = [
        (t.get_position(), t.get_text())
        for t in ax.texts
        if t.get_text() in {s for _, s, _ in rob.STYLE.values()}
    ]
    assert symbols == [((x, y), rob.STYLE[j][1]) for x, y, j in expected]
