"""Reading the bibliography (BibTeX) with bibtexparser."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import bibtexparser


@dataclass(frozen=True)
class Entry:
    """One BibTeX entry: its key, its 1-based line, its fields (lower-case names) and their lines."""

    key: str
    line: int
    fields: Mapping[str, str]
    lines: Mapping[str, int]

    def line_of(self, name: str) -> int:
        """The line of field ``name``, or the entry's own line when the field is absent."""
        return self.lines.get(name, self.line)


@dataclass(frozen=True)
class Bibliography:
    """Entry keys of a BibTeX file and the blocks that failed to parse (with their lines)."""

    keys: frozenset[str]
    failed: tuple[tuple[int, str], ...]
    duplicates: tuple[tuple[int, str], ...]
    entries: tuple[Entry, ...] = field(default=())


def _entry(block: object) -> Entry:
    fields = {f.key.lower(): str(f.value).strip() for f in block.fields}  # type: ignore[attr-defined]
    lines = {f.key.lower(): (f.start_line or 0) + 1 for f in block.fields}  # type: ignore[attr-defined]
    return Entry(block.key, (block.start_line or 0) + 1, fields, lines)  # type: ignore[attr-defined]


def read_bibliography(path: Path) -> Bibliography:
    """Parse ``path``; never raises on malformed entries, reports them instead."""
    library = bibtexparser.parse_string(path.read_text(encoding="utf-8"))
    failed: list[tuple[int, str]] = []
    duplicates: list[tuple[int, str]] = []
    for block in library.failed_blocks:
        line = (block.start_line or 0) + 1
        key = getattr(block, "key", None)
        if key is not None and "Duplicate" in type(block).__name__:
            duplicates.append((line, key))
        else:
            failed.append((line, type(block).__name__))
    keys = frozenset(entry.key for entry in library.entries)
    entries = tuple(_entry(entry) for entry in library.entries)
    return Bibliography(keys=keys, failed=tuple(failed), duplicates=tuple(duplicates), entries=entries)


def bibliography_keys(*paths: Path) -> set[str]:
    """All entry keys across several BibTeX files."""
    keys: set[str] = set()
    for path in paths:
        if path.is_file():
            keys |= read_bibliography(path).keys
    return keys
