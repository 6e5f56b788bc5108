"""Classification, direction, address and wording rules: each mutated row is rejected with file:row:column."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from livingreview.checks.rules import is_mirror
from livingreview.checks.validate import validate_data

TODAY = dt.date(2026, 11, 30)
Row = dict[str, str]


def _rows(path: Path) -> tuple[list[str], list[Row]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def mutate(data: Path, table: str, where: Callable[[Row], bool], **values: str) -> int:
    """Set ``values`` in the first row of ``table`` matching ``where``; return its file row (header = 1)."""
    path = data / f"{table}.csv"
    header, rows = _rows(path)
    i = next(i for i, r in enumerate(rows) if where(r))
    rows[i].update(values)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return i + 2


def problems(data: Path) -> list[str]:
    return [str(p) for p in validate_data(data, today=TODAY).problems]


def expect(data: Path, prefix: str, text: str) -> None:
    found = problems(data)
    assert any(p.startswith(prefix) and text in p for p in found), (prefix, text, found)


def eid(name: str) -> Callable[[Row], bool]:
    return lambda r: r.get("effect_id") == name


# (id, table, row selector, new values, column reported, message part)
CASES = [
    # C1: A-C need a measured alliance (Michel2023 is an intervention on the relationship)
    ("intervention-as-A", "effects", eid("Michel2023-3"), {"arm_relevance": "A"}, "arm_relevance", "C1:"),
    # C1: information provision is a related construct (Read2015-3)
    ("information-as-A", "effects", eid("Read2015-3"), {"arm_relevance": "A"}, "arm_relevance", "C1:"),
    # C2: pooled across psychotherapy and medication arms is B whatever the study's other rows are
    ("pooled-as-A", "effects", eid("Krupnick1996-2"), {"arm_relevance": "A"}, "arm_relevance", "C2:"),
    # C3: a psychotherapist alliance arm cannot be A
    ("psychotherapy-arm-as-A", "effects", eid("Arnow2013-1"), {"arm_relevance": "A"}, "arm", "C3:"),
    # C4: an adjacent population is D
    ("bipolar-as-A", "effects", eid("Zeber2008-1"), {"arm_relevance": "A"}, "arm_relevance", "C4:"),
    # D0: the v0.1.0 'null' code is not used in data that record provenance
    ("null-direction", "effects", eid("Strunk2010-1"), {"direction": "null"}, "direction", "D0:"),
    # D1: not_reported direction with a provenance, and a direction without one
    (
        "direction-without-source",
        "effects",
        eid("Leuchter2014-1"),
        {"direction_source": "none"},
        "direction_source",
        "D1:",
    ),
    (
        "source-without-direction",
        "effects",
        eid("Strunk2010-1"),
        {"direction_source": "inferred"},
        "direction_source",
        "D1:",
    ),
    # D2: an inferred direction needs its reason
    (
        "inferred-without-reason",
        "effects",
        eid("Weiss1997-1"),
        {"direction_reason": ""},
        "direction_reason",
        "D2:",
    ),
    # D3: an R² (or a bare p-value) cannot carry a printed sign
    (
        "r2-as-printed-sign",
        "effects",
        eid("Weiss1997-1"),
        {"direction_source": "printed_statistic"},
        "direction_source",
        "D3:",
    ),
    # U1: a mirror copy as the source link
    (
        "mirror-as-source",
        "effects",
        eid("Arnow2013-1"),
        {"source_url": "https://it.scribd.com/document/241734548/ccp-a0031530-pdf"},
        "source_url",
        "U1:",
    ),
    (
        "bare-ip-as-source",
        "studies",
        lambda r: r["study_id"] == "Krupnick1996",
        {"source_url": "http://47.251.13.51:8081/8698947"},
        "source_url",
        "U1:",
    ),
    # W1: working-note names in reader-facing columns
    (
        "note-name-in-medication",
        "studies",
        lambda r: r["study_id"] == "Klein2003",
        {"medication": "nefazodone per literature-notes-2.md"},
        "medication",
        "W1:",
    ),
    (
        "note-phrase-in-reason",
        "screening",
        lambda r: r["decision"] == "excluded",
        {"reason": "not specified in the notes"},
        "reason",
        "W1:",
    ),
]


@pytest.mark.parametrize(
    ("table", "where", "values", "column", "text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_rule_rejects_mutated_row(
    data_copy: Path, table: str, where, values: Row, column: str, text: str
) -> None:
    row = mutate(data_copy, table, where, **values)
    expect(data_copy, f"{table}.csv:{row}:{column}:", text)


def test_study_relevance_must_be_the_best_of_its_associations(data_copy: Path) -> None:
    # C5: Michel2023 has only D rows; calling the study A again is rejected on its studies.csv row.
    row = mutate(data_copy, "studies", lambda r: r["study_id"] == "Michel2023", arm_relevance="A")
    expect(data_copy, f"studies.csv:{row}:arm_relevance:", "C5:")


def test_shipped_data_follow_every_rule(root: Path) -> None:
    assert [p for p in problems(root / "data") if ": C" in p or ": D" in p or ": U" in p or ": W" in p] == []


def test_mirror_detection() -> None:
    assert is_mirror("https://docksci.com/x.html")
    assert is_mirror("http://47.251.13.51:8081/8698947")
    assert not is_mirror("https://pubmed.ncbi.nlm.nih.gov/8698947/")
    assert not is_mirror("https://doi.org/10.1037/cou0000106")
