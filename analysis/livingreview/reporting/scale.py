"""Keeping figures and tables readable at any size: the rows a screen can show, and a note on the rest."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_FIGURE_ROWS = 40  # one row per study or association: beyond this a figure shows the largest ones
MAX_TABLE_ROWS = 150  # longer tables show their first rows in the book; the CSV holds them all


def largest(frame: pd.DataFrame, key: str, size: pd.Series, limit: int = MAX_FIGURE_ROWS) -> pd.DataFrame:
    """The rows of ``frame`` whose ``key`` has the largest ``size`` (ties by key), in their original order."""
    keys = frame[key].drop_duplicates()
    if len(keys) <= limit:
        return frame
    ranked = (
        pd.DataFrame({"key": keys.to_numpy(), "size": size.reindex(keys.to_numpy()).fillna(-1).to_numpy()})
        .sort_values(["size", "key"], ascending=[False, True], kind="stable")
        .head(limit)
    )
    return frame[frame[key].isin(set(ranked["key"]))]


def shown_note(shown: int, total: int, noun: str, source: str) -> str:
    return f"Showing the {shown:,} {noun} with the most participants of {total:,}; all are in {source}."


def add_note(fig: Figure, text: str) -> None:
    """A one-line note under a figure that shows only part of the data."""
    fig.text(0.01, 0.002, text, fontsize=7.5, ha="left", va="bottom", style="italic")


def head_note(total: int, source: str, limit: int = MAX_TABLE_ROWS) -> str | None:
    """Source note of a table cut to its first ``limit`` rows (None when it is shown whole)."""
    if total <= limit:
        return None
    return f"Showing the first {limit:,} of {total:,} rows; the full table is {source}."
