"""Bibliography rules: complete records for included studies, visible 'not verified' flags, safe links.

Each problem is a ``(file, line, field, message)`` tuple, printed by the validator as
``file:line:field: message``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from livingreview.data.bib import Bibliography, Entry

AUTHOR_FLAG = "[Authors not verified]"
TITLE_FLAG = "[Title not verified]"
YEAR_FLAG = "[year not verified]"
FLAG = re.compile(r"\[[^\[\]]*\bnot verified\b[^\[\]]*\]", re.IGNORECASE)
REQUIRED = ("author", "title", "year")
INCLUDED_RELEVANCE = frozenset({"A", "B", "C"})
UNVERIFIABLE = frozenset(
    {"author", "title", "journal", "year", "month", "volume", "number", "pages", "doi", "pmid", "pmcid"}
    | {"url", "issn", "publisher"}
)
SAFE_URL = re.compile(r"https?://[^\s\"'<>\\{}`]+", re.IGNORECASE)
LINK_COMMAND = re.compile(r"\\(href|url)\s*\{")
# Copies that readers must not be sent to: file-sharing and aggregator copies, a bare-IP PubMed mirror.
COPY_HOSTS = ("scribd.com", "vdocuments.", "docksci.com", "coek.info", "docslib.org")
BARE_IP = re.compile(r"https?://\d{1,3}(?:\.\d{1,3}){3}(?:[:/]|$)", re.IGNORECASE)
DOI = re.compile(r"10\.\d{4,9}/[^\s\"'<>\\{}`]+")
YEAR = re.compile(r"\d{4}")


def included_keys(studies: Iterable[dict[str, str]], screening: Iterable[dict[str, str]]) -> set[str]:
    """Citation keys of the included studies: arm relevance A-C, or screened as 'included'."""
    screened = {r.get("study_id", "") for r in screening if r.get("decision", "").strip() == "included"}
    return {
        row.get("citation_key", "")
        for row in studies
        if row.get("citation_key")
        and (row.get("arm_relevance", "").strip() in INCLUDED_RELEVANCE or row.get("study_id") in screened)
    }


def _braced(text: str, start: int) -> str:
    """The argument of a LaTeX command whose opening brace is at ``start`` (nested braces kept)."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start + 1 : i]
    return text[start + 1 :]


def _links(value: str) -> Iterator[tuple[str, str]]:
    """(command, target) of every ``\\href{...}`` and ``\\url{...}`` in a field value."""
    for match in LINK_COMMAND.finditer(value):
        yield match.group(1), _braced(value, match.end() - 1).strip()


def _unverified(entry: Entry) -> tuple[set[str], list[str]]:
    names = [n.strip().lower() for n in entry.fields.get("unverified", "").split(",") if n.strip()]
    return set(names), [n for n in names if n not in UNVERIFIABLE]


def _check_entry(entry: Entry, file: str, included: bool) -> Iterator[tuple[str, int, str, str]]:
    key, fields = entry.key, entry.fields
    unverified, unknown = _unverified(entry)
    for name in unknown:
        yield (file, entry.line_of("unverified"), "unverified", f"{key}: unknown field name {name!r}")
    if included:
        for name in REQUIRED:
            if not fields.get(name, "").strip("{} "):
                flag = {"author": "{" + AUTHOR_FLAG + "}", "title": TITLE_FLAG, "year": YEAR_FLAG}[name]
                yield (
                    file,
                    entry.line,
                    name,
                    f"{key} is an included study: its entry needs {name} (as printed in a source, "
                    f"or the flag {flag} with {name!r} listed in 'unverified')",
                )
    for name in REQUIRED:
        value = fields.get(name, "")
        flagged = bool(FLAG.search(value))
        if flagged and name not in unverified:
            yield (
                file,
                entry.line_of(name),
                name,
                f"{key}: {name} is flagged 'not verified' but not listed in 'unverified'",
            )
        if name in unverified and value and not flagged:
            yield (
                file,
                entry.line_of(name),
                name,
                f"{key}: {name} is listed in 'unverified' but would render without a flag; "
                f"write the flag (e.g. {YEAR_FLAG if name == 'year' else AUTHOR_FLAG}) or verify the value",
            )
        if name in unverified and not value:
            yield (
                file,
                entry.line,
                name,
                f"{key}: {name} is unverified: give it the visible 'not verified' flag",
            )
    year = fields.get("year", "")
    if year and not YEAR.fullmatch(year) and year != YEAR_FLAG:
        yield (
            file,
            entry.line_of("year"),
            "year",
            f"{key}: year {year!r} is not a four-digit year or {YEAR_FLAG!r}",
        )
    doi = fields.get("doi", "")
    if doi and not DOI.fullmatch(doi):
        yield (file, entry.line_of("doi"), "doi", f"{key}: doi {doi!r} is not a DOI (10.NNNN/...)")
    url = fields.get("url", "")
    if url and not SAFE_URL.fullmatch(url):
        yield (
            file,
            entry.line_of("url"),
            "url",
            f"{key}: url {url!r} is not an http(s) address; only http(s) links are allowed",
        )
    if url and SAFE_URL.fullmatch(url) and (BARE_IP.match(url) or any(h in url.lower() for h in COPY_HOSTS)):
        yield (
            file,
            entry.line_of("url"),
            "url",
            f"{key}: url {url!r} is a copy or a mirror; link the DOI, PubMed, PMC or publisher record "
            "(other addresses belong in note)",
        )
    for name, value in fields.items():
        for command, target in _links(value):
            if not SAFE_URL.fullmatch(target):
                yield (
                    file,
                    entry.line_of(name),
                    name,
                    f"{key}: \\{command} to {target!r} would become a link; "
                    "only http(s) addresses are allowed",
                )


def check_bibliography(
    bib: Bibliography, file: str, included: Iterable[str] = ()
) -> Iterator[tuple[str, int, str, str]]:
    """Problems of every entry of ``bib`` (named ``file``); ``included`` keys must be complete."""
    wanted = set(included)
    for entry in bib.entries:
        yield from _check_entry(entry, file, entry.key in wanted)
