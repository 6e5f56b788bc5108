"""The review's citation metadata (title, version, dates, authors, DOI) from its single source,
``CITATION.cff``, with the date of the latest search."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import yaml

from livingreview.project.snapshots import RELEASES, older_versions
from livingreview.text.safe import MarkdownText, markdown_text, one_line


@dataclass(frozen=True)
class ReviewMetadata:
    """What a reader needs to know about the version in front of them."""

    title: str
    version: str
    date_released: str
    last_searched: str
    previous_version: str
    authors: str = ""
    doi: str = ""
    previous_date: str = ""

    def citation(self) -> str:
        """Reference to this version (markdown, its parts escaped), as the title page shows it."""
        year, md = self.date_released[:4], markdown_text
        text = (
            f"{md(self.authors)} ({md(year)}). *{md(self.title)}* "
            f"(version {md(self.version)}, released {md(self.date_released)})."
        )
        doi = quote(one_line(self.doi), safe="/:;._-()")
        return MarkdownText(text + (f" <https://doi.org/{doi}>" if self.doi else ""))

    def previous_citation(self) -> str:
        if not self.previous_date:
            return "There is no previous version: this is the first release of the review."
        year, md = self.previous_date[:4], markdown_text
        return MarkdownText(
            f"Previous version: {md(self.authors)} ({md(year)}). *{md(self.title)}* "
            f"(version {md(self.previous_version)}, released {md(self.previous_date)})."
        )

    def as_variables(self) -> dict[str, str]:
        return {
            "title": self.title,
            "version": self.version,
            "date_released": self.date_released,
            "last_searched": self.last_searched,
            "previous_version": self.previous_version,
            "authors": self.authors,
            "doi": self.doi or "not yet assigned",
            "citation": self.citation(),
            "previous_citation": self.previous_citation(),
        }


def _iso(value: object) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def previous_version(releases_dir: Path, current: str) -> str:
    """Newest snapshot under ``releases/`` older than ``current``."""
    older = older_versions(releases_dir, current)
    return older[-1] if older else "none (first version)"


def read_cff(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def authors_text(cff: dict) -> str:
    """CFF authors as a reference list ('Doe, J., & Roe, R.' or an entity's name)."""
    names = []
    for a in cff.get("authors", []):
        if "name" in a:
            names.append(str(a["name"]))
        else:
            initials = " ".join(f"{part[0]}." for part in str(a.get("given-names", "")).split() if part)
            names.append(f"{a.get('family-names', '')}, {initials}".strip(", "))
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + ", & " + names[-1]


def cff_doi(cff: dict) -> str:
    if cff.get("doi"):
        return str(cff["doi"])
    for ident in cff.get("identifiers", []) or []:
        if ident.get("type") == "doi":
            return str(ident["value"])
    return ""


def last_search_date(searches: pd.DataFrame) -> str:
    dates = [d for d in searches.get("date_searched", []) if d is not None and not pd.isna(d)]
    return _iso(max(dates)) if dates else "not recorded"


def read_metadata(citation_cff: Path, searches: pd.DataFrame) -> ReviewMetadata:
    """Combine ``CITATION.cff`` (title, version, release date) with the latest search date."""
    cff = read_cff(citation_cff)
    version = str(cff["version"])
    previous = previous_version(citation_cff.parent / RELEASES, version)
    previous_cff = citation_cff.parent / RELEASES / f"v{previous}" / "CITATION.cff"
    previous_date = ""
    if previous_cff.is_file():
        previous_date = _iso(read_cff(previous_cff)["date-released"])
    return ReviewMetadata(
        title=str(cff["title"]),
        version=version,
        date_released=_iso(cff["date-released"]),
        last_searched=last_search_date(searches),
        previous_version=previous,
        authors=authors_text(cff),
        doi=cff_doi(cff),
        previous_date=previous_date,
    )
