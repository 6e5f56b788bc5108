"""Review metadata (version, dates) from its single source of truth, ``CITATION.cff``, and cutting
a release (``livingreview release``): snapshot, CITATION.cff, CHANGELOG.md, .zenodo.json.

Semantic versions of a living review (Cochrane LSR): MAJOR = protocol change, MINOR = new search or
new studies (or any change of a conclusion), PATCH = corrections that change no conclusion.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from livingreview.project.manifest import MANIFEST, write_manifest
from livingreview.project.paths import Project
from livingreview.project.snapshots import (
    RELEASES,
    VersionError,
    format_version,
    parse_version,
    released_versions,
    releases_dir,
    same_data,
    snapshot,
)
from livingreview.project.transaction import Transaction
from livingreview.versions import compare as V
from livingreview.versions.citation import _iso, last_search_date, read_cff

CHANGELOG = "CHANGELOG.md"
ZENODO = ".zenodo.json"
CHANGELOG_HEADER = (
    "# Changelog\n\n"
    "Every release of the living review, newest first. Entries are written by `livingreview release`;\n"
    "the data of each version are kept unchanged under `releases/vX.Y.Z/`.\n"
)
CHANGELOG_ENTRY_RE = re.compile(r"^## (\d+\.\d+\.\d+) — (\d{4}-\d{2}-\d{2})$", re.MULTILINE)
LEVELS = ("patch", "minor", "major")
LEVEL_MEANING = {
    "major": "MAJOR (protocol or eligibility change)",
    "minor": "MINOR (new search or new studies, or a changed conclusion)",
    "patch": "PATCH (corrections that change no conclusion)",
    "initial": "first release",
}


# --- .zenodo.json --------------------------------------------------------------------------------


def zenodo_metadata(cff: dict, last_searched: str) -> dict:
    """Zenodo deposit metadata. When ``.zenodo.json`` exists Zenodo reads only it, not CITATION.cff."""
    creators = []
    for a in cff.get("authors", []):
        if "name" in a:
            creators.append({"name": str(a["name"])})
        else:
            creator = {"name": f"{a.get('family-names', '')}, {a.get('given-names', '')}".strip(", ")}
            if a.get("orcid"):
                creator["orcid"] = str(a["orcid"]).rsplit("/", 1)[-1]
            if a.get("affiliation"):
                creator["affiliation"] = str(a["affiliation"])
            creators.append(creator)
    meta = {
        "title": f"{cff['title']} (version {cff['version']})",
        "version": str(cff["version"]),
        "publication_date": _iso(cff["date-released"]),
        "upload_type": "publication",
        "publication_type": "other",
        "creators": creators,
        "description": " ".join(str(cff.get("abstract", "")).split()),
        "notes": (
            f"Living systematic review, version {cff['version']}; literature searched up to {last_searched}."
        ),
        "keywords": [str(k) for k in cff.get("keywords", [])],
        "license": str(cff.get("license", "")).lower(),
        "access_right": "open",
    }
    return meta


def zenodo_text(cff: dict, last_searched: str) -> str:
    return json.dumps(zenodo_metadata(cff, last_searched), indent=2, ensure_ascii=False) + "\n"


# --- consistency of every place a version is written ----------------------------------------------


def changelog_versions(text: str) -> list[tuple[str, str]]:
    """(version, date) of every CHANGELOG entry, newest first."""
    return CHANGELOG_ENTRY_RE.findall(text)


def version_problems(project: Project) -> list[str]:
    """Disagreements between CITATION.cff and everything generated from it (empty when consistent)."""
    root = project.root
    cff = read_cff(project.citation_cff)
    version, date = str(cff["version"]), _iso(cff["date-released"])
    problems = []

    def check(where: str, got: object, want: str) -> None:
        if str(got) != want:
            problems.append(f"{where}: {got!r}, but CITATION.cff says {want!r}")

    variables = yaml.safe_load((root / "_variables.yml").read_text(encoding="utf-8"))
    check("_variables.yml review.version", variables["review"]["version"], version)
    check("_variables.yml review.date_released", variables["review"]["date_released"], date)
    zenodo_path = root / ZENODO
    if not zenodo_path.is_file():
        problems.append(f"{ZENODO} is missing (livingreview release writes it)")
    else:
        zenodo = json.loads(zenodo_path.read_text(encoding="utf-8"))
        check(f"{ZENODO} version", zenodo.get("version"), version)
        check(f"{ZENODO} publication_date", zenodo.get("publication_date"), date)
        from livingreview.data.dataset import load_dataset

        expected = zenodo_metadata(cff, last_search_date(load_dataset(project.data).searches))
        if zenodo != expected:
            problems.append(f"{ZENODO} is stale: regenerate it from CITATION.cff (livingreview release)")
    released = released_versions(releases_dir(project))
    check(f"newest snapshot under {RELEASES}/", released[-1] if released else "none", version)
    snap_cff = snapshot(project, version) / "CITATION.cff"
    if snap_cff.is_file():
        check(f"{RELEASES}/v{version}/CITATION.cff version", read_cff(snap_cff)["version"], version)
    changelog = root / CHANGELOG
    entries = changelog_versions(changelog.read_text(encoding="utf-8")) if changelog.is_file() else []
    check(f"newest {CHANGELOG} entry", entries[0][0] if entries else "none", version)
    if entries:
        check(f"{CHANGELOG} date of {entries[0][0]}", entries[0][1], date)
    return problems


# --- cutting a release -----------------------------------------------------------------------------


class ReleaseError(RuntimeError):
    """The release was refused; the message is one line saying why. Nothing was written."""


@dataclass
class ReleasePlan:
    """Everything ``release`` will write, decided before anything is written."""

    version: str
    previous: str | None
    date: str
    trigger: str
    level: str
    comparison: V.Comparison
    reasons: list[str] = field(default_factory=list)


def bump_level(old: tuple[int, int, int], new: tuple[int, int, int]) -> str | None:
    """'major'/'minor'/'patch' when ``new`` is the next version of that kind after ``old``, else None."""
    if new == (old[0] + 1, 0, 0):
        return "major"
    if new == (old[0], old[1] + 1, 0):
        return "minor"
    if new == (old[0], old[1], old[2] + 1):
        return "patch"
    return None


def required_level(c: V.Comparison, protocol_change: bool) -> tuple[str, list[str]]:
    """The release type the changes call for, with the reasons.

    MAJOR: ``--protocol-change`` or a breaking schema change (a table or field removed or renamed,
    allowed values narrowed, a type or key changed). MINOR: new studies or searches, a changed
    conclusion, or an additive schema change (new tables, fields or allowed values). PATCH: the rest.
    """
    breaking = [str(x) for x in c.schema if x.breaking]
    if protocol_change or breaking:
        why = ["--protocol-change given"] if protocol_change else []
        return "major", why + [f"data schema changed ({'; '.join(breaking)})"] * bool(breaking)
    reasons = []
    if c.tables["studies"].added:
        reasons.append(f"new studies ({', '.join(c.tables['studies'].added)})")
    if c.tables["searches"].added:
        reasons.append(f"new searches ({', '.join(c.tables['searches'].added)})")
    additive = [str(x) for x in c.schema]
    if additive:
        reasons.append(f"data schema extended ({'; '.join(additive)})")
    if c.conclusions:
        reasons.append("a conclusion changed (" + "; ".join(c.conclusions) + ")")
    return ("minor" if reasons else "patch"), reasons


def _default_trigger(level: str, c: V.Comparison) -> str:
    if c.first:
        return "first release of the living review"
    if level == "major":
        return "change of protocol"
    if level == "minor":
        return "update search and new evidence: " + V.change_summary(c).split(": ", 1)[-1].rstrip(".")
    return "corrections: " + V.change_summary(c).split(": ", 1)[-1].rstrip(".")


def plan_release(
    project: Project,
    version: str,
    trigger: str | None = None,
    date: str | None = None,
    protocol_change: bool = False,
    today: dt.date | None = None,
) -> ReleasePlan:
    """Decide whether ``version`` may be released now; raise :class:`ReleaseError` if not."""
    from livingreview.checks.gate import check_project

    try:
        new = parse_version(version)
    except VersionError as err:
        raise ReleaseError(str(err)) from None
    version = format_version(new)
    today = today or dt.date.today()
    report = check_project(project, today)
    if not report.ok:
        raise ReleaseError(
            f"data invalid ({len(report.problems)} problems, first: {report.problems[0]}); "
            "run `livingreview validate`"
        )
    day = release_day(date, today)
    trigger = one_line_trigger(trigger)
    cff = read_cff(project.citation_cff)
    current = parse_version(str(cff["version"]))
    released = released_versions(releases_dir(project))
    if snapshot(project, version).exists():
        raise ReleaseError(f"version {version} already exists under {RELEASES}/")
    if not released:
        # Bootstrapping: the first snapshot may carry CITATION.cff's own version.
        if new < current:
            raise ReleaseError(f"version {version} is older than CITATION.cff's {format_version(current)}")
        c = V.compare(None, project.root, None, version)
        return ReleasePlan(
            version, None, day.isoformat(), trigger or _default_trigger("initial", c), "initial", c
        )
    last = released[-1]
    if same_data(snapshot(project, last), project.root):
        raise ReleaseError(f"nothing changed since v{last}: data/ and references.bib are the released ones")
    if parse_version(last) != current:
        raise ReleaseError(
            f"CITATION.cff says version {format_version(current)} but the newest snapshot is v{last}; "
            "fix CITATION.cff first"
        )
    if new <= current:
        raise ReleaseError(
            f"version {version} does not increase over CITATION.cff's {format_version(current)}"
        )
    level = bump_level(current, new)
    if level is None:
        options = ", ".join(format_version(v) for v in _next_versions(current))
        raise ReleaseError(
            f"{format_version(current)} → {version} is not a single version step; "
            f"the next version is one of {options}"
        )
    if day.isoformat() < _iso(cff["date-released"]):
        raise ReleaseError(
            f"release date {day} is before the previous release ({_iso(cff['date-released'])})"
        )
    c = V.compare(snapshot(project, last), project.root, last, version)
    needed, reasons = required_level(c, protocol_change)
    if level != needed:
        why = (
            "; ".join(reasons)
            if reasons
            else "no new study, no new search, no schema change and no changed conclusion"
        )
        suggestion = format_version(_next_versions(current)[LEVELS[::-1].index(needed)])
        raise ReleaseError(
            f"a {level.upper()} release contradicts the changes since v{last}: they call for "
            f"{needed.upper()} ({why}); release {suggestion} instead"
            + (" or pass --protocol-change for a protocol change" if level == "major" else "")
        )
    return ReleasePlan(
        version, last, day.isoformat(), trigger or _default_trigger(level, c), level, c, reasons
    )


def release_day(date: str | None, today: dt.date) -> dt.date:
    """The release date: ``--date`` (a full ISO date, not in the future) or today."""
    if not date:
        return today
    from livingreview.data.cells import CellError, parse_cell

    try:
        day = parse_cell("date", date)
    except CellError:
        raise ReleaseError(f"--date {date!r} is not a date of the form YYYY-MM-DD") from None
    assert isinstance(day, dt.date)
    if day > today:
        raise ReleaseError(f"--date {day} is in the future (today is {today})")
    return day


TRIGGER_MAX = 300


def one_line_trigger(trigger: str | None) -> str | None:
    """A trigger as one line of plain text (line breaks and runs of spaces become one space)."""
    if trigger is None:
        return None
    text = " ".join(trigger.split())
    if not text:
        raise ReleaseError("--trigger is empty")
    if len(text) > TRIGGER_MAX:
        raise ReleaseError(f"--trigger has {len(text)} characters; say it in at most {TRIGGER_MAX}")
    if any(not ch.isprintable() for ch in text):
        raise ReleaseError("--trigger contains control characters")
    return text


def _next_versions(v: tuple[int, int, int]) -> list[tuple[int, int, int]]:
    """Next MAJOR, MINOR and PATCH versions."""
    return [(v[0] + 1, 0, 0), (v[0], v[1] + 1, 0), (v[0], v[1], v[2] + 1)]


def set_cff_fields(text: str, version: str, date: str) -> str:
    """CITATION.cff with a new version and release date, everything else (comments, order) kept."""
    out, n1 = re.subn(r"^version:.*$", f"version: {version}", text, count=1, flags=re.MULTILINE)
    out, n2 = re.subn(r"^date-released:.*$", f'date-released: "{date}"', out, count=1, flags=re.MULTILINE)
    if not (n1 and n2):
        raise ReleaseError("CITATION.cff needs top-level 'version:' and 'date-released:' lines")
    return out


def changelog_entry(plan: ReleasePlan, snapshot_digest: str | None = None) -> str:
    c = plan.comparison
    lines = [f"## {plan.version} — {plan.date}", "", f"- Release type: {LEVEL_MEANING[plan.level]}"]
    lines.append(f"- Trigger: {plan.trigger}")
    if c.first:
        lines.append("- First release of the living review; there is no previous version to compare with.")
    else:
        lines.append(f"- {V.change_summary(c)}")
        for row in V.whats_new_rows(c):
            if row["detail"] != "none" and not row["group"].startswith("Headline"):
                lines.append(f"- {row['item']}: {row['detail']}")
    lines.append(f"- Conclusions: {V.conclusion_flag(c)}")
    if snapshot_digest:
        lines.append(f"- Snapshot checksum: `{MANIFEST}` sha256 {snapshot_digest}")
    return "\n".join(lines) + "\n"


def prepend_changelog(existing: str | None, entry: str) -> str:
    body = (
        existing[len(CHANGELOG_HEADER) :]
        if existing and existing.startswith(CHANGELOG_HEADER)
        else (existing or "")
    )
    return CHANGELOG_HEADER + "\n" + entry + ("\n" + body.lstrip("\n") if body.strip() else "")


def write_release(project: Project, plan: ReleasePlan) -> list[Path]:
    """Write the release ``plan``: snapshot, CITATION.cff, CHANGELOG.md, .zenodo.json, _variables.yml."""
    from livingreview.book.variables import compute_project_variables, write_variables
    from livingreview.data.dataset import load_dataset
    from livingreview.versions.results import RESULTS_DIR, project_results

    root = project.root
    cff_text = set_cff_fields(project.citation_cff.read_text(encoding="utf-8"), plan.version, plan.date)
    cff = yaml.safe_load(cff_text)
    last_searched = last_search_date(load_dataset(project.data).searches)
    changelog = root / CHANGELOG
    record = {
        "release": {
            "version": plan.version,
            "date": plan.date,
            "previous": plan.previous,
            "type": plan.level,
            "trigger": plan.trigger,
            "reasons": plan.reasons,
            "last_searched": last_searched,
        },
        **plan.comparison.to_dict(),
    }

    def fill(folder: Path) -> None:
        folder.mkdir(parents=True)
        shutil.copytree(project.data, folder / "data")
        if project.bibliography.is_file():
            shutil.copy2(project.bibliography, folder / "references.bib")
        (folder / "CITATION.cff").write_text(cff_text, encoding="utf-8")
        (folder / V.WHATS_NEW_FILE).write_text(
            json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )

    rel = {
        path: path.relative_to(root).as_posix() for path in (project.citation_cff, changelog, root / ZENODO)
    }
    with Transaction(root, "release") as txn:
        fill(txn.stage(snapshot(project, plan.version).relative_to(root).as_posix()))
        txn.write_text(rel[project.citation_cff], cff_text)
        txn.write_text(rel[root / ZENODO], zenodo_text(cff, last_searched))
        txn.switch()
        # _variables.yml depends on the new CITATION.cff and snapshot, so it is computed now.
        variables = compute_project_variables(project)
        write_variables(txn.stage(project.variables_yml.name), variables)
        # The results data package of the new version, in results/ and in the (new) snapshot,
        # whose manifest is written last and recorded in the changelog entry.
        snap = snapshot(project, plan.version)
        (snap / RESULTS_DIR).mkdir()
        for name, text in project_results(root, variables).items():
            txn.write_text(f"{RESULTS_DIR}/{name}", text)
            (snap / RESULTS_DIR / name).write_text(text, encoding="utf-8")
        digest = write_manifest(snap)
        old_log = changelog.read_text(encoding="utf-8") if changelog.is_file() else None
        txn.write_text(rel[changelog], prepend_changelog(old_log, changelog_entry(plan, digest)))
    return [
        snapshot(project, plan.version),
        project.citation_cff,
        changelog,
        root / ZENODO,
        project.variables_yml,
    ]


def next_steps(version: str) -> str:
    return "\n".join(
        [
            "next steps:",
            "  1. livingreview build          # re-execute the notebooks and render the book",
            "  2. python -m pytest --nbval analysis tests",
            f'  3. git add -A && git commit -m "Release {version}" && git push origin main',
            f"  4. git tag v{version} && git push origin v{version}",
            "  do not create the GitHub release yourself: publish.yml (run by the tag) tests, builds,",
            "  publishes the book and creates the release with the PDF; Zenodo then archives it",
        ]
    )
