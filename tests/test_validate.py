"""The validator: the shipped data pass; each kind of bad input is caught with file:row:column."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from livingreview.checks.validate import validate_data

TODAY = dt.date(2026, 11, 27)


def read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def write_rows(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, header, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def edit(data: Path, table: str, change: Callable[[list[str], list[dict[str, str]]], int | None]) -> int:
    """Apply ``change`` to the rows of ``table``; return the file row it reports (header = 1)."""
    path = data / f"{table}.csv"
    header, rows = read_rows(path)
    index = change(header, rows)
    write_rows(path, header, rows)
    return (index or 0) + 2


def first(rows: list[dict[str, str]], pred: Callable[[dict[str, str]], bool]) -> int:
    return next(i for i, r in enumerate(rows) if pred(r))


def set_cell(
    table: str, column: str, value: str, where: Callable[[dict[str, str]], bool] = lambda r: True
) -> Callable[[Path], int]:
    def mutate(data: Path) -> int:
        def change(header: list[str], rows: list[dict[str, str]]) -> int:
            i = first(rows, where)
            rows[i][column] = value
            return i

        return edit(data, table, change)

    return mutate


def has_r(row: dict[str, str]) -> bool:
    return bool(row["r"])


def positive_with_r(row: dict[str, str]) -> bool:
    return bool(row["r"]) and row["direction"] == "positive"


def run(data: Path) -> list[str]:
    return [str(p) for p in validate_data(data, today=TODAY).problems]


def assert_problem(problems: list[str], prefix: str, text: str) -> None:
    assert any(p.startswith(prefix) and text in p for p in problems), (prefix, text, problems)


def test_shipped_data_are_valid(root: Path) -> None:
    report = validate_data(root / "data", root / "references.bib")
    assert report.problems == ()
    assert report.counts["studies"] > 0 and report.counts["effects"] > 0


# (id, mutation, expected "file:row:column" prefix (row filled from the mutation), message part)
CELL_CASES = [
    (
        "empty-required",
        set_cell("studies", "design", ""),
        "studies.csv:{row}:design",
        "required value is empty",
    ),
    ("wrong-type", set_cell("studies", "year", "nineteen"), "studies.csv:{row}:year", "not a valid integer"),
    ("year-out-of-range", set_cell("studies", "year", "1800"), "studies.csv:{row}:year", "out of range"),
    ("year-in-future", set_cell("studies", "year", "2029"), "studies.csv:{row}:year", "in the future"),
    (
        "n-below-4",
        set_cell("studies", "n_analysed", "3", lambda r: bool(r["n_analysed"])),
        "studies.csv:{row}:n_analysed",
        "out of range",
    ),
    (
        "n-not-integer",
        set_cell("studies", "n_analysed", "12.5", lambda r: bool(r["n_analysed"])),
        "studies.csv:{row}:n_analysed",
        "not a valid integer",
    ),
    (
        "unknown-enum",
        set_cell("effects", "outcome_domain", "mood"),
        "effects.csv:{row}:outcome_domain",
        "not one of the allowed values",
    ),
    (
        "unknown-relevance",
        set_cell("studies", "arm_relevance", "E"),
        "studies.csv:{row}:arm_relevance",
        "not one of the allowed values",
    ),
    ("r-above-1", set_cell("effects", "r", "1.2", has_r), "effects.csv:{row}:r", "out of range"),
    (
        "r-not-number",
        set_cell("effects", "r", "point two", has_r),
        "effects.csv:{row}:r",
        "not a valid number",
    ),
    ("nan-text", set_cell("effects", "r", "nan", has_r), "effects.csv:{row}:r", "not allowed"),
    ("inf-text", set_cell("effects", "r", "-inf", has_r), "effects.csv:{row}:r", "not allowed"),
    ("na-text", set_cell("studies", "n_analysed", "NA"), "studies.csv:{row}:n_analysed", "missing value"),
    ("missing-quote", set_cell("effects", "quote", ""), "effects.csv:{row}:quote", "required value is empty"),
    (
        "missing-source",
        set_cell("effects", "source_url", ""),
        "effects.csv:{row}:source_url",
        "required value is empty",
    ),
    (
        "source-not-http",
        set_cell("effects", "source_url", "www.example.org/x"),
        "effects.csv:{row}:source_url",
        "not an http(s) address",
    ),
    (
        "derived-without-derivation",
        set_cell("effects", "r_derivation", "", lambda r: bool(r["r_derived"])),
        "effects.csv:{row}:r_derivation",
        "without its derivation",
    ),
    (
        "derivation-without-value",
        set_cell("effects", "r_derivation", "sqrt of R2", lambda r: not r["r_derived"]),
        "effects.csv:{row}:r_derived",
        "r_derived is empty",
    ),
    (
        "direction-contradicts-r",
        set_cell("effects", "direction", "negative", positive_with_r),
        "effects.csv:{row}:direction",
        "contradicts the sign of r",
    ),
    (
        "orientation-missing",
        set_cell("effects", "outcome_higher_is_better", "", has_r),
        "effects.csv:{row}:outcome_higher_is_better",
        "required when r",
    ),
    (
        "r-for-non-correlation",
        set_cell("effects", "statistic_type", "HR", has_r),
        "effects.csv:{row}:r",
        "not a correlation",
    ),
    (
        "unknown-study",
        set_cell("effects", "study_id", "Nobody2020"),
        "effects.csv:{row}:study_id",
        "does not exist",
    ),
    (
        "effect-id-prefix",
        set_cell("effects", "effect_id", "Zzz-99"),
        "effects.csv:{row}:effect_id",
        "should start with",
    ),
    (
        "citation-key-missing",
        set_cell("studies", "citation_key", "NotInBib1999"),
        "studies.csv:{row}:citation_key",
        "not in references.bib",
    ),
    ("whitespace", set_cell("studies", "country", " USA"), "studies.csv:{row}:country", "whitespace"),
    (
        "screening-decision-vs-relevance",
        set_cell("screening", "decision", "adjacent", lambda r: r["decision"] == "included"),
        "screening.csv:{row}:decision",
        "disagrees with arm relevance",
    ),
    (
        "screening-without-reason",
        set_cell("screening", "reason", "", lambda r: r["decision"] == "excluded"),
        "screening.csv:{row}:reason",
        "needs a reason",
    ),
    (
        "screening-date-invalid",
        set_cell("searches", "date_searched", "27/11/2026"),
        "searches.csv:{row}:date_searched",
        "not a valid date",
    ),
    (
        "search-in-future",
        set_cell("searches", "date_searched", "2027-01-01"),
        "searches.csv:{row}:date_searched",
        "in the future",
    ),
    (
        "synthesis-outside-ci",
        set_cell("syntheses", "estimate", "0.9", lambda r: bool(r["estimate"])),
        "syntheses.csv:{row}:estimate",
        "outside its CI",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "prefix", "text"), [c[1:] for c in CELL_CASES], ids=[c[0] for c in CELL_CASES]
)
def test_cell_mutation_is_reported(data_copy: Path, mutate, prefix: str, text: str) -> None:
    row = mutate(data_copy)
    assert_problem(run(data_copy), prefix.format(row=row), text)


def test_missing_column(data_copy: Path) -> None:
    header, rows = read_rows(data_copy / "effects.csv")
    write_rows(data_copy / "effects.csv", [h for h in header if h != "quote"], rows)
    assert_problem(run(data_copy), "effects.csv:1:quote", "missing column")


def test_unknown_and_duplicate_column(data_copy: Path) -> None:
    path = data_copy / "studies.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[0] += ",comment,comment"
    lines[1:] = [line + ",," for line in lines[1:]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = run(data_copy)
    assert_problem(problems, "studies.csv:1:comment", "unknown column")
    assert_problem(problems, "studies.csv:1:comment", "duplicate column")


def test_ragged_row(data_copy: Path) -> None:
    path = data_copy / "studies.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] += ",surplus"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert_problem(run(data_copy), "studies.csv:3:-", "cells, header has")


def test_blank_row(data_copy: Path) -> None:
    path = data_copy / "searches.csv"
    path.write_text(path.read_text(encoding="utf-8") + ",,,,,\n", encoding="utf-8")
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert_problem(run(data_copy), f"searches.csv:{n}:-", "blank row")


def test_byte_order_mark(data_copy: Path) -> None:
    path = data_copy / "studies.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    assert_problem(run(data_copy), "studies.csv:1:-", "byte-order mark")


def test_not_utf8(data_copy: Path) -> None:
    path = data_copy / "effects.csv"
    lines = path.read_bytes().split(b"\n")
    lines[3] = lines[3].replace(b",", b",\xe9", 1)
    path.write_bytes(b"\n".join(lines))
    assert_problem(run(data_copy), "effects.csv:4:-", "not valid UTF-8")


def test_missing_file(data_copy: Path) -> None:
    (data_copy / "searches.csv").unlink()
    assert_problem(run(data_copy), "searches.csv:0:-", "file is missing")


def test_invalid_datapackage_json(data_copy: Path) -> None:
    (data_copy / "datapackage.json").write_text('{"resources": [', encoding="utf-8")
    assert_problem(run(data_copy), "datapackage.json:1:-", "invalid JSON")


def test_duplicate_id(data_copy: Path) -> None:
    def change(header: list[str], rows: list[dict[str, str]]) -> int:
        rows.append(dict(rows[0]))
        return len(rows) - 1

    row = edit(data_copy, "effects", change)
    assert_problem(run(data_copy), f"effects.csv:{row}:effect_id", "must be unique")


def test_study_without_effects(data_copy: Path) -> None:
    def change(header: list[str], rows: list[dict[str, str]]) -> int:
        new = dict(rows[0], study_id="Newstudy2024", citation_key=rows[0]["citation_key"])
        rows.append(new)
        return len(rows) - 1

    row = edit(data_copy, "studies", change)
    assert_problem(run(data_copy), f"studies.csv:{row}:study_id", "no row in effects.csv")


def test_screening_counts_disagree_with_studies(data_copy: Path) -> None:
    header, rows = read_rows(data_copy / "screening.csv")
    i = first(rows, lambda r: r["decision"] == "included")
    study = rows[i]["study_id"]
    del rows[i]
    write_rows(data_copy / "screening.csv", header, rows)
    _, studies = read_rows(data_copy / "studies.csv")
    row = first(studies, lambda r: r["study_id"] == study) + 2
    assert_problem(run(data_copy), f"studies.csv:{row}:study_id", "appears 0 times")


def test_effect_n_above_study_n(data_copy: Path) -> None:
    _, studies = read_rows(data_copy / "studies.csv")
    sized = {s["study_id"]: int(s["n_analysed"]) for s in studies if s["n_analysed"]}
    row = set_cell("effects", "n", "999999", lambda r: r["study_id"] in sized)(data_copy)
    assert_problem(run(data_copy), f"effects.csv:{row}:n", "exceeds the study's n_analysed")


def test_bibliography_duplicate_key(data_copy: Path) -> None:
    bib = data_copy.parent / "references.bib"
    text = bib.read_text(encoding="utf-8")
    first_entry = text[text.index("@") : text.index("\n}", text.index("@")) + 2]
    bib.write_text(text + "\n" + first_entry + "\n", encoding="utf-8")
    assert_problem(run(data_copy), "references.bib:", "duplicate entry key")


def test_problems_are_sorted_and_unique(data_copy: Path) -> None:
    set_cell("studies", "design", "")(data_copy)
    set_cell("effects", "outcome_domain", "mood")(data_copy)
    problems = validate_data(data_copy, today=TODAY).problems
    assert list(problems) == sorted(set(problems))


def test_cli_validate_exit_codes(data_copy: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "livingreview", "validate", str(data_copy)], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.strip().startswith("data valid:") and len(ok.stdout.strip().splitlines()) == 1
    set_cell("effects", "outcome_domain", "mood")(data_copy)
    bad = subprocess.run(
        [sys.executable, "-m", "livingreview", "validate", str(data_copy)], capture_output=True, text=True
    )
    assert bad.returncode == 1
    assert bad.stdout.splitlines()[0].startswith("effects.csv:")
    assert "Traceback" not in bad.stderr


def test_datapackage_declares_foreign_keys(root: Path) -> None:
    package = json.loads((root / "data" / "datapackage.json").read_text(encoding="utf-8"))
    effects = next(r for r in package["resources"] if r["name"] == "effects")
    assert effects["schema"]["foreignKeys"][0]["reference"]["resource"] == "studies"
