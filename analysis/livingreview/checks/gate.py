"""The one gate of every command: data, bibliography, review metadata, living policy and release snapshots.

Whatever :func:`check_project` accepts, ``execute``, ``build``, ``whats-new`` and ``release`` complete
on; whatever it rejects is reported as ``file:row:column: message`` lines.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import yaml

from livingreview.checks.validate import Problem, Report, validate_data
from livingreview.data.cells import CellError, parse_cell
from livingreview.project import manifest
from livingreview.project.paths import Project

CFF = "CITATION.cff"
POLICY = "living.yml"
CHANGELOG = "CHANGELOG.md"
RELEASES = "releases"
VERSION_RE = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
SNAPSHOT_RE = re.compile(r"v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")
ENTRY_RE = re.compile(r"^## (\S+) — (\S+)$", re.MULTILINE)
DIGEST_RE = re.compile(r"^- Snapshot checksum: `SHA256SUMS` sha256 ([0-9a-f]{64})$", re.MULTILINE)


def _key_line(text: str, key: str) -> int:
    match = re.search(rf"^{re.escape(key)}\s*:", text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else 0


def read_yaml(path: Path, name: str, problems: list[Problem]) -> tuple[dict | None, str]:
    """A YAML mapping from ``path``, or None with the problem added."""
    if not path.is_file():
        problems.append(Problem(name, 0, "-", "file is missing"))
        return None, ""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        problems.append(Problem(name, 0, "-", f"not valid UTF-8 (byte {err.start})"))
        return None, ""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        reason = getattr(err, "problem", None) or "not readable"
        problems.append(Problem(name, line, "-", f"invalid YAML: {reason}"))
        return None, text
    if not isinstance(value, dict):
        problems.append(Problem(name, 1, "-", "must be a YAML mapping of keys to values"))
        return None, text
    return value, text


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        parsed = parse_cell("date", str(value))
    except CellError:
        return None
    return parsed if isinstance(parsed, dt.date) else None


def _one_line(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip()) and "\n" not in value and "\r" not in value


def citation_problems(root: Path, today: dt.date) -> list[Problem]:
    """CITATION.cff: the fields every command reads (title, authors, version, release date)."""
    problems: list[Problem] = []
    cff, text = read_yaml(root / CFF, CFF, problems)
    if cff is None:
        return problems

    def bad(key: str, message: str) -> None:
        problems.append(Problem(CFF, _key_line(text, key), key, message))

    if not _one_line(cff.get("title")):
        bad("title", "required: the review's title on one line")
    if not isinstance(cff.get("version"), str) or not VERSION_RE.fullmatch(cff["version"]):
        bad("version", "required: a version of the form X.Y.Z")
    released = _date(cff.get("date-released"))
    if released is None:
        bad("date-released", "required: a date YYYY-MM-DD")
    elif released > today:
        bad("date-released", f"{released} is in the future")
    authors = cff.get("authors")
    if not isinstance(authors, list) or not authors:
        bad("authors", "required: a list of authors")
    else:
        for author in authors:
            if not isinstance(author, dict) or not all(
                isinstance(v, str | int | float) and not isinstance(v, bool) for v in author.values()
            ):
                bad("authors", "each author is a mapping of text fields (name or family-names, …)")
            elif not (_one_line(author.get("name")) or _one_line(author.get("family-names"))):
                bad("authors", "each author needs a name or family-names on one line")
    for key in ("abstract", "license", "doi"):
        if key in cff and not isinstance(cff[key], str):
            bad(key, "must be text")
    keywords = cff.get("keywords", [])
    if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
        bad("keywords", "must be a list of words")
    identifiers = cff.get("identifiers", [])
    if not isinstance(identifiers, list) or not all(isinstance(i, dict) for i in identifiers):
        bad("identifiers", "must be a list of mappings")
    return problems


def policy_problems(root: Path) -> list[Problem]:
    """living.yml: the search frequency, triggers and stop conditions shown in the methods chapter."""
    problems: list[Problem] = []
    policy, text = read_yaml(root / POLICY, POLICY, problems)
    if policy is None:
        return problems

    def bad(key: str, message: str) -> None:
        problems.append(Problem(POLICY, _key_line(text, key), key, message))

    months = policy.get("search_interval_months")
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= 120:
        bad("search_interval_months", "required: a whole number of months from 1 to 120")
    if not isinstance(policy.get("search_sources"), str) or not policy["search_sources"].strip():
        bad("search_sources", "required: text")
    for key in ("triggers", "stop_conditions"):
        items = policy.get(key)
        if not isinstance(items, list) or not items or not all(_one_line(i) for i in items):
            bad(key, "required: a list of one-line texts")
    if _date(policy.get("stop_no_later_than")) is None:
        bad("stop_no_later_than", "required: a date YYYY-MM-DD")
    return problems


def release_problems(root: Path) -> list[Problem]:
    """Every snapshot under releases/ is exactly as released, and every released version has one."""
    problems: list[Problem] = []
    releases = root / RELEASES
    snapshots = (
        sorted(p for p in releases.iterdir() if p.is_dir() and SNAPSHOT_RE.fullmatch(p.name))
        if releases.is_dir()
        else []
    )
    for folder in snapshots:
        problems.extend(Problem(*f) for f in manifest.verify(folder, f"{RELEASES}/{folder.name}"))
    changelog = root / CHANGELOG
    if not changelog.is_file():
        if snapshots:
            problems.append(Problem(CHANGELOG, 0, "-", "file is missing but releases/ holds snapshots"))
        return problems
    try:
        text = changelog.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return [*problems, Problem(CHANGELOG, 0, "-", "not valid UTF-8")]
    entries = list(ENTRY_RE.finditer(text))
    listed = set()
    for i, entry in enumerate(entries):
        line = text.count("\n", 0, entry.start()) + 1
        version, date = entry.groups()
        if not VERSION_RE.fullmatch(version) or _date(date) is None:
            problems.append(
                Problem(CHANGELOG, line, "-", f"heading {entry.group(0)!r} is not '## X.Y.Z — YYYY-MM-DD'")
            )
            continue
        listed.add(version)
        folder = releases / f"v{version}"
        if not folder.is_dir():
            problems.append(
                Problem(
                    f"{RELEASES}/v{version}", 0, "-", f"missing: {CHANGELOG} line {line} records this release"
                )
            )
            continue
        end = entries[i + 1].start() if i + 1 < len(entries) else len(text)
        recorded = DIGEST_RE.search(text, entry.end(), end)
        actual = manifest.manifest_digest(folder)
        if recorded and actual and recorded.group(1) != actual:
            problems.append(
                Problem(
                    f"{RELEASES}/v{version}/{manifest.MANIFEST}",
                    0,
                    "-",
                    f"replaced after the release (its checksum differs from {CHANGELOG} line {line})",
                )
            )
    for folder in snapshots:
        if folder.name[1:] not in listed:
            problems.append(
                Problem(
                    f"{RELEASES}/{folder.name}",
                    0,
                    "-",
                    f"snapshot of a release that {CHANGELOG} does not record",
                )
            )
    return problems


def check_project(project: Project, today: dt.date | None = None) -> Report:
    """Everything a command relies on, checked before it reads or writes anything."""
    today = today or dt.date.today()
    report = validate_data(project.data, project.bibliography, today)
    problems = [*report.problems]
    problems += citation_problems(project.root, today)
    problems += policy_problems(project.root)
    problems += release_problems(project.root)
    return Report(tuple(sorted(set(problems))), report.counts)


def is_project(root: Path) -> bool:
    return (root / "_quarto.yml").is_file()
