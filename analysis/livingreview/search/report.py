"""The search strategies and the yield of every run, as the book shows them (PRISMA item 7, PRISMA-LSR)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from livingreview.search.candidates import QUEUE_FILE, read_csv

if TYPE_CHECKING:  # great_tables loads only when a table is made (the book's variables need none)
    from great_tables import GT

SOURCE_LABELS = {"pubmed": "PubMed", "europepmc": "Europe PMC"}
INCEPTION = "1900-01-01"


def _date_range(row: dict[str, str]) -> str:
    start = "database inception" if row["date_from"] == INCEPTION else row["date_from"]
    return f"{start} to {row['date_to'] or 'the date of each run (living)'}"


def strategies_table(data_dir: Path) -> GT:
    """Every stored strategy: database, interface, full query, limits and the dates it covers."""
    from great_tables import GT, loc, style

    rows = read_csv(Path(data_dir) / "search_strategies.csv")
    frame = pd.DataFrame(
        {
            "strategy": [f"{r['strategy_id']}: {SOURCE_LABELS.get(r['source'], r['source'])}" for r in rows],
            "interface": [r["interface"] for r in rows],
            "query": [r["query"] for r in rows],
            "limits": [f"{r['filters']}. Entry dates: {_date_range(r)} ({r['date_field']})." for r in rows],
        }
    )
    return (
        GT(frame, id="tbl-search-strategies-gt")
        .cols_label(
            strategy="Strategy", interface="Run through", query="Full query", limits="Limits and dates"
        )
        .tab_style(style.text(font="monospace", size="small"), loc.body(columns="query"))
        .tab_source_note(
            "Source: data/search_strategies.csv. `livingreview search` runs each query for the entry dates "
            "since its last run and logs the run, with the query exactly as sent, in data/searches.csv."
        )
    )


def runs_frame(data_dir: Path) -> pd.DataFrame:
    rows = [r for r in read_csv(Path(data_dir) / "searches.csv") if r.get("strategy_id")]
    return pd.DataFrame(
        {
            "search": [r["search_id"] for r in rows],
            "strategy": [r["strategy_id"] for r in rows],
            "date": [r["date_searched"] for r in rows],
            "period": [f"{r['date_from']} to {r['date_to']}" for r in rows],
            "found": [int(r["records_found"]) for r in rows],
            "new": [int(r["records_new"]) for r in rows],
        },
        columns=["search", "strategy", "date", "period", "found", "new"],
    )


def runs_table(data_dir: Path) -> GT:
    """The yield of every run of a stored strategy: records found and records new to screening."""
    from great_tables import GT

    frame = runs_frame(data_dir)
    if frame.empty:
        frame = pd.DataFrame(
            [{"search": "none yet", "strategy": "", "date": "", "period": "", "found": "", "new": ""}]
        )
    return (
        GT(frame, id="tbl-search-runs-gt")
        .cols_label(
            search="Search",
            strategy="Strategy",
            date="Run on",
            period="Entry dates covered",
            found="Records found",
            new="New to screening",
        )
        .tab_source_note(
            "Source: data/searches.csv (rows with a strategy). New records are those not already screened, "
            "queued or found by an earlier strategy of the same run (same PMID, PMCID or DOI, or the same "
            "title after normalisation)."
        )
    )


def search_variables(data_dir: Path) -> dict[str, Any]:
    """``search.*`` of ``_variables.yml``: strategies, runs and their yield, and the screening queue."""
    data_dir = Path(data_dir)
    strategies = read_csv(data_dir / "search_strategies.csv")
    runs = runs_frame(data_dir)
    queue = read_csv(data_dir / QUEUE_FILE)
    last = runs["date"].max() if len(runs) else None
    latest = runs[runs["date"] == last] if last else runs
    names = [SOURCE_LABELS.get(r["source"], r["source"]) for r in strategies]
    return {
        "n_strategies": len(strategies),
        "databases": " and ".join(dict.fromkeys(names)) if names else "none",
        "n_runs": len(runs),
        "last_run": last or "not yet run",
        "found_last_run": int(latest["found"].sum()) if last else 0,
        "new_last_run": int(latest["new"].sum()) if last else 0,
        "found_total": int(runs["found"].sum()),
        "new_total": int(runs["new"].sum()),
        "n_queued": len(queue),
        "runs_sentence": (
            "No stored strategy has been run yet: the first scheduled run will cover every record entered "
            "since each database began."
            if not last
            else f"The latest run ({last}) found {int(latest['found'].sum())} records, of which "
            f"{int(latest['new'].sum())} were new to screening; {len(queue)} "
            f"{'record waits' if len(queue) == 1 else 'records wait'} in the screening queue."
        ),
    }
