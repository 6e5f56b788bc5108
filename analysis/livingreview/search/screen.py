"""``livingreview screen``: decide on the queued records and move each decision into ``screening.csv``.

A decision is one of the screening table's own decisions (read from ``datapackage.json``); a record
that is excluded or set aside needs a reason from a closed vocabulary (:data:`REASONS`), worded so
that the PRISMA flow puts it in the right box. Each decision is written at once: the record leaves
``candidates.csv`` and joins ``screening.csv`` in one step (temporary files renamed into place).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from livingreview.search import candidates as Q

SCREENING_FILE = "screening.csv"
NOTES_FILE = "candidates.csv"  # the notes_file of a record screened from the queue

# Closed vocabulary of reasons: code → text stored in screening.csv (a note may follow after ": ").
# Exclusion texts are the PRISMA flow's own group labels (livingreview.reporting.prisma.EXCLUSION_GROUPS).
REASONS: dict[str, dict[str, str]] = {
    "excluded": {
        "population": "Population not depression or anxiety",
        "no-medication": "No medication arm, or none reported",
        "outcome": "Outcome not eligible or not measured",
        "not-primary": "Not a primary study (review, editorial, secondary source)",
        "same-sample": "Same sample as an included study",
        "no-result": "No usable result in the text read",
        "other": "Other reason",
    },
    "adjacent": {
        "construct": "adjacent construct",
        "population": "adjacent population",
        "treatment": "adjacent treatment",
        "other": "adjacent, other",
    },
    "synthesis": {"review": "existing systematic review or meta-analysis (context only)"},
    "awaiting": {
        "full-text": "awaiting classification: full text not yet obtained",
        "results": "awaiting classification: results not yet reported",
        "unclear": "awaiting classification: eligibility unclear from the record",
    },
}
NEEDS_NOTE = {"other"}
NEEDS_STUDY = {"included", "adjacent"}
ACTIONS = {
    "include": "included",
    "exclude": "excluded",
    "adjacent": "adjacent",
    "synthesis": "synthesis",
    "awaiting": "awaiting",
}


class ScreenError(ValueError):
    """A decision that cannot be recorded; nothing was written."""


def decisions_allowed(data_dir: Path) -> list[str]:
    """The screening table's decision vocabulary, from its schema in ``datapackage.json``."""
    package = json.loads((data_dir / "datapackage.json").read_text(encoding="utf-8"))
    for resource in package["resources"]:
        if resource["name"] == "screening":
            for f in resource["schema"]["fields"]:
                if f["name"] == "decision":
                    return list(f.get("constraints", {}).get("enum", []))
    raise ScreenError("datapackage.json describes no screening decision")


def stored_decision(action: str, allowed: list[str]) -> str:
    """The table's word for ``action`` (include → included; awaiting → the table's awaiting decision)."""
    if action not in ACTIONS:
        raise ScreenError(f"decision {action!r} is not one of {', '.join(ACTIONS)}")
    word = ACTIONS[action]
    match = [d for d in allowed if d == word or (word == "awaiting" and d.startswith("awaiting"))]
    if not match:
        raise ScreenError(f"the screening table has no {word!r} decision (allowed: {', '.join(allowed)})")
    return match[0]


def reason_text(decision: str, code: str | None, note: str | None) -> str:
    """The stored reason for ``decision`` from a vocabulary ``code`` and an optional ``note``."""
    note = " ".join((note or "").split())
    kind = "awaiting" if decision.startswith("awaiting") else decision
    vocabulary = REASONS.get(kind)
    if vocabulary is None:  # included
        if code:
            raise ScreenError("an included record takes no reason")
        return note
    if not code:
        raise ScreenError(f"a {decision} record needs --reason, one of: {', '.join(vocabulary)}")
    if code not in vocabulary:
        raise ScreenError(f"reason {code!r} is not one of: {', '.join(vocabulary)}")
    if code in NEEDS_NOTE and not note:
        raise ScreenError(f"reason {code!r} needs --note saying what the reason is")
    return vocabulary[code] + (f": {note}" if note else "")


def citation(row: dict[str, str]) -> str:
    """Citation text for ``screening.csv``: authors, title, journal, year and identifiers."""
    ids = [f"PMID {row['pmid']}" if row.get("pmid") else "", row.get("pmcid", ""), row.get("doi", "")]
    ids = [i if not i.startswith("10.") else f"doi:{i}" for i in ids if i]
    parts = [row.get("authors", "") or "[authors not given]", row["title"].rstrip(".")]
    tail = " ".join(p for p in (row.get("journal", ""), row.get("year", "")) if p)
    text = ". ".join(p for p in (*parts, tail) if p)
    return text + (f" ({'; '.join(ids)})" if ids else "")


def source_url(row: dict[str, str]) -> str:
    if row.get("pmid"):
        return f"https://pubmed.ncbi.nlm.nih.gov/{row['pmid']}/"
    if row.get("pmcid"):
        return f"https://pmc.ncbi.nlm.nih.gov/articles/{row['pmcid']}/"
    if row.get("doi"):
        return f"https://doi.org/{row['doi']}"
    return ""


@dataclass(frozen=True)
class Decision:
    record_id: str
    action: str
    reason: str | None = None
    note: str | None = None
    study_id: str | None = None
    full_text: bool = False  # the full report was retrieved and read (not only the abstract)


def record_decision(data_dir: Path, decision: Decision) -> dict[str, str]:
    """Move one queued record into ``screening.csv`` with ``decision``; return the row written."""
    queue_path, screening_path = data_dir / Q.QUEUE_FILE, data_dir / SCREENING_FILE
    queue = Q.read_csv(queue_path)
    match = [r for r in queue if r["record_id"] == decision.record_id]
    if not match:
        raise ScreenError(f"{decision.record_id!r} is not in the screening queue ({Q.QUEUE_FILE})")
    screening = Q.read_csv(screening_path)
    if any(r["record_id"] == decision.record_id for r in screening):
        raise ScreenError(f"{decision.record_id!r} is already in {SCREENING_FILE}")
    stored = stored_decision(decision.action, decisions_allowed(data_dir))
    reason = reason_text(stored, decision.reason, decision.note)
    study = (decision.study_id or "").strip()
    if stored in NEEDS_STUDY and not study:
        raise ScreenError(f"an {stored} record needs --study-id (the study it will have in studies.csv)")
    if stored not in NEEDS_STUDY and study:
        raise ScreenError(f"an {stored} record names no study")
    queued = match[0]
    row = {
        "record_id": queued["record_id"],
        "citation": citation(queued),
        "study_id": study,
        "decision": stored,
        "reason": reason,
        "source_url": source_url(queued),
        "notes_file": NOTES_FILE,
        "full_text_retrieved": "yes" if decision.full_text else "no",
    }
    columns = Q.header(screening_path)
    rest = [r for r in queue if r["record_id"] != decision.record_id]
    staged = [
        (Q.stage(screening_path, Q.csv_text([*screening, row], columns)), screening_path),
        (Q.stage(queue_path, Q.csv_text(rest, Q.QUEUE_COLUMNS)), queue_path),
    ]
    try:
        Q.commit(staged)
    finally:
        Q.discard(staged)
    return row


def show(row: dict[str, str], width: int = 100) -> str:
    """A queued record as the screener reads it."""
    ids = ", ".join(f"{k.upper()} {row[k]}" for k in ("pmid", "pmcid", "doi") if row.get(k))
    lines = [
        f"{row['record_id']}  (found {row['date_found']} by {row['search_id']}, {row['source']})",
        textwrap.fill(row["title"], width),
        textwrap.fill(row.get("authors", "") or "[authors not given]", width),
        " · ".join(p for p in (row.get("journal", ""), row.get("year", ""), ids) if p),
        "",
        textwrap.fill(row.get("abstract", "") or "[no abstract]", width),
    ]
    return "\n".join(lines)


def vocabulary_text() -> str:
    lines = []
    for kind, codes in REASONS.items():
        lines.append(f"{kind}: " + "; ".join(f"{code} = {text}" for code, text in codes.items()))
    return "\n".join(lines)


def interactive(data_dir: Path, ask: Callable[[str], str] = input, log: Callable[[str], None] = print) -> int:
    """Show queued records one by one and record each decision as it is made; return how many.

    Every decision is saved when it is made, so quitting (``q``, end of input or Ctrl-C) loses nothing.
    """
    done: list[str] = []
    try:
        _screen_queue(data_dir, ask, log, done)
    except (EOFError, KeyboardInterrupt):
        log(f"\nstopped: {len(done)} decisions recorded, the rest stay in the queue")
    return len(done)


KEYS = {"i": "include", "e": "exclude", "a": "adjacent", "y": "synthesis", "w": "awaiting"}
PROMPT = "\n[i]nclude [e]xclude [a]djacent [y] synthesis [w] awaiting [s]kip [q]uit: "


def _screen_queue(
    data_dir: Path, ask: Callable[[str], str], log: Callable[[str], None], done: list[str]
) -> None:
    queue = Q.read_csv(data_dir / Q.QUEUE_FILE)
    log(f"{len(queue)} records in the screening queue")
    for i, row in enumerate(queue, start=1):
        log(f"\n[{i}/{len(queue)}] " + show(row))
        while True:
            key = ask(PROMPT).strip().lower()
            if key in {"q", "quit"}:
                return
            if key in {"s", "skip", ""}:
                break
            action = KEYS.get(key)
            if action is None:
                continue
            kind = {"include": None, "exclude": "excluded", "adjacent": "adjacent"}.get(action, action)
            reason = note = study = None
            if kind is not None:
                log("  reasons: " + "; ".join(f"{c} = {t}" for c, t in REASONS[kind].items()))
                reason = ask("  reason code: ").strip() or None
                note = ask("  note (optional): ").strip() or None
            if action in {"include", "adjacent"}:
                study = ask("  study_id (as it will be in studies.csv): ").strip() or None
            try:
                written = record_decision(data_dir, Decision(row["record_id"], action, reason, note, study))
            except ScreenError as err:
                log(f"  not recorded: {err}")
                continue
            log(
                f"  recorded: {written['decision']}"
                + (f" ({written['reason']})" if written["reason"] else "")
            )
            done.append(row["record_id"])
            break


def check_reasons(screening: list[dict[str, str]]) -> Iterator[tuple[str, int, str, str]]:
    """Validator hook: a record screened from the queue has a reason from the vocabulary."""
    for row in screening:
        if row.get("notes_file") != NOTES_FILE or row.get("decision") == "included":
            continue
        kind = "awaiting" if row.get("decision", "").startswith("awaiting") else row.get("decision", "")
        texts = REASONS.get(kind, {}).values()
        reason = row.get("reason", "")
        if not any(reason == text or reason.startswith(text + ": ") for text in texts):
            yield (
                SCREENING_FILE,
                int(row["_row"]),
                "reason",
                f"{reason!r} is not a reason the screening vocabulary allows for a record marked {kind} "
                "(livingreview screen --reasons)",
            )
