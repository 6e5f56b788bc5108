"""Living releases: one source of truth for the version, `release`, `whats-new`, conclusion changes."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from livingreview.paths import Project
from livingreview.release import (
    ReleaseError,
    bump_level,
    changelog_versions,
    plan_release,
    read_cff,
    set_cff_fields,
    version_problems,
    zenodo_metadata,
)
from livingreview.versions import (
    Headline,
    conclusion_changes,
    cumulative,
    parse_version,
    released_versions,
    whats_new,
)
from test_build import add_study, livingreview

DATE = "2026-12-15"


def tree_digest(root: Path) -> dict[str, str]:
    """Every file of the project (but caches) with its hash: 'nothing written' means this is unchanged."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def edit_cell(path: Path, key: str, ident: str, column: str, value: str) -> None:
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
        header = list(rows[0].keys())
    for row in rows:
        if row[key] == ident:
            row[column] = value
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def at_last_release(root: Path) -> Path:
    """Put the data of the newest release back into a scratch copy: a state with no unreleased changes.

    Between releases the shipped data carry unreleased changes (they are what the next release will
    contain), so tests of what a correction or a new study calls for start from the released data.
    """
    version = released_versions(root / "releases")[-1]
    snap = root / "releases" / f"v{version}"
    for path in (snap / "data").iterdir():
        shutil.copy(path, root / "data" / path.name)
    for path in (root / "data").iterdir():
        if not (snap / "data" / path.name).exists():
            path.unlink()
    shutil.copy(snap / "references.bib", root / "references.bib")
    return root


# --- the shipped repository --------------------------------------------------------------------


def test_every_version_string_agrees(root: Path) -> None:
    assert version_problems(Project(root)) == []


def test_shipped_repository_is_its_newest_release_or_says_what_is_unreleased(root: Path) -> None:
    project = Project(root)
    version = str(read_cff(project.citation_cff)["version"])
    assert released_versions(root / "releases")[-1] == version
    snap = root / "releases" / f"v{version}"
    names = ("studies.csv", "effects.csv", "searches.csv", "screening.csv", "datapackage.json")
    same = all((snap / "data" / n).read_bytes() == (root / "data" / n).read_bytes() for n in names)
    after = whats_new(project, version).after
    assert after == (version if same else f"{version} + unreleased changes")
    record = json.loads((snap / "whats-new.json").read_text(encoding="utf-8"))
    assert record["release"]["version"] == version
    assert changelog_versions((root / "CHANGELOG.md").read_text(encoding="utf-8"))[0][0] == version


def test_title_page_and_footer_show_version_and_search_date_from_vars(root: Path) -> None:
    footer = yaml.safe_load((root / "_quarto.yml").read_text(encoding="utf-8"))["book"]["page-footer"]
    line = (
        "Living review · version {{< var review.version >}} · "
        "literature searched up to {{< var review.last_searched >}}"
    )
    assert line in str(footer)
    index = (root / "index.qmd").read_text(encoding="utf-8")
    assert line in index
    for key in ("versions.conclusion_flag", "review.citation", "review.previous_citation"):
        assert "{{< var " + key + " >}}" in index, key


def test_zenodo_json_is_generated_from_citation_cff(root: Path) -> None:
    cff = read_cff(root / "CITATION.cff")
    zenodo = json.loads((root / ".zenodo.json").read_text(encoding="utf-8"))
    assert zenodo["version"] == str(cff["version"])
    assert zenodo["creators"] == [{"name": a["name"]} for a in cff["authors"]]


def test_living_policy_reaches_the_variables(root: Path) -> None:
    variables = yaml.safe_load((root / "_variables.yml").read_text(encoding="utf-8"))
    living = variables["living"]
    policy = yaml.safe_load((root / "living.yml").read_text(encoding="utf-8"))
    assert living["stop_no_later_than"] == policy["stop_no_later_than"]
    assert str(policy["search_interval_months"]) in living["search_frequency"]
    assert living["next_search_due"] > variables["review"]["last_searched"]
    methods = (root / "chapters" / "methods.qmd").read_text(encoding="utf-8")
    for key in ("search_frequency", "next_search_due", "triggers", "stop_conditions", "stop_no_later_than"):
        assert "{{< var living." + key + " >}}" in methods, key


# --- units ---------------------------------------------------------------------------------------


def test_versions_and_bumps() -> None:
    assert parse_version("v1.2.3") == (1, 2, 3)
    with pytest.raises(ValueError):
        parse_version("1.2")
    assert bump_level((0, 1, 0), (1, 0, 0)) == "major"
    assert bump_level((0, 1, 0), (0, 2, 0)) == "minor"
    assert bump_level((0, 1, 0), (0, 1, 1)) == "patch"
    assert bump_level((0, 1, 0), (0, 3, 0)) is None
    assert bump_level((0, 1, 2), (0, 2, 1)) is None


def test_set_cff_fields_keeps_the_rest() -> None:
    text = 'cff-version: 1.2.0\n# comment\nversion: 0.1.0\ndate-released: "2026-01-01"\ntitle: T\n'
    out = set_cff_fields(text, "0.2.0", "2026-02-01")
    assert out == 'cff-version: 1.2.0\n# comment\nversion: 0.2.0\ndate-released: "2026-02-01"\ntitle: T\n'


def test_zenodo_creators_from_person_authors() -> None:
    cff = {
        "title": "T",
        "version": "1.0.0",
        "date-released": "2026-01-01",
        "authors": [{"family-names": "Doe", "given-names": "Jane", "orcid": "https://orcid.org/0000-0001"}],
    }
    meta = zenodo_metadata(cff, "2025-12-01")
    assert meta["creators"] == [{"name": "Doe, Jane", "orcid": "0000-0001"}]
    assert "2025-12-01" in meta["notes"]


def h(domain: str, pos: int, null: int, neg: int, p: float | None) -> Headline:
    return Headline(domain, pos + null + neg, pos, null, neg, 0, p)


def test_conclusion_change_check() -> None:
    before = [h("symptoms", 6, 3, 0, 0.031), h("adherence", 1, 0, 0, 1.0)]
    assert conclusion_changes(before, before) == []
    lost = [h("symptoms", 6, 3, 3, 0.51), h("adherence", 1, 0, 0, 1.0)]
    assert conclusion_changes(before, lost) == [
        "for symptoms, the result is no longer statistically significant "
        "(sign test p 0.031 before, 0.510 now)"
    ]
    flipped = [h("symptoms", 6, 3, 0, 0.031), h("adherence", 1, 0, 2, 1.0)]
    assert conclusion_changes(before, flipped) == [
        "for adherence, the direction of the evidence changed from positive to negative"
    ]
    assert conclusion_changes(before, before, {"symptoms": "low"}, {"symptoms": "moderate"}) == [
        "for symptoms, the certainty of the evidence changed from low to moderate"
    ]


# --- the author's workflow on a scratch copy -----------------------------------------------------


def test_release_0_2_0_after_adding_a_study(project_copy: Path) -> None:
    at_last_release(project_copy)
    add_study(project_copy)
    before = tree_digest(project_copy)

    refused = livingreview(project_copy, "release", "0.1.1", "--date", DATE)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert "PATCH" in refused.stderr and "MINOR" in refused.stderr and "Newauthor2026" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert tree_digest(project_copy) == before, "a refused release wrote something"

    for args in (["0.1.0"], ["0.3.0"], ["1.0.0"], ["0.2.0", "--protocol-change"], ["0.2"]):
        done = livingreview(project_copy, "release", *args, "--date", DATE)
        assert done.returncode == 1 and "nothing was written" in done.stderr, args
    assert tree_digest(project_copy) == before

    done = livingreview(project_copy, "release", "0.2.0", "--date", DATE, "--trigger", "scheduled search")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "livingreview build" in done.stdout and "git tag v0.2.0" in done.stdout
    snap = project_copy / "releases" / "v0.2.0"
    assert (snap / "data" / "studies.csv").read_bytes() == (
        project_copy / "data" / "studies.csv"
    ).read_bytes()
    assert (snap / "references.bib").is_file()
    assert not list(project_copy.glob(".*release-*")) and not list((project_copy / "releases").glob(".*"))

    record = json.loads((snap / "whats-new.json").read_text(encoding="utf-8"))
    assert record["release"] | {"reasons": None} == {
        "version": "0.2.0",
        "date": DATE,
        "previous": "0.1.0",
        "type": "minor",
        "trigger": "scheduled search",
        "reasons": None,
        "last_searched": record["release"]["last_searched"],
    }
    assert record["tables"]["studies"]["added"] == ["Newauthor2026"]
    assert record["tables"]["effects"]["added"] == ["Newauthor2026-1"]

    changelog = (project_copy / "CHANGELOG.md").read_text(encoding="utf-8")
    assert changelog_versions(changelog) == [("0.2.0", DATE), ("0.1.0", "2026-11-27")]
    assert "Studies added: Newauthor2026" in changelog

    cff = read_cff(project_copy / "CITATION.cff")
    assert (cff["version"], str(cff["date-released"])) == ("0.2.0", DATE)
    assert version_problems(Project(project_copy)) == []
    variables = yaml.safe_load((project_copy / "_variables.yml").read_text(encoding="utf-8"))
    assert variables["review"]["previous_version"] == "0.1.0"
    assert "version 0.1.0, released 2026-11-27" in variables["review"]["previous_citation"]
    assert variables["versions"]["trigger"] == "scheduled search"
    assert variables["versions"]["released"] == "0.1.0, 0.2.0"

    report = livingreview(project_copy, "whats-new")
    assert report.returncode == 0, report.stderr
    assert "compared with 0.1.0" in report.stdout and "Studies added: Newauthor2026" in report.stdout
    as_json = json.loads(livingreview(project_copy, "whats-new", "--since", "v0.1.0", "--json").stdout)
    assert as_json["tables"]["studies"]["added"] == ["Newauthor2026"]
    adherence = [x for x in as_json["headline"]["after"] if x["domain"] == "adherence"][0]
    assert adherence["positive"] == 2

    frame = cumulative(Project(project_copy), "0.2.0")
    assert list(dict.fromkeys(frame["version"])) == ["0.1.0", "0.2.0"]
    counts = frame[frame["domain"] == "adherence"].set_index("version")["positive"].to_dict()
    assert counts == {"0.1.0": 1, "0.2.0": 2}


def test_a_correction_is_a_patch_and_is_listed_with_its_columns(project_copy: Path) -> None:
    at_last_release(project_copy)
    edit_cell(project_copy / "data" / "studies.csv", "study_id", "Krupnick1996", "notes", "corrected note")
    project = Project(project_copy)
    with pytest.raises(ReleaseError, match="MINOR release contradicts"):
        plan_release(project, "0.2.0", date=DATE)
    plan = plan_release(project, "0.1.1", date=DATE)
    assert plan.level == "patch"
    c = whats_new(project, "0.1.0")
    assert c.tables["studies"].changed == {"Krupnick1996": ["notes"]}
    assert c.after == "0.1.0 + unreleased changes"


def test_a_changed_conclusion_demands_a_minor_release(project_copy: Path) -> None:
    at_last_release(project_copy)
    # Turning the positive arm-A symptom studies to null removes the significant sign test.
    path = project_copy / "data" / "effects.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    studies = {r["study_id"]: r for r in csv.DictReader((project_copy / "data" / "studies.csv").open())}
    for row in rows:
        if studies[row["study_id"]]["arm_relevance"] == "A" and row["direction"] == "positive":
            edit_cell(path, "effect_id", row["effect_id"], "direction", "null")
            edit_cell(path, "effect_id", row["effect_id"], "significant", "no")
    project = Project(project_copy)
    c = whats_new(project, "0.1.0")
    assert any("symptoms" in clause for clause in c.conclusions)
    with pytest.raises(ReleaseError, match="a conclusion changed"):
        plan_release(project, "0.1.1", date=DATE)
    assert plan_release(project, "0.2.0", date=DATE).level == "minor"


def test_a_schema_change_demands_a_major_release(project_copy: Path) -> None:
    at_last_release(project_copy)
    path = project_copy / "data" / "datapackage.json"
    package = json.loads(path.read_text(encoding="utf-8"))
    for resource in package["resources"]:
        for f in resource["schema"]["fields"]:
            enum = f.get("constraints", {}).get("enum")
            if resource["name"] == "effects" and f["name"] == "outcome_domain" and enum:
                enum.append("quality_of_life")
    path.write_text(json.dumps(package, indent=2), encoding="utf-8")
    project = Project(project_copy)
    with pytest.raises(ReleaseError, match="outcome_domain allowed values changed"):
        plan_release(project, "0.1.1", date=DATE)
    assert plan_release(project, "1.0.0", date=DATE).level == "major"


def test_invalid_data_refuse_a_release(project_copy: Path) -> None:
    path = project_copy / "data" / "effects.csv"
    text = path.read_text(encoding="utf-8").replace(",symptoms,", ",mood,", 1)
    path.write_text(text, encoding="utf-8")
    before = tree_digest(project_copy)
    done = livingreview(project_copy, "release", "0.1.1", "--date", DATE)
    assert done.returncode == 1 and "data invalid" in done.stderr
    assert tree_digest(project_copy) == before


def test_first_release_says_there_is_no_previous_version(project_copy: Path) -> None:
    import shutil

    shutil.rmtree(project_copy / "releases")
    c = whats_new(Project(project_copy), "0.1.0")
    assert c.first and "first version" in c.report()
