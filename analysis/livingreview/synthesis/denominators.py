"""The review's one denominator policy, applied by code: studies are the unit unless a sentence says
otherwise, and participants are counted in the arms that give the arm-A associations.

Participants come from ``studies.n_relevant_arms`` (the analysed N of the medication and pill-placebo
arms, printed or summed from printed arm sizes); a study without it is counted as "not reported",
never replaced by the whole trial's N. Data of releases before the column existed fall back to
``n_analysed``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Participants:
    """Participants of a set of studies: the sum where reported and how many studies lack it."""

    total: int
    n_studies: int
    without_n: int
    largest_study: str | None
    largest_n: int

    @property
    def largest_share(self) -> float:
        return self.largest_n / self.total if self.total else 0.0


def relevant_n(studies: pd.DataFrame) -> pd.Series:
    """Analysed N of the relevant arms per study id (missing where not reported)."""
    column = "n_relevant_arms" if "n_relevant_arms" in studies else "n_analysed"
    return studies.set_index("study_id")[column].astype("Float64")


def participants(studies: pd.DataFrame, study_ids: Iterable[str]) -> Participants:
    """Participants in the relevant arms of ``study_ids`` (each study once)."""
    ids = sorted(set(study_ids))
    n = relevant_n(studies).reindex(ids)
    known = n.dropna()
    largest = str(known.idxmax()) if len(known) else None
    return Participants(
        total=int(known.sum()),
        n_studies=len(ids),
        without_n=int(n.isna().sum()),
        largest_study=largest,
        largest_n=int(known.max()) if len(known) else 0,
    )
