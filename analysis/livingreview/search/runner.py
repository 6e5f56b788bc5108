"""``livingreview search``: re-run every stored strategy for the period since its last run.

Every strategy in ``data/search_strategies.csv`` is run for the entry dates from the day of its
last logged run (or its ``date_from`` on the first run) to today. Records not already screened or
queued are appended to the screening queue ``data/candidates.csv``, and each run is logged in
``data/searches.csv`` with the query as sent, the period, the count the database returned and the
count that was new. All services are asked first; only when every run succeeded are the two files
written, each through a temporary file renamed into place. A failure changes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from livingreview.search import candidates as Q
from livingreview.search.clients import CLIENTS, SOURCE_NAMES, Found, SearchError, Settings

STRATEGIES_FILE = "search_strategies.csv"
SEARCHES_FILE = "searches.csv"
LOG_COLUMNS = ("search_id", "strategy", "strategy_id", "date_from", "date_to", "records_found", "records_new")

Log = Callable[[str], None]


@dataclass
class Run:
    """One strategy's run: what was asked, what came back, what was new."""

    search_id: str
    strategy: dict[str, str]
    since: dt.date
    until: dt.date
    query: str
    count: int = 0
    found: list[Found] = field(default_factory=list)
    new: list[dict[str, str]] = field(default_factory=list)
    duplicates: dict[str, int] = field(default_factory=dict)

    def log_row(self, today: dt.date) -> dict[str, str]:
        name = SOURCE_NAMES[self.strategy["source"]]
        dups = ", ".join(f"{n} by {why}" for why, n in sorted(self.duplicates.items())) or "none"
        return {
            "search_id": self.search_id,
            "source": f"{name} ({self.strategy['interface']})",
            "date_searched": today.isoformat(),
            "strategy": self.query,
            "strategy_id": self.strategy["strategy_id"],
            "date_from": self.since.isoformat(),
            "date_to": self.until.isoformat(),
            "records_found": str(self.count),
            "records_new": str(len(self.new)),
            "notes": (
                f"Run by livingreview search. {len(self.found)} records retrieved of {self.count} reported; "
                f"{len(self.new)} added to the screening queue; not added (already screened, queued or found "
                f"by an earlier strategy of this run): {dups}."
            ),
        }


def next_search_id(rows: list[dict[str, str]], taken: set[str] | None = None) -> str:
    """``S13`` after ``S01``…``S12`` (the highest number plus one, as wide as the widest)."""
    taken = taken or set()
    numbers = [int(m.group(1)) for r in rows if (m := re.fullmatch(r"S(\d+)", r.get("search_id", "")))]
    numbers += [int(t[1:]) for t in taken]
    width = max([len(r["search_id"]) - 1 for r in rows if r.get("search_id", "").startswith("S")] + [2])
    return f"S{max(numbers, default=0) + 1:0{width}d}"


def period(
    strategy: dict[str, str], log_rows: list[dict[str, str]], today: dt.date
) -> tuple[dt.date, dt.date]:
    """Entry dates the next run covers: from the last run's end (or ``date_from``) to today or ``date_to``."""
    ends = [
        r["date_to"] for r in log_rows if r.get("strategy_id") == strategy["strategy_id"] and r.get("date_to")
    ]
    since = dt.date.fromisoformat(max(ends)) if ends else dt.date.fromisoformat(strategy["date_from"])
    until = today
    if strategy.get("date_to"):
        until = min(until, dt.date.fromisoformat(strategy["date_to"]))
    return since, until


def plan_runs(data_dir: Path, today: dt.date) -> list[Run]:
    strategies = Q.read_csv(data_dir / STRATEGIES_FILE)
    if not strategies:
        raise SearchError(f"{STRATEGIES_FILE}: no stored search strategy to run")
    log_rows = Q.read_csv(data_dir / SEARCHES_FILE)
    missing = [c for c in LOG_COLUMNS if c not in Q.header(data_dir / SEARCHES_FILE)]
    if missing:
        raise SearchError(
            f"{SEARCHES_FILE}: missing column(s) {', '.join(missing)}; the run could not be logged"
        )
    runs: list[Run] = []
    for strategy in strategies:
        if strategy.get("source") not in CLIENTS:
            raise SearchError(
                f"{STRATEGIES_FILE}: strategy {strategy.get('strategy_id')!r} has an unknown source"
            )
        since, until = period(strategy, log_rows, today)
        if since > until:
            continue  # the strategy's date range is closed
        query = CLIENTS[strategy["source"]][1](strategy["query"], since, until)
        taken = {r.search_id for r in runs}
        runs.append(Run(next_search_id(log_rows, taken), strategy, since, until, query))
    return runs


def deduplicate(runs: list[Run], seen: Q.Seen, today: dt.date) -> None:
    """Fill each run's ``new`` rows: records not seen before (in order: strategies, then records)."""
    by_id: dict[str, dict[str, str]] = {}
    for run in runs:
        for found in run.found:
            why = seen.why_seen(found)
            if why is not None:
                kind = why.split(":", 1)[0]
                run.duplicates[kind] = run.duplicates.get(kind, 0) + 1
                _complete(by_id, seen, found)
                continue
            row = Q.queue_row(found, today.isoformat(), run.search_id)
            if row["record_id"] in by_id:
                run.duplicates["record_id"] = run.duplicates.get("record_id", 0) + 1
                continue
            seen.add(found.pmid, found.pmcid, found.doi, found.title)
            by_id[row["record_id"]] = row
            for key in seen.keys(found.pmid, found.pmcid, found.doi):
                by_id.setdefault(key, row)
            run.new.append(row)


def _complete(by_id: dict[str, dict[str, str]], seen: Q.Seen, found: Found) -> None:
    """A record found again in this run lends its missing identifiers to the queued copy."""
    for key in seen.keys(found.pmid, found.pmcid, found.doi):
        row = by_id.get(key)
        if row is not None:
            for column, value in (
                ("pmid", found.pmid),
                ("pmcid", found.pmcid.upper()),
                ("doi", Q.clean_doi(found.doi)),
            ):
                if value and not row[column]:
                    row[column] = value
            seen.add(row["pmid"], row["pmcid"], row["doi"], row["title"])
            return


@dataclass
class Outcome:
    runs: list[Run]
    written: list[Path]


def run_search(
    data_dir: Path,
    settings: Settings | None = None,
    today: dt.date | None = None,
    log: Log = print,
    dry_run: bool = False,
) -> Outcome:
    """Run every stored strategy, then write the queue and the search log (or nothing, on failure)."""
    settings = settings or Settings.from_env()
    today = today or dt.date.today()
    runs = plan_runs(data_dir, today)
    for i, run in enumerate(runs, start=1):
        name = SOURCE_NAMES[run.strategy["source"]]
        log(f"[{i}/{len(runs)}] {run.strategy['strategy_id']}: {name}, entries {run.since} to {run.until} …")
        client = CLIENTS[run.strategy["source"]][0]
        run.count, run.found = client(run.strategy["query"], run.since, run.until, settings, log)
    queue_path = data_dir / Q.QUEUE_FILE
    log_path = data_dir / SEARCHES_FILE
    queue = Q.read_csv(queue_path)
    log_rows = Q.read_csv(log_path)
    seen = Q.queued(queue, Q.screened(Q.read_csv(data_dir / "screening.csv")))
    deduplicate(runs, seen, today)
    for run in runs:
        log(
            f"{run.search_id} {run.strategy['strategy_id']}: {run.count} found, {len(run.new)} new"
            + (
                f" ({sum(run.duplicates.values())} already screened, queued or found twice)"
                if run.duplicates
                else ""
            )
        )
    if dry_run:
        return Outcome(runs, [])
    columns = Q.header(log_path)
    new_queue = queue + [row for run in runs for row in run.new]
    new_log = log_rows + [run.log_row(today) for run in runs]
    staged = [
        (Q.stage(queue_path, Q.csv_text(new_queue, Q.QUEUE_COLUMNS)), queue_path),
        (Q.stage(log_path, Q.csv_text(new_log, columns)), log_path),
    ]
    try:
        Q.commit(staged)
    finally:
        Q.discard(staged)
    return Outcome(runs, [queue_path, log_path])
