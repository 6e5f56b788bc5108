"""Reading the bibliography (BibTeX) with bibtexparser."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import bibtexparser


@dataclass(frozen=True)
class Bibliography:
    """Entry keys of a BibTeX file and the blocks that failed to parse (with their lines)."""

    keys: frozenset[str]
    failed: tuple[tuple[int, str], ...]
    duplicates: tuple[tuple[int, str], ...]


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
    return Bibliography(keys=keys, failed=tuple(failed), duplicates=tuple(duplicates))


def bibliography_keys(*paths: Path) -> set[str]:
    """All entry keys across several BibTeX files."""
    keys: set[str] = set()
    for path in paths:
        if path.is_file():
            keys |= read_bibliography(path).keys
    return keys
