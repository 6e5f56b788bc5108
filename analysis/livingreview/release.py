"""Review metadata (version, dates) from its single source of truth, ``CITATION.cff``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml


@dataclass(frozen=True)
class ReviewMetadata:
    """What a reader needs to know about the version in front of them."""

    title: str
    version: str
    date_released: str
    last_searched: str
    previous_version: str

    def as_variables(self) -> dict[str, str]:
        return {
            "title": self.title,
            "version": self.version,
            "date_released": self.date_released,
            "last_searched": self.last_searched,
            "previous_version": self.previous_version,
        }


def _iso(value: object) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def previous_version(releases_dir: Path, current: str) -> str:
    """Newest snapshot under ``releases/`` older than ``current`` (``vX.Y.Z`` folders)."""
    older = (
        [
            p.name[1:]
            for p in releases_dir.glob("v*.*.*")
            if p.is_dir() and _version_key(p.name[1:]) < _version_key(current)
        ]
        if releases_dir.is_dir()
        else []
    )
    return max(older, key=_version_key) if older else "none (first version)"


def read_metadata(citation_cff: Path, searches: pd.DataFrame) -> ReviewMetadata:
    """Combine ``CITATION.cff`` (title, version, release date) with the latest search date."""
    cff = yaml.safe_load(citation_cff.read_text(encoding="utf-8"))
    dates = [d for d in searches.get("date_searched", []) if d is not None and not pd.isna(d)]
    return ReviewMetadata(
        title=str(cff["title"]),
        version=str(cff["version"]),
        date_released=_iso(cff["date-released"]),
        last_searched=_iso(max(dates)) if dates else "not recorded",
        previous_version=previous_version(citation_cff.parent / "releases", str(cff["version"])),
    )
