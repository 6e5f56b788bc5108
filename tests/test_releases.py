"""Living releases: one source of truth for the version, `release`, `whats-new`, conclusion changes."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml
from livingreview.project.paths import Project
from livingreview.releases.release import (
    ReleaseError,
    bump_level,
    changelog_versions,
    plan_release,
    read_cff,
    set_cff_fields,
    version_problems,
    zenodo_metadata,
)
from livingreview.versions.compare import (
    Headline,
    certainty,
    conclusion_changes,
    conclusion_flag,
    cumulative,
    parse_version,
    released_versions,
    significance_basis,
    whats_new,
    whats_new_rows,
    whats_new_text,
)
from scratch import add_study, current_version, later_date, livingreview, next_version, release_date


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


# --- the shipped repository --------------------------------------------------------------------


def test_every_version_string_agrees(root: Path) -> None:
    assert version_problems(Project(root)) == []


def at_last_release(root: Path) -> Path:
    """Put the data of the newest release back into a scratch copy: no unreleased data changes.

    Between releases the shipped data carry unreleased changes (what the next release will contain),
    so tests of what a single correction or a new study calls for start from the released data.
    """
    version = released_versions(root / "releases")[-1]
    snap = root / "releases" / f"v{version}"
    for path in (snap / "data").iterdir():
        shutil.copy(path, root / "data" / path.name)
    for path in (root / "data").iterdir():
        if not (snap / "data" / path.name).exists():
            path.unlink()
    return root  # the bibliography stays current: it must pass today's bibliography rules


def test_shipped_repository_is_its_newest_release_or_says_what_is_unreleased(root: Path) -> None:
    project = Project(root)
    version = str(read_cff(project.citation_cff)["version"])
    assert released_versions(root / "releases")[-1] == version
    snap = root / "releases" / f"v{version}"
    names = ("studies.csv", "effects.csv", "searches.csv", "screening.csv", "datapackage.json")
    same = all((snap / "data" / n).read_bytes() == (root / "data" / n).read_bytes() for n in names)
    assert whats_new(project, version).after == (version if same else f"{version} + unreleased changes")
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


def pooled(domain: str, r: float, lb: float, ub: float, sign_p: float) -> Headline:
    return Headline(domain, 3, 3, 0, 0, 0, sign_p, 3, r, lb, ub)


BEFORE = [h("symptoms", 6, 3, 0, 0.031), h("adherence", 1, 0, 0, 1.0)]


def test_no_change_gives_no_clause() -> None:
    assert conclusion_changes(BEFORE, BEFORE, {"symptoms": "low"}, {"symptoms": "low"}) == []


def test_sign_test_significant_to_not() -> None:
    lost = [h("symptoms", 6, 3, 3, 0.51), h("adherence", 1, 0, 0, 1.0)]
    assert conclusion_changes(BEFORE, lost) == [
        "for symptoms, the result is no longer statistically significant "
        "(before: sign test p 0.031; now: sign test p 0.510)"
    ]


def test_sign_test_to_pooled_names_both_tests_and_their_values() -> None:
    # A new study printing r makes the domain poolable: significance now rests on the pooled CI.
    after = [pooled("symptoms", 0.12, -0.02, 0.25, 0.016), h("adherence", 1, 0, 0, 1.0)]
    assert conclusion_changes(BEFORE, after) == [
        "for symptoms, the result is no longer statistically significant "
        "(before: sign test p 0.031; now: pooled r 0.12, 95% CI -0.02 to 0.25, 3 studies)"
    ]


def test_pooled_not_significant_to_significant() -> None:
    was = [pooled("symptoms", 0.10, -0.05, 0.24, 0.25)]
    now = [pooled("symptoms", 0.15, 0.03, 0.27, 0.25)]
    assert conclusion_changes(was, now) == [
        "for symptoms, the result is now statistically significant "
        "(before: pooled r 0.10, 95% CI -0.05 to 0.24, 3 studies; now: pooled r 0.15, 95% CI 0.03 to 0.27, "
        "3 studies)"
    ]


def test_direction_change_names_what_it_rests_on() -> None:
    flipped = [h("symptoms", 6, 3, 0, 0.031), h("adherence", 1, 0, 2, 1.0)]
    assert conclusion_changes(BEFORE, flipped) == [
        "for adherence, the direction of the evidence changed from positive to negative "
        "(before: 1 positive and 0 negative studies; now: 1 positive and 2 negative studies)"
    ]


@pytest.mark.parametrize(
    ("was", "now", "clause"),
    [
        ("low", "moderate", "went up from low to moderate"),
        ("moderate", "very low", "went down from moderate to very low"),
        ("low", "not yet graded", "changed from low to not yet graded"),
    ],
)
def test_certainty_up_and_down(was: str, now: str, clause: str) -> None:
    assert conclusion_changes(BEFORE, BEFORE, {"symptoms": was}, {"symptoms": now}) == [
        f"for symptoms, the certainty of the evidence (GRADE) {clause}"
    ]


# --- the author's workflow on a scratch copy -----------------------------------------------------


def test_next_minor_release_after_adding_a_study(project_copy: Path) -> None:
    at_last_release(project_copy)
    version, shipped_date = current_version(project_copy), release_date(project_copy)
    minor, patch, major = (next_version(project_copy, x) for x in ("minor", "patch", "major"))
    date = later_date(project_copy)
    sid = add_study(project_copy)
    before = tree_digest(project_copy)

    refused = livingreview(project_copy, "release", patch, "--date", date)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert "PATCH" in refused.stderr and "MINOR" in refused.stderr and sid in refused.stderr
    assert "Traceback" not in refused.stderr
    assert tree_digest(project_copy) == before, "a refused release wrote something"

    skipped = next_version(project_copy, "minor").rsplit(".", 2)
    too_far = f"{skipped[0]}.{int(skipped[1]) + 1}.0"
    for args in ([version], [too_far], [major], [minor, "--protocol-change"], [minor.rsplit(".", 1)[0]]):
        done = livingreview(project_copy, "release", *args, "--date", date)
        assert done.returncode == 1 and "nothing was written" in done.stderr, args
    assert tree_digest(project_copy) == before

    done = livingreview(project_copy, "release", minor, "--date", date, "--trigger", "scheduled search")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "livingreview build" in done.stdout and f"git tag v{minor}" in done.stdout
    snap = project_copy / "releases" / f"v{minor}"
    assert (snap / "data" / "studies.csv").read_bytes() == (
        project_copy / "data" / "studies.csv"
    ).read_bytes()
    assert (snap / "references.bib").is_file()
    assert not list(project_copy.glob(".*release-*")) and not list((project_copy / "releases").glob(".*"))

    record = json.loads((snap / "whats-new.json").read_text(encoding="utf-8"))
    assert record["release"] | {"reasons": None} == {
        "version": minor,
        "date": date,
        "previous": version,
        "type": "minor",
        "trigger": "scheduled search",
        "reasons": None,
        "last_searched": record["release"]["last_searched"],
    }
    assert record["tables"]["studies"]["added"] == [sid]
    assert record["tables"]["effects"]["added"] == [f"{sid}-1"]

    changelog = (project_copy / "CHANGELOG.md").read_text(encoding="utf-8")
    assert changelog_versions(changelog)[:2] == [(minor, date), (version, shipped_date)]
    assert f"Studies added: {sid}" in changelog
    assert changelog.split(f"## {version}")[0].count("- Conclusions:") == 1

    cff = read_cff(project_copy / "CITATION.cff")
    assert (cff["version"], str(cff["date-released"])) == (minor, date)
    assert version_problems(Project(project_copy)) == []
    variables = yaml.safe_load((project_copy / "_variables.yml").read_text(encoding="utf-8"))
    assert variables["review"]["previous_version"] == version
    assert f"version {version}, released {shipped_date}" in variables["review"]["previous_citation"]
    assert variables["versions"]["trigger"] == "scheduled search"
    assert variables["versions"]["released"].endswith(f"{version}, {minor}")

    report = livingreview(project_copy, "whats-new")
    assert report.returncode == 0, report.stderr
    assert f"compared with {version}" in report.stdout and f"Studies added: {sid}" in report.stdout
    assert report.stdout.count("onclusion changed since version") == 1, report.stdout
    as_json = json.loads(livingreview(project_copy, "whats-new", "--since", f"v{version}", "--json").stdout)
    assert as_json["tables"]["studies"]["added"] == [sid]
    old = [x for x in as_json["headline"]["before"] if x["domain"] == "adherence"][0]
    new = [x for x in as_json["headline"]["after"] if x["domain"] == "adherence"][0]
    assert new["positive"] == old["positive"] + 1

    frame = cumulative(Project(project_copy), minor)
    assert list(dict.fromkeys(frame["version"]))[-2:] == [version, minor]
    counts = frame[frame["domain"] == "adherence"].set_index("version")["positive"].to_dict()
    assert counts[minor] == counts[version] + 1


def edit_first(path: Path, key: str, column: str, value: str) -> str:
    """Set ``column`` of the first row of a table; return that row's key."""
    with path.open(encoding="utf-8", newline="") as fh:
        ident = next(csv.DictReader(fh))[key]
    edit_cell(path, key, ident, column, value)
    return ident


def test_a_correction_is_a_patch_and_is_listed_with_its_columns(project_copy: Path) -> None:
    at_last_release(project_copy)
    ident = edit_first(project_copy / "data" / "studies.csv", "study_id", "notes", "corrected note")
    project = Project(project_copy)
    version = current_version(project_copy)
    with pytest.raises(ReleaseError, match="MINOR release contradicts"):
        plan_release(project, next_version(project_copy, "minor"), date=later_date(project_copy))
    plan = plan_release(project, next_version(project_copy, "patch"), date=later_date(project_copy))
    assert plan.level == "patch"
    c = whats_new(project, version)
    assert c.tables["studies"].changed == {ident: ["notes"]}
    assert c.after == f"{version} + unreleased changes"


def test_a_changed_conclusion_demands_a_minor_release(project_copy: Path) -> None:
    at_last_release(project_copy)
    # Turning the positive arm-A studies to "no association" changes the direction of the evidence.
    path = project_copy / "data" / "effects.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    studies = {r["study_id"]: r for r in csv.DictReader((project_copy / "data" / "studies.csv").open())}
    for row in rows:
        if studies[row["study_id"]]["arm_relevance"] == "A" and row["direction"] == "positive":
            if "direction_source" in row:  # v0.2.0 coding: no direction, significance on its own
                edit_cell(path, "effect_id", row["effect_id"], "direction", "not_reported")
                edit_cell(path, "effect_id", row["effect_id"], "direction_source", "none")
                edit_cell(path, "effect_id", row["effect_id"], "direction_reason", "")
            else:
                edit_cell(path, "effect_id", row["effect_id"], "direction", "null")
            edit_cell(path, "effect_id", row["effect_id"], "significant", "no")
    project = Project(project_copy)
    c = whats_new(project, current_version(project_copy))
    assert any("symptoms" in clause for clause in c.conclusions)
    with pytest.raises(ReleaseError, match="a conclusion changed"):
        plan_release(project, next_version(project_copy, "patch"), date=later_date(project_copy))
    assert (
        plan_release(project, next_version(project_copy, "minor"), date=later_date(project_copy)).level
        == "minor"
    )


def test_a_risk_of_bias_change_is_reported_and_a_grade_change_changes_a_conclusion(
    project_copy: Path,
) -> None:
    at_last_release(project_copy)
    data = project_copy / "data"
    ident = edit_first(data / "risk_of_bias.csv", "study_id", "justification", "re-read: still unclear")
    project = Project(project_copy)
    c = whats_new(project, current_version(project_copy))
    assert not c.conclusions
    assert any(
        r["item"] == "Risk-of-bias judgements changed" and ident in r["detail"] for r in whats_new_rows(c)
    )
    # Lifting every downgrade of a graded domain makes its certainty high: a changed conclusion.
    with (data / "grade.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    graded = certainty(project_copy)
    domain = next(d for d, level in sorted(graded.items()) if level in ("very low", "low", "moderate"))
    with (data / "grade.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({**r, "downgrade": "0"} if r["outcome_domain"] == domain else r for r in rows)
    c = whats_new(project, current_version(project_copy))
    assert c.conclusions == [
        f"for {domain}, the certainty of the evidence (GRADE) went up from {graded[domain]} to high"
    ]
    assert any(r["item"] == "GRADE decisions changed" for r in whats_new_rows(c))
    with pytest.raises(ReleaseError, match="a conclusion changed"):
        plan_release(project, next_version(project_copy, "patch"), date=later_date(project_copy))


def _schema_edit(root: Path, edit) -> None:  # noqa: ANN001 - a callable on (resource name, field)
    path = root / "data" / "datapackage.json"
    package = json.loads(path.read_text(encoding="utf-8"))
    for resource in package["resources"]:
        resource["schema"]["fields"] = [
            f for f in (edit(resource["name"], f) for f in resource["schema"]["fields"]) if f is not None
        ]
    path.write_text(json.dumps(package, indent=2), encoding="utf-8")


def _add_enum_value(table: str, f: dict) -> dict:
    if table == "effects" and f["name"] == "outcome_domain":
        f["constraints"]["enum"].append("quality_of_life")
    return f


def _narrow_enum(table: str, f: dict) -> dict:
    """Drop one allowed value that no row uses (so the data stay valid) from the first such field."""
    if "enum" not in f.get("constraints", {}) or _narrow_enum.done:  # type: ignore[attr-defined]
        return f
    with (_narrow_enum.data / f"{table}.csv").open(encoding="utf-8", newline="") as fh:  # type: ignore[attr-defined]
        used = {row.get(f["name"]) for row in csv.DictReader(fh)}
    unused = [v for v in f["constraints"]["enum"] if v not in used]
    if unused:
        f["constraints"]["enum"].remove(unused[0])
        _narrow_enum.done = f"{table}.{f['name']}"  # type: ignore[attr-defined]
    return f


def _retype(table: str, f: dict) -> dict:
    if table == "studies" and f["name"] == "year":
        f["type"] = "number"
    return f


def _drop_field(table: str, f: dict) -> dict | None:
    return None if (table, f["name"]) == ("studies", "notes") else f


@pytest.mark.parametrize(
    ("edit", "level", "text"),
    [
        (_add_enum_value, "minor", "effects.outcome_domain allowed values added: quality_of_life"),
        (_narrow_enum, "major", "allowed values changed"),
        (_retype, "major", "studies.year type changed"),
        (_drop_field, "major", "studies.notes removed"),
    ],
)
def test_schema_changes_additive_are_minor_and_breaking_are_major(
    project_copy: Path,
    edit,
    level: str,
    text: str,  # noqa: ANN001
) -> None:
    _narrow_enum.done, _narrow_enum.data = None, project_copy / "data"  # type: ignore[attr-defined]
    _schema_edit(project_copy, edit)
    if edit is _drop_field:
        path = project_copy / "data" / "studies.csv"
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, [c for c in rows[0] if c != "notes"], lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: v for k, v in r.items() if k != "notes"} for r in rows)
    if edit is _narrow_enum:
        assert _narrow_enum.done, "no allowed value is unused: nothing to narrow"  # type: ignore[attr-defined]
        text = f"{_narrow_enum.done} {text}"  # type: ignore[attr-defined]
    project = Project(project_copy)
    date = later_date(project_copy)
    c = whats_new(project, current_version(project_copy))
    assert text in [str(x) for x in c.schema]
    wrong = "minor" if level == "major" else "patch"
    with pytest.raises(ReleaseError, match=f"{wrong.upper()} release contradicts"):
        plan_release(project, next_version(project_copy, wrong), date=date)
    assert plan_release(project, next_version(project_copy, level), date=date).level == level


def test_a_new_field_and_a_new_table_are_minor(project_copy: Path) -> None:
    path = project_copy / "data" / "datapackage.json"
    package = json.loads(path.read_text(encoding="utf-8"))
    studies = next(r for r in package["resources"] if r["name"] == "studies")
    studies["schema"]["fields"].append({"name": "funding", "type": "string"})
    package["resources"].append(
        {
            "name": "funders",
            "path": "funders.csv",
            "schema": {"fields": [{"name": "id", "type": "string"}]},
        }
    )
    path.write_text(json.dumps(package, indent=2), encoding="utf-8")
    (project_copy / "data" / "funders.csv").write_text("id\n", encoding="utf-8")
    c = whats_new(Project(project_copy), current_version(project_copy))
    assert {str(x) for x in c.schema} >= {"studies.funding added", "table funders added"}
    assert not any(x.breaking for x in c.schema)


def test_invalid_data_refuse_a_release(project_copy: Path) -> None:
    path = project_copy / "data" / "effects.csv"
    text = path.read_text(encoding="utf-8").replace(",symptoms,", ",mood,", 1)
    path.write_text(text, encoding="utf-8")
    before = tree_digest(project_copy)
    done = livingreview(
        project_copy, "release", next_version(project_copy, "patch"), "--date", later_date(project_copy)
    )
    assert done.returncode == 1 and "data invalid" in done.stderr
    assert tree_digest(project_copy) == before


def test_first_release_says_there_is_no_previous_version(project_copy: Path) -> None:
    import shutil

    shutil.rmtree(project_copy / "releases")
    c = whats_new(Project(project_copy), current_version(project_copy))
    assert c.first and "first version" in c.report()


def test_a_study_printing_r_changes_the_test_and_the_message_names_both(project_copy: Path) -> None:
    # The case that went wrong: one more arm-A correlation for symptoms makes the domain poolable,
    # so significance moves from the sign test to the pooled CI; the message must quote both.
    sid = add_study(project_copy)
    path = project_copy / "data" / "effects.csv"
    for column, value in {
        "outcome_domain": "symptoms",
        "outcome_measure": "HAM-D",
        "r": "0.02",
        "n": "300",
        "statistic_reported": "r = 0.02",
        "direction": "null",
        "significant": "no",
        "quote": "r = 0.02",
    }.items():
        edit_cell(path, "effect_id", f"{sid}-1", column, value)
    c = whats_new(Project(project_copy), current_version(project_copy))
    old = {h.domain: h for h in c.headline_before}["symptoms"]
    new = {h.domain: h for h in c.headline_after}["symptoms"]
    assert new.pooled_r is not None, "two or more arm-A symptom correlations are pooled"
    clauses = [x for x in c.conclusions if x.startswith("for symptoms, the result is")]
    assert len(clauses) == int(old.significant != new.significant)
    for clause in clauses:
        assert f"(before: {significance_basis(old)}; now: {significance_basis(new)})" in clause
        assert "now: pooled r" in clause
    assert whats_new_text(c).count(conclusion_flag(c)) == 1


def test_certainty_compared_by_whats_new_is_the_summary_of_findings_certainty(root: Path) -> None:
    from livingreview.data.dataset import load_dataset
    from livingreview.reporting import grade

    shown = {
        g.domain: g.certainty or "not yet graded"
        for g in grade.domain_grades(load_dataset(root / "data"), grade.load_grade(root / "data"))
        if g.n_studies
    }
    assert certainty(root) == shown


def test_headlines_are_remembered_for_the_exact_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``headline`` is computed once per state and data bytes in a process; any change to the data
    files is a new computation."""
    from conftest import ROOT
    from livingreview.versions import compare

    computed: list[Path] = []
    real = compare._headline
    monkeypatch.setattr(compare, "_headline", lambda state: computed.append(state) or real(state))
    state = tmp_path / "state"
    shutil.copytree(ROOT / "data", state / "data")
    first = compare.headline(state)
    assert compare.headline(state) == first and len(computed) == 1
    assert compare.headline(state) is not compare.headline(state)  # a fresh list each time
    effects = state / "data" / "effects.csv"
    rows = effects.read_text(encoding="utf-8").splitlines(keepends=True)
    effects.write_text(rows[0], encoding="utf-8")  # no associations left
    emptied = compare.headline(state)
    assert len(computed) == 2 and emptied != first and all(h.n_studies == 0 for h in emptied)
