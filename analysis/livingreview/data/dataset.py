"""Loading the extraction dataset into typed pandas tables, as the data package describes it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from livingreview.data.cells import CellError, DataError, parse_cell, read_records

TABLES = ("studies", "effects", "screening", "searches", "syntheses")
DOMAINS = ("symptoms", "adherence", "retention", "satisfaction", "other")
RELEVANCE = ("A", "B", "C", "D")
RELEVANCE_LABELS = {
    "A": "Prescriber alliance in a medication or placebo arm",
    "B": "Medication patients pooled with psychotherapy arms",
    "C": "Psychotherapist alliance while on medication",
    "D": "Adjacent construct, intervention or population",
}


@dataclass(frozen=True)
class Dataset:
    """The five tables of the extraction dataset plus its data package descriptor."""

    studies: pd.DataFrame
    effects: pd.DataFrame
    screening: pd.DataFrame
    searches: pd.DataFrame
    syntheses: pd.DataFrame
    package: dict

    def fields(self, table: str) -> list[dict]:
        """Field descriptors of ``table`` from ``datapackage.json``."""
        for resource in self.package["resources"]:
            if resource["name"] == table:
                return resource["schema"]["fields"]
        raise KeyError(table)

    def effects_with_studies(self) -> pd.DataFrame:
        """Effects joined with the study columns they need (relevance, design, diagnosis, …)."""
        cols = [
            "study_id",
            "year",
            "design",
            "diagnosis",
            "country",
            "arm_relevance",
            "extraction_level",
            "n_analysed",
        ]
        cols += [c for c in ("n_relevant_arms",) if c in self.studies]
        studies = self.studies[cols]
        if "arm_relevance" in self.effects:  # the association's own category wins (v0.2.0 data)
            studies = studies.rename(columns={"arm_relevance": "study_arm_relevance"})
        return self.effects.merge(studies, on="study_id", how="left", validate="m:1")


def _read_table(path: Path, fields: list[dict]) -> pd.DataFrame:
    """``path`` read by column name and typed as ``fields`` say, with the validator's parser.

    Raises :class:`DataError` (one ``file:row:column: message`` line) on a cell the validator
    would reject; validate first.
    """
    header, records = read_records(path)
    records = [r for r in records if r]
    columns = {name: [r[i] if i < len(r) else "" for r in records] for i, name in enumerate(header)}
    frame = pd.DataFrame(columns, columns=list(dict.fromkeys(header)), dtype=str)
    for field in fields:
        name, kind = field["name"], field["type"]
        if name not in columns or kind == "string":
            continue
        values = []
        for row, text in enumerate(columns[name], start=2):
            try:
                values.append(parse_cell(kind, text))
            except CellError as err:
                raise DataError(f"{path.name}:{row}:{name}: {err}") from None
        if kind == "integer":
            frame[name] = pd.array(values, dtype="Int64")
        elif kind == "number":
            frame[name] = pd.array(values, dtype="Float64")
        else:
            frame[name] = pd.Series(values, dtype=object)
    return frame


def load_dataset(data_dir: Path) -> Dataset:
    """Read every table of the data package in ``data_dir`` (validate it first)."""
    data_dir = Path(data_dir)
    package = json.loads((data_dir / "datapackage.json").read_text(encoding="utf-8"))
    frames = {
        resource["name"]: _read_table(data_dir / resource["path"], resource["schema"]["fields"])
        for resource in package["resources"]
    }
    key_of = {
        "studies": "study_id",
        "effects": "effect_id",
        "screening": "record_id",
        "searches": "search_id",
        "syntheses": "synthesis_id",
    }
    for name, key in key_of.items():
        frames[name] = frames[name].sort_values(key, kind="stable").reset_index(drop=True)
    return Dataset(package=package, **{name: frames[name] for name in TABLES})
