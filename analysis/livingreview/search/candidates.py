"""The screening queue ``data/candidates.csv``: records found by a search and not yet screened.

A record is new when none of its identifiers (PMID, PMCID, DOI) and not its normalised title is
already in the screening table, in the queue, or earlier in the same run. CSV files are written to
a temporary file beside the target and renamed into place, so a reader never sees half a file.
"""

from __future__ import annotations

import csv
import io
import os
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from livingreview.search.clients import Found

QUEUE_FILE = "candidates.csv"
QUEUE_COLUMNS = (
    "record_id",
    "source",
    "pmid",
    "pmcid",
    "doi",
    "title",
    "authors",
    "year",
    "journal",
    "abstract",
    "date_found",
    "search_id",
)
MIN_TITLE = 20  # shorter normalised titles are not trusted to identify a record on their own
MIN_WORDS_IN_CITATION = 6  # a title found inside a screened record's citation text must be this long

PMID_URL = re.compile(r"(?:pubmed\.ncbi\.nlm\.nih\.gov/|ncbi\.nlm\.nih\.gov/pubmed/|pubid)(\d{4,9})")
PMCID_RE = re.compile(r"\bPMC\d{4,9}\b")
DOI_RE = re.compile(r"\b10\.\d{4,9}/[^\s\"<>]+", re.IGNORECASE)
BIDI = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def normalise_title(title: str) -> str:
    """Lower case, accents and punctuation removed, spaces collapsed (for matching titles)."""
    text = unicodedata.normalize("NFKD", BIDI.sub("", title)).casefold()
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text).split())


def clean_doi(doi: str) -> str:
    doi = doi.strip().lower()
    doi = re.sub(r"^(https?://)?(dx\.)?doi\.org/", "", doi)
    return doi.rstrip(".;,)")


def record_id(found: Found) -> str:
    """The record's key in the queue and, once screened, in ``screening.csv``."""
    if found.pmid:
        return f"PMID{found.pmid}"
    if found.pmcid:
        return found.pmcid
    if found.doi:
        return f"DOI:{clean_doi(found.doi)}"
    return "TITLE:" + normalise_title(found.title)[:80].replace(" ", "-")


@dataclass
class Seen:
    """Identifiers and normalised titles already screened or queued."""

    ids: set[str] = field(default_factory=set)
    titles: set[str] = field(default_factory=set)
    citations: list[str] = field(default_factory=list)  # normalised citation texts of screened records

    def keys(self, pmid: str = "", pmcid: str = "", doi: str = "") -> set[str]:
        out = set()
        if pmid:
            out.add(f"pmid:{pmid}")
        if pmcid:
            out.add(f"pmcid:{pmcid.upper()}")
        if doi:
            out.add(f"doi:{clean_doi(doi)}")
        return out

    def add(self, pmid: str = "", pmcid: str = "", doi: str = "", title: str = "") -> None:
        self.ids |= self.keys(pmid, pmcid, doi)
        norm = normalise_title(title)
        if len(norm) >= MIN_TITLE:
            self.titles.add(norm)

    def why_seen(self, found: Found) -> str | None:
        """Which identifier or title already seen matches ``found`` (None if it is new)."""
        hit = self.keys(found.pmid, found.pmcid, found.doi) & self.ids
        if hit:
            return sorted(hit)[0]
        norm = normalise_title(found.title)
        if len(norm) >= MIN_TITLE:
            if norm in self.titles:
                return "title"
            padded = f" {norm} "
            if len(norm.split()) >= MIN_WORDS_IN_CITATION and any(padded in c for c in self.citations):
                return "title"
        return None


def screened(rows: Iterable[dict[str, str]]) -> Seen:
    """Identifiers and titles of the records in ``screening.csv`` (from their addresses and citations)."""
    seen = Seen()
    for row in rows:
        text = " ".join((row.get("record_id", ""), row.get("source_url", ""), row.get("citation", "")))
        seen.ids |= {f"pmid:{m}" for m in PMID_URL.findall(text)}
        seen.ids |= {f"pmid:{m}" for m in re.findall(r"\bPMID:?\s*(\d{4,9})\b", text)}
        seen.ids |= {f"pmcid:{m.upper()}" for m in PMCID_RE.findall(text)}
        seen.ids |= {f"doi:{clean_doi(m)}" for m in DOI_RE.findall(text)}
        seen.citations.append(f" {normalise_title(row.get('citation', ''))} ")
    return seen


def queued(rows: Iterable[dict[str, str]], seen: Seen) -> Seen:
    """``seen`` plus the identifiers and titles of the records waiting in the queue."""
    for row in rows:
        seen.add(row.get("pmid", ""), row.get("pmcid", ""), row.get("doi", ""), row.get("title", ""))
    return seen


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def csv_text(rows: Iterable[dict[str, str]], columns: Iterable[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return next(csv.reader(fh), [])


def stage(path: Path, text: str) -> Path:
    """Write ``text`` beside ``path`` (not yet in place); return the temporary file."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    return tmp


def commit(staged: list[tuple[Path, Path]]) -> None:
    """Rename every staged file into place (after all of them were written)."""
    for tmp, final in staged:
        os.replace(tmp, final)


def discard(staged: list[tuple[Path, Path]]) -> None:
    for tmp, _ in staged:
        tmp.unlink(missing_ok=True)


def queue_row(found: Found, date_found: str, search_id: str) -> dict[str, str]:
    return {
        "record_id": record_id(found),
        "source": found.source,
        "pmid": found.pmid,
        "pmcid": found.pmcid.upper(),
        "doi": clean_doi(found.doi),
        "title": found.title,
        "authors": found.authors,
        "year": found.year,
        "journal": found.journal,
        "abstract": found.abstract,
        "date_found": date_found,
        "search_id": search_id,
    }
