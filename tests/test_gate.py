"""One gate for every command: each input that used to pass `validate` and then crash (or be published
wrong) is now one ``file:row:column: message`` line and exit 1 — the cases of issue 11."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ROOT
from livingreview.checks.gate import check_project
from livingreview.data.cells import DataError
from livingreview.data.dataset import load_dataset
from livingreview.project.paths import Project
from scratch import current_version, next_version, read_table, release_date, write_table

NEXT = next_version(ROOT, "minor")  # the release the tests cut in a copy (whatever the shipped version)
TODAY = dt.date.today().isoformat()
PROBLEM_RE = re.compile(r"^(?P<file>[^:\s][^:]*):(?P<row>\d+):(?P<column>[^:]+): (?P<message>.+)$")


def set_cell(root: Path, table: str, column: str, value: str, where: Callable[[dict], bool] = bool) -> int:
    """Set one cell (first row matching ``where``); return its file row (header = 1)."""
    path = root / "data" / f"{table}.csv"
    header, rows = read_table(path)
    i = next(i for i, r in enumerate(rows) if where(r))
    rows[i][column] = value
    write_table(path, header, rows)
    return i + 2


def problems(root: Path) -> list[str]:
    return [str(p) for p in check_project(Project(root)).problems]


def assert_one(found: list[str], prefix: str, text: str) -> None:
    hits = [p for p in found if p.startswith(prefix)]
    assert hits and any(text in p for p in hits), (prefix, text, found)
    assert all(PROBLEM_RE.match(p) for p in found), found


def livingreview(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "livingreview", *args], cwd=root, capture_output=True, text=True, timeout=300
    )


def arm_a(root: Path) -> set[str]:
    _, studies = read_table(root / "data" / "studies.csv")
    return {s["study_id"] for s in studies if s["arm_relevance"] == "A"}


# --- numbers are plain ASCII decimals, for the validator and the loaders alike --------------------

NUMBER_CASES = [
    ("underscore", "studies", "n_analysed", "1_523", "not a valid integer"),
    ("full-width", "studies", "n_analysed", "１５２３", "not a valid integer"),
    ("superscript", "searches", "records_found", "²", "not a valid integer"),
    ("snan", "effects", "r", "sNaN", "not a valid number"),
    ("date-short", "searches", "date_searched", "2099-1-1", "not a valid date"),
    ("date-compact", "searches", "date_searched", "20261101", "not a valid date"),
    ("date-future", "searches", "date_searched", "2099-01-01", "is in the future"),
]


@pytest.mark.parametrize(
    ("table", "column", "value", "text"), [c[1:] for c in NUMBER_CASES], ids=[c[0] for c in NUMBER_CASES]
)
def test_cells_parsed_one_way(project_copy: Path, table: str, column: str, value: str, text: str) -> None:
    _, rows = read_table(project_copy / "data" / f"{table}.csv")
    filled = any(r[column] for r in rows)
    row = set_cell(project_copy, table, column, value, lambda r: bool(r[column]) or not filled)
    assert_one(problems(project_copy), f"{table}.csv:{row}:{column}:", text)
    if "future" in text:
        return  # a well-formed date: the loader reads it, the gate refuses it
    with pytest.raises(DataError, match=rf"^{table}\.csv:{row}:{column}: "):
        load_dataset(project_copy / "data")  # the loader refuses the same cell the same way


def test_correlation_of_one_is_rejected(project_copy: Path) -> None:
    studies = arm_a(project_copy)
    path = project_copy / "data" / "effects.csv"
    header, rows = read_table(path)
    hit = [i for i, r in enumerate(rows) if r["study_id"] in studies and r["r"]][:2]
    for i in hit:
        rows[i]["r"] = (
            "1.0"
            if rows[i]["direction"] == "positive" or rows[i]["outcome_higher_is_better"] == "yes"
            else "-1"
        )
    write_table(path, header, rows)
    found = problems(project_copy)
    for i in hit:
        assert_one(found, f"effects.csv:{i + 2}:r:", "exactly ±1")


def test_swapped_columns_are_read_by_name(project_copy: Path) -> None:
    path = project_copy / "data" / "effects.csv"
    header, rows = read_table(path)
    a, b = header.index("quote"), header.index("notes")
    header[a], header[b] = header[b], header[a]
    write_table(path, header, rows)
    assert problems(project_copy) == []  # the same data in another column order: valid, read by name
    assert load_dataset(project_copy / "data").effects["quote"].str.len().min() > 0
    rows[3]["quote"] = ""
    write_table(path, header, rows)
    assert_one(problems(project_copy), "effects.csv:5:quote:", "required value is empty")


def test_cell_over_the_csv_field_limit(project_copy: Path) -> None:
    row = set_cell(project_copy, "effects", "notes", "x" * 131_073)
    assert_one(problems(project_copy), f"effects.csv:{row}:notes:", "at most 131,072")


@pytest.mark.parametrize(
    "char", ["\u2028", "\f", "\x85", "\u2029"], ids=["U+2028", "form-feed", "NEL", "U+2029"]
)
def test_line_separators_inside_a_cell_stay_in_the_cell(project_copy: Path, char: str) -> None:
    set_cell(project_copy, "effects", "notes", f"before{char}after")
    assert problems(project_copy) == []
    effects = load_dataset(project_copy / "data").effects
    _, rows = read_table(project_copy / "data" / "effects.csv")
    assert len(effects) == len(rows) and (effects["notes"] == f"before{char}after").sum() == 1


# --- files that could not be read -----------------------------------------------------------------


def test_bibliography_not_utf8(project_copy: Path) -> None:
    bib = project_copy / "references.bib"
    bib.write_bytes(bib.read_bytes().replace(b"a", b"\xe4", 1))
    assert_one(problems(project_copy), "references.bib:", "not valid UTF-8")


def test_datapackage_utf16(project_copy: Path) -> None:
    path = project_copy / "data" / "datapackage.json"
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))
    assert_one(problems(project_copy), "datapackage.json:1:-:", "not valid UTF-8")


def test_datapackage_not_json(project_copy: Path) -> None:
    path = project_copy / "data" / "datapackage.json"
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: len(text) // 2], encoding="utf-8")  # cut short, as by an interrupted copy
    assert_one(problems(project_copy), "datapackage.json:", "invalid JSON")


def _package(root: Path) -> dict:
    return json.loads((root / "data" / "datapackage.json").read_text(encoding="utf-8"))


def _save(root: Path, package: object) -> None:
    (root / "data" / "datapackage.json").write_text(json.dumps(package), encoding="utf-8")


def _drop_effects(p: dict) -> dict:
    p["resources"] = [r for r in p["resources"] if r["name"] != "effects"]
    return p


def _field_type(p: dict) -> dict:
    p["resources"][0]["schema"]["fields"][2]["type"] = "float"
    return p


def _no_schema(p: dict) -> dict:
    del p["resources"][1]["schema"]
    return p


def _path_escape(p: dict) -> dict:
    p["resources"][4]["path"] = "../CITATION.cff"
    return p


def _drop_field(p: dict) -> dict:
    fields = p["resources"][1]["schema"]["fields"]
    p["resources"][1]["schema"]["fields"] = [f for f in fields if f["name"] != "direction"]
    return p


STRUCTURE_CASES = [
    ("effects-resource-deleted", _drop_effects, "resource 'effects' is missing"),
    ("unknown-type", _field_type, "unknown type 'float'"),
    ("schema-missing", _no_schema, "needs a schema"),
    ("path-outside-data", _path_escape, "CSV file name inside data/"),
    ("core-field-dropped", _drop_field, "effects.direction is missing"),
    ("resources-not-a-list", lambda p: {"resources": {"a": 1}}, "'resources' must be a list"),
    ("not-an-object", lambda p: [p], "must be a JSON object"),
]


@pytest.mark.parametrize(
    ("change", "text"), [c[1:] for c in STRUCTURE_CASES], ids=[c[0] for c in STRUCTURE_CASES]
)
def test_datapackage_structure(project_copy: Path, change: Callable[[dict], object], text: str) -> None:
    _save(project_copy, change(_package(project_copy)))
    assert_one(problems(project_copy), "datapackage.json:0:", text)


# --- review metadata and policy ----------------------------------------------------------------


META_CASES = [
    (
        "cff-yaml",
        "CITATION.cff",
        lambda t: t.replace("title:", "title: [", 1),
        "CITATION.cff:",
        "invalid YAML",
    ),
    (
        "cff-no-version",
        "CITATION.cff",
        lambda t: re.sub(r"(?m)^version:.*\n", "", t),
        "CITATION.cff:0:version:",
        "X.Y.Z",
    ),
    (
        "cff-version-number",
        "CITATION.cff",
        lambda t: re.sub(r"(?m)^version:.*$", "version: 1.0", t),
        "CITATION.cff:",
        "X.Y.Z",
    ),
    ("cff-list", "CITATION.cff", lambda t: "- a\n- b\n", "CITATION.cff:1:-:", "mapping"),
    (
        "cff-future",
        "CITATION.cff",
        lambda t: re.sub(r"(?m)^date-released:.*$", 'date-released: "2099-12-31"', t),
        "CITATION.cff:",
        "in the future",
    ),
    ("policy-yaml", "living.yml", lambda t: t + "\ntriggers: [unclosed\n", "living.yml:", "invalid YAML"),
    (
        "policy-triggers",
        "living.yml",
        lambda t: re.sub(r"(?ms)^triggers:.*?(?=^stop_conditions)", "triggers: 3\n", t),
        "living.yml:",
        "list of one-line texts",
    ),
    (
        "policy-stop-date",
        "living.yml",
        lambda t: re.sub(r"(?m)^stop_no_later_than:.*$", "stop_no_later_than: soon", t),
        "living.yml:",
        "YYYY-MM-DD",
    ),
]


@pytest.mark.parametrize(
    ("name", "change", "prefix", "text"), [c[1:] for c in META_CASES], ids=[c[0] for c in META_CASES]
)
def test_metadata_files(
    project_copy: Path, name: str, change: Callable[[str], str], prefix: str, text: str
) -> None:
    path = project_copy / name
    path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")
    assert_one(problems(project_copy), prefix, text)


@pytest.mark.parametrize("name", ["CITATION.cff", "living.yml"])
def test_metadata_file_missing(project_copy: Path, name: str) -> None:
    """As a release killed between its renames used to leave CITATION.cff: one line, exit 1."""
    (project_copy / name).unlink()
    assert_one(problems(project_copy), f"{name}:0:-:", "file is missing")
    done = livingreview(project_copy, "whats-new")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"{name}:0:-: file is missing" in done.stdout.splitlines() + done.stderr.splitlines()


# --- release snapshots carry a checksum manifest ------------------------------------------------

SNAP = "releases/v0.1.0"


def _delete_snapshot(root: Path) -> None:
    shutil.rmtree(root / SNAP)


def _replace_snapshot(root: Path) -> None:
    from livingreview.project.manifest import write_manifest

    set_cell(root, "studies", "notes", "edited")
    shutil.rmtree(root / SNAP / "data")
    shutil.copytree(root / "data", root / SNAP / "data")
    write_manifest(root / SNAP)


def _edit_snapshot(root: Path) -> None:
    path = root / SNAP / "data" / "studies.csv"
    path.write_bytes(path.read_bytes().replace(b"not reported", b"Not reported", 1))


SNAPSHOT_CASES = [
    ("deleted", _delete_snapshot, f"{SNAP}:0:-:", "CHANGELOG.md line"),
    ("replaced", _replace_snapshot, f"{SNAP}/SHA256SUMS:0:-:", "replaced after the release"),
    ("hand-edited", _edit_snapshot, f"{SNAP}/data/studies.csv:0:-:", "changed after the release"),
    (
        "file-missing",
        lambda r: (r / SNAP / "data" / "effects.csv").unlink(),
        f"{SNAP}/data/effects.csv:0:-:",
        "missing",
    ),
    (
        "file-corrupt",
        lambda r: (r / SNAP / "data" / "datapackage.json").write_bytes(b"\xff\xfe{"),
        f"{SNAP}/data/datapackage.json:",
        "changed after",
    ),
    ("manifest-missing", lambda r: (r / SNAP / "SHA256SUMS").unlink(), f"{SNAP}/SHA256SUMS:0:-:", "missing"),
    (
        "file-added",
        lambda r: (r / SNAP / "data" / "extra.csv").write_text("a\n"),
        f"{SNAP}/data/extra.csv:0:-:",
        "not part of",
    ),
]


@pytest.mark.parametrize(
    ("change", "prefix", "text"), [c[1:] for c in SNAPSHOT_CASES], ids=[c[0] for c in SNAPSHOT_CASES]
)
def test_snapshot_manifest(
    project_copy: Path, change: Callable[[Path], object], prefix: str, text: str
) -> None:
    change(project_copy)
    assert_one(problems(project_copy), prefix, text)


def test_shipped_snapshot_verifies_with_sha256sum(root: Path) -> None:
    if shutil.which("sha256sum") is None:
        pytest.skip("sha256sum not installed")
    done = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=root / SNAP, capture_output=True)
    assert done.returncode == 0, done.stdout + done.stderr


# --- every command stops at the gate with one line per problem and exit 1 ---------------------------


@pytest.mark.parametrize(
    "command", [["validate"], ["whats-new"], ["execute"], ["build", "--preview"], ["release", NEXT]]
)
def test_commands_stop_at_the_gate(project_copy: Path, command: list[str]) -> None:
    row = set_cell(project_copy, "studies", "n_analysed", "1_523", lambda r: bool(r["n_analysed"]))
    _edit_snapshot(project_copy)
    done = livingreview(project_copy, *command)
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout + done.stderr
    assert "Traceback" not in out
    lines = out.splitlines()
    assert (
        any(line.startswith(f"studies.csv:{row}:n_analysed: ") for line in lines) or command[0] == "release"
    )
    assert any(line.startswith(f"{SNAP}/data/studies.csv:0:-:") for line in lines) or command[0] == "release"
    if command[0] == "release":
        assert len(lines) == 1 and "release refused" in lines[0]


def test_meta_duplicated_header(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("yi,vi,yi\n0.1,0.01,0.2\n0.3,0.02,0.1\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "livingreview", "meta", str(path), "--json"], capture_output=True, text=True
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.strip() == f"{path}:1:yi: duplicate column name in the header"


# --- release rules ----------------------------------------------------------------------------------


def _add_search(root: Path) -> None:
    path = root / "data" / "searches.csv"
    header, rows = read_table(path)
    new = dict(rows[-1], search_id="S-test-new", date_searched="2026-11-28", records_found="")
    write_table(path, header, [*rows, new])


@pytest.mark.parametrize(
    ("date", "text"),
    [
        ("2099-12-31", "is in the future"),
        ("2026-11-01", "before the previous release"),
        ("2026-11-2", "not a date of the form YYYY-MM-DD"),
        ("20261128", "not a date of the form YYYY-MM-DD"),
    ],
    ids=["future", "before-previous", "short", "compact"],
)
def test_release_date_rules(project_copy: Path, date: str, text: str) -> None:
    from livingreview.releases.release import ReleaseError, plan_release

    _add_search(project_copy)
    with pytest.raises(ReleaseError, match=text):
        plan_release(Project(project_copy), NEXT, date=date)


def test_trigger_cannot_forge_a_changelog_heading_and_empty_patch_is_refused(project_copy: Path) -> None:
    from livingreview.releases.release import (
        CHANGELOG,
        ReleaseError,
        changelog_versions,
        plan_release,
        write_release,
    )

    set_cell(project_copy, "studies", "notes", "a corrected note")
    project = Project(project_copy)
    forged = "typo fixed\n\n## 9.9.9 — 2026-01-01\n\n# Injected chapter {#sec-x}"
    patch = next_version(ROOT, "patch")  # a corrected note is a PATCH
    plan = plan_release(project, patch, trigger=forged, date=TODAY)
    assert "\n" not in plan.trigger
    write_release(project, plan)
    text = (project_copy / CHANGELOG).read_text(encoding="utf-8")
    assert changelog_versions(text)[:2] == [(patch, TODAY), (current_version(ROOT), release_date(ROOT))]
    this_entry = text.split(f"## {patch}", 1)[1].split(f"## {current_version(ROOT)}", 1)[0]
    assert not re.search(r"(?m)^#", this_entry)
    assert problems(project_copy) == []  # the new snapshot carries its manifest, recorded in the changelog
    assert "Snapshot checksum" in this_entry
    with pytest.raises(ReleaseError, match=f"nothing changed since v{patch}"):
        plan_release(project, next_version(project_copy, "patch"), date=TODAY)
