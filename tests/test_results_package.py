"""The results data package: valid Frictionless, the same numbers as _variables.yml, snapshotted by
``release`` and compared by ``whats-new``."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from frictionless import validate
from livingreview.book.variables import compute_project_variables, flatten
from livingreview.project.paths import Project
from livingreview.versions.results import (
    CATALOGUE,
    diff_results,
    project_results,
    results_report,
    write_results,
)
from scratch import add_study


def rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {r["result_id"]: r for r in csv.DictReader(fh)}


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "livingreview", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_shipped_results_package_is_valid_and_current(root: Path) -> None:
    report = validate(str(root / "results" / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    variables = compute_project_variables(Project(root))
    expected = project_results(root, variables)
    for name, text in expected.items():
        assert (root / "results" / name).read_text(encoding="utf-8") == text, f"results/{name} is stale"


def test_every_catalogued_number_equals_its_variable(root: Path) -> None:
    flat = flatten(yaml.safe_load((root / "_variables.yml").read_text(encoding="utf-8")))
    results = rows(root / "results" / "results.csv")
    catalogued = [key for key, *_ in CATALOGUE]
    assert all(key in results for key in catalogued)
    for key in catalogued:
        assert results[key]["value"] == flat[key], key
    for domain in ("symptoms", "adherence", "retention", "satisfaction"):
        for part in ("n_studies", "positive", "null", "negative", "mixed"):
            key = f"synthesis.{domain}.{part}"
            assert results[key]["value"] == flat[key], key
        assert results[f"grade.{domain}"]["value"] == flat[f"reporting.grade.{domain}"]
        p = results[f"synthesis.{domain}.sign_p"]["value"]
        shown = flat[f"synthesis.{domain}.sign_p"]
        if p:  # the package keeps four decimals where the prose shows three
            assert shown == ("<0.001" if float(p) < 0.001 else f"{float(p):.3f}")
        else:
            assert shown == "not estimable"
    assert {r["group"] for r in results.values()} >= {"studies", "synthesis", "grade", "prisma", "search"}
    context = results["context.pharm_r"]
    assert float(context["ci_lb"]) < float(context["value"]) < float(context["ci_ub"])
    versions = {r["version"] for r in results.values()}
    assert versions == {flat["versions.current"]}


def test_release_snapshots_results_and_whats_new_compares_them(project_copy: Path) -> None:
    add_study(project_copy)  # something to release, whatever the shipped state
    done = cli(project_copy, "release", "1.0.0", "--protocol-change")  # dated today
    assert done.returncode == 0, done.stderr
    snap = project_copy / "releases" / "v1.0.0" / "results"
    assert (snap / "results.csv").read_bytes() == (project_copy / "results" / "results.csv").read_bytes()
    assert validate(str(snap / "datapackage.json")).valid
    assert {r["version"] for r in rows(snap / "results.csv").values()} == {"1.0.0"}
    assert json.loads((snap / "datapackage.json").read_text(encoding="utf-8"))["version"] == "1.0.0"

    # A record screened after the release changes the PRISMA counts of the next version's results
    screening = project_copy / "data" / "screening.csv"
    with screening.open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    record = {
        "record_id": "Doe2027",
        "citation": "Doe J. A later record. J 2027",
        "decision": "excluded",
        "reason": "Outcome not eligible or not measured",
        "notes_file": "literature-notes.md",
        "full_text_retrieved": "no",
    }
    with screening.open("a", encoding="utf-8", newline="") as fh:
        csv.DictWriter(fh, header, lineterminator="\n").writerow(record)
    project = Project(project_copy)
    write_results(project_copy / "results", project_results(project_copy, compute_project_variables(project)))
    changed = {c["result_id"]: c for c in diff_results(project_copy / "releases" / "v1.0.0", project_copy)}
    assert (
        changed["reporting.prisma.records_screened"]["after"]
        != changed["reporting.prisma.records_screened"]["before"]
    )
    shown = cli(project_copy, "whats-new", "--json")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert any(c["result_id"] == "reporting.prisma.excluded" for c in record["results_changed"])
    text = cli(project_copy, "whats-new").stdout
    assert "Results data package (results/) compared with version 1.0.0" in text
    assert "reporting.prisma.excluded: " in text


def test_results_report_says_when_an_old_version_has_no_package() -> None:
    missing = [{"result_id": "a", "before": "not reported", "after": "1"}]
    assert "predates results as data" in results_report("0.1.0", missing)
    assert results_report("0.1.0", []).endswith("no result changed\n")
    assert results_report(None, missing) == ""


@pytest.mark.parametrize(
    ("column", "bad"), [(0, ""), (0, None), (4, "wide")], ids=["empty-id", "duplicate-id", "ci-not-a-number"]
)
def test_the_package_rejects_a_broken_row(tmp_path: Path, root: Path, column: int, bad: str | None) -> None:
    target = tmp_path / "results"
    target.mkdir()
    (target / "datapackage.json").write_bytes((root / "results" / "datapackage.json").read_bytes())
    text = (root / "results" / "results.csv").read_text(encoding="utf-8").splitlines()
    first = next(csv.reader([text[1]]))
    if bad is not None:  # None: the row stays as it is and is added twice (a duplicate result_id)
        first[column] = bad
    broken = [text[0], ",".join(f'"{c}"' for c in first), *text[1:]]
    (target / "results.csv").write_text("\n".join(broken) + "\n", encoding="utf-8")
    assert not validate(str(target / "datapackage.json")).valid
