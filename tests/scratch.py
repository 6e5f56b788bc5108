"""Helpers for tests that read the shipped review's state or change a scratch copy of it.

Tests of the shipped review read its version and data here instead of hard-coding them, so the
suite holds after every release; tests of behaviour change scratch copies with the README's steps.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import yaml

QUIPS_DOMAINS = ("participation", "attrition", "prognostic_factor", "outcome", "confounding", "analysis")


def livingreview(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "livingreview", *args], cwd=cwd, capture_output=True, text=True, timeout=900
    )


def current_version(root: Path) -> str:
    """The review's version as CITATION.cff (its single source) states it."""
    return str(yaml.safe_load((root / "CITATION.cff").read_text(encoding="utf-8"))["version"])


def release_date(root: Path) -> str:
    return str(yaml.safe_load((root / "CITATION.cff").read_text(encoding="utf-8"))["date-released"])


def next_version(root: Path, level: str) -> str:
    """The next MAJOR, MINOR or PATCH version after the shipped one."""
    major, minor, patch = (int(x) for x in current_version(root).split("."))
    return {
        "major": f"{major + 1}.0.0",
        "minor": f"{major}.{minor + 1}.0",
        "patch": f"{major}.{minor}.{patch + 1}",
    }[level]


def later_date(root: Path, days: int = 1) -> str:
    """A valid date for the next release: ``days`` after the shipped release, but never after today
    (releases may not go back in time, nor be dated in the future)."""
    import datetime as dt

    later = dt.date.fromisoformat(release_date(root)) + dt.timedelta(days=days)
    return min(later, dt.date.today()).isoformat()


def read_table(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """A CSV table's header and rows (as text)."""
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or []), list(reader)


def write_table(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    """Write ``rows`` under ``header`` as the data files are written (LF line ends)."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def ids(path: Path, column: str) -> set[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {row[column] for row in csv.DictReader(fh)}


def append_row(path: Path, row: dict[str, str]) -> None:
    with path.open(encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    with path.open("a", encoding="utf-8", newline="") as fh:
        # extrasaction: the same study can be added to the data of an older release (fewer columns)
        csv.DictWriter(fh, header, lineterminator="\n", extrasaction="ignore").writerow(row)


def fresh_study_id(root: Path, stem: str = "Newauthor") -> str:
    """A study id not yet used in the copy (``Newauthor2026``, then ``Newauthor2026b`` …)."""
    used = ids(root / "data" / "studies.csv", "study_id")
    for suffix in ["", *"bcdefghijklmnopqrstuvwxyz"]:
        if f"{stem}2026{suffix}" not in used:
            return f"{stem}2026{suffix}"
    raise AssertionError("no free study id")


def add_study(root: Path, study_id: str | None = None, assess: bool = True) -> str:
    """The README's add-a-study steps on a scratch copy: study, association, risk of bias (unless
    ``assess`` is false), screening, reference. Returns the new study's id."""
    data = root / "data"
    sid = study_id or fresh_study_id(root)
    url = f"https://example.org/{sid.lower()}"
    append_row(
        data / "studies.csv",
        {
            "study_id": sid,
            "citation_key": sid,
            "year": "2026",
            "design": "prospective_cohort",
            "diagnosis": "anxiety",
            "population": "test population",
            "country": "not reported",
            "setting": "not reported",
            "medication": "not specified",
            "arms": "single arm",
            "n_analysed": "40",
            "arm_relevance": "A",
            "extraction_level": "abstract",
            "source_url": url,
            "notes": "scratch row for a test",
            "n_relevant_arms": "40",
            "n_relevant_arms_basis": "whole sample on medication (scratch row)",
        },
    )
    append_row(
        data / "effects.csv",
        {
            "effect_id": f"{sid}-1",
            "study_id": sid,
            "outcome_domain": "adherence",
            "outcome_measure": "pill count",
            "arm": "medication",
            "alliance_measure": "WAI",
            "rater": "patient",
            "timing": "week 4",
            "statistic_type": "r",
            "statistic_reported": "r = .30",
            "r": "0.3",
            "outcome_higher_is_better": "yes",
            "n": "40",
            "exposure": "validated_alliance_scale",
            "arm_relevance": "A",
            "direction": "positive",
            "significant": "yes",
            "direction_source": "printed_statistic",
            "adjusts_prior_change": "not_reported",
            "quote": "alliance predicted adherence (r = .30)",
            "source_url": url,
        },
    )
    if assess:
        for domain in QUIPS_DOMAINS:
            append_row(
                data / "risk_of_bias.csv",
                {
                    "study_id": sid,
                    "domain": domain,
                    "judgement": "unclear (abstract only)",
                    "justification": "Only the abstract was read; it does not describe this domain.",
                },
            )
    append_row(
        data / "screening.csv",
        {
            "record_id": sid,
            "citation": sid.replace("2026", " 2026", 1),
            "study_id": sid,
            "decision": "included",
            "source_url": url,
            "notes_file": "literature-notes-2.md",
            "full_text_retrieved": "no",
        },
    )
    bib = root / "references.bib"
    bib.write_text(
        bib.read_text(encoding="utf-8")
        + f"\n@article{{{sid},\n  author = {{Newauthor, A.}},\n"
        + "  title = {A new study},\n  year = {2026}\n}\n",
        encoding="utf-8",
    )
    return sid
