"""Validator hook: the search log, the screening queue and the records screened from it agree."""

from __future__ import annotations

from collections.abc import Iterator

from livingreview.search.candidates import QUEUE_FILE
from livingreview.search.screen import check_reasons


def check_rows(tables: dict[str, list[dict[str, str]]]) -> Iterator[tuple[str, int, str, str]]:
    """Validator hook: the logged search runs, the queue and the records screened from it agree."""
    searches, queue = tables.get("searches", []), tables.get("candidates", [])
    screening = tables.get("screening", [])
    runs = [r for r in searches if r.get("strategy_id")]
    strategies = {r.get("strategy_id") for r in tables.get("search_strategies", [])}
    for run in runs:
        pos = int(run["_row"])
        if run["strategy_id"] not in strategies:
            yield (
                "searches.csv",
                pos,
                "strategy_id",
                f"{run['strategy_id']!r} is not in search_strategies.csv",
            )
        for column in ("date_from", "date_to", "records_found", "records_new"):
            if column in run and not run[column].strip():
                yield ("searches.csv", pos, column, f"a run of strategy {run['strategy_id']} needs {column}")
        found, new = run.get("records_found", ""), run.get("records_new", "")
        if found.isdigit() and new.isdigit() and int(new) > int(found):
            yield ("searches.csv", pos, "records_new", f"{new} new records but only {found} found")
        if run.get("date_from", "") > run.get("date_to", "") > "" or run.get("date_to", "") > run.get(
            "date_searched", ""
        ):
            yield (
                "searches.csv",
                pos,
                "date_to",
                "the period searched must end on or before the search date",
            )
    yield from check_reasons(screening)
    screened_ids = {r.get("record_id") for r in screening}
    for row in queue:
        if row.get("record_id") in screened_ids:
            yield (QUEUE_FILE, int(row["_row"]), "record_id", "record is queued but already in screening.csv")
    from_queue = sum(1 for r in screening if r.get("notes_file") == QUEUE_FILE)
    logged = sum(int(r["records_new"]) for r in runs if r.get("records_new", "").isdigit())
    if runs and logged != len(queue) + from_queue:
        yield (
            QUEUE_FILE,
            0,
            "-",
            f"the search log records {logged} new records, but {len(queue)} are queued and {from_queue} "
            "were screened from the queue: records were added to or removed from the queue by hand",
        )
