"""Validation of the extraction dataset: file, schema, cross-table and bibliography checks.

Every problem is reported as ``file:row:column: message`` where ``row`` is the row's position
in the file with the header as row 1 (``0`` for problems of the whole file) and ``column`` is
the field name (``-`` when no single column is at fault).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from livingreview import candidates, rules
from livingreview.bib import read_bibliography
from livingreview.bibcheck import check_bibliography, included_keys

NAN_TEXT = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
NA_TEXT = {"na", "n/a", "null", "none", "-"}  # in typed columns: leave the cell empty
TYPED = {"integer", "number", "date", "boolean"}
BIB_FILE = "references.bib"


@dataclass(frozen=True, order=True)
class Problem:
    """One validation problem, printable as ``file:row:column: message``."""

    file: str
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.row}:{self.column}: {self.message}"


@dataclass(frozen=True)
class Report:
    """Outcome of validating a data directory."""

    problems: tuple[Problem, ...]
    counts: dict[str, int]

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        parts = ", ".join(f"{n} {name}" for name, n in self.counts.items())
        if self.ok:
            return f"data valid: {parts}"
        return f"data invalid: {len(self.problems)} problem(s) in {parts}"


Rows = list[dict[str, str]]


def _read_text(path: Path, name: str, problems: list[Problem]) -> str | None:
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        problems.append(
            Problem(name, 1, "-", "file starts with a byte-order mark; save as UTF-8 without BOM")
        )
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        problems.append(Problem(name, line, "-", f"not valid UTF-8 (byte 0x{raw[err.start]:02x})"))
        return None


def _parse_csv(text: str, name: str, fields: dict[str, str], problems: list[Problem]) -> Rows:
    """Rows as dicts keyed by the schema's fields; checks header, raggedness and odd text."""
    reader = csv.reader(text.splitlines(keepends=True))
    header = next(reader, None)
    if header is None:
        problems.append(Problem(name, 0, "-", "file is empty (no header row)"))
        return []
    for column, count in Counter(header).items():
        if count > 1:
            problems.append(Problem(name, 1, column, "duplicate column"))
    for column in header:
        if column not in fields:
            problems.append(Problem(name, 1, column or "-", f"unknown column {column!r}"))
    for column in fields:
        if column not in header:
            problems.append(Problem(name, 1, column, "missing column"))
    rows: Rows = []
    for position, cells in enumerate(reader, start=2):
        if not any(c.strip() for c in cells):
            problems.append(Problem(name, position, "-", "blank row"))
            continue
        if len(cells) != len(header):
            problems.append(
                Problem(name, position, "-", f"row has {len(cells)} cells, header has {len(header)}")
            )
        row = {col: (cells[i] if i < len(cells) else "") for i, col in enumerate(header)}
        for column, value in row.items():
            lowered = value.strip().lower()
            if lowered in NAN_TEXT:
                problems.append(
                    Problem(name, position, column, f"{value!r} is not allowed; leave the cell empty")
                )
            elif lowered in NA_TEXT and fields.get(column) in TYPED:
                problems.append(
                    Problem(
                        name,
                        position,
                        column,
                        f"{value!r} used as missing value; leave the cell empty",
                    )
                )
            elif value != value.strip():
                problems.append(Problem(name, position, column, "leading or trailing whitespace"))
        row["_row"] = str(position)
        rows.append(row)
    return rows


def _frictionless_problems(package_path: Path, skip: set[str]) -> Iterator[Problem]:
    """Type, constraint, key and foreign-key errors found by frictionless."""
    from frictionless import validate as fl_validate

    logging.getLogger("frictionless").setLevel(logging.ERROR)
    report = fl_validate(str(package_path))
    for task in report.tasks:
        name = Path(task.place).name if task.place else task.name
        if name in skip:
            continue
        for error in task.errors:
            yield _translate(name, error)
    for error in report.errors:
        yield Problem(package_path.name, 0, "-", error.message)


def _translate(name: str, error) -> Problem:  # noqa: ANN001 - frictionless error classes
    row = int(getattr(error, "row_number", 0) or 0)
    column = getattr(error, "field_name", None) or "-"
    cell = getattr(error, "cell", None)
    kind = error.type
    note = getattr(error, "note", "")
    if kind == "type-error":
        match = re.search(r'type is "(\w+)', note)
        message = f"{cell!r} is not a valid {match.group(1) if match else 'value'}"
    elif kind == "constraint-error":
        message = _constraint_message(column, cell, note)
    elif kind == "unique-error":
        message = f"duplicate value {cell!r} (must be unique)"
    elif kind in {"primary-key", "foreign-key"}:
        message = error.note if kind == "foreign-key" else "duplicate or empty primary key"
        if kind == "foreign-key":
            column = ",".join(getattr(error, "field_names", [])) or _fk_column(note)
            message = f"refers to a value that does not exist: {note}"
    elif kind in {
        "extra-cell",
        "missing-cell",
        "blank-row",
        "extra-label",
        "missing-label",
        "duplicate-label",
        "incorrect-label",
        "blank-label",
    }:
        message = ""  # already reported by the CSV reader with a clearer message
    else:
        message = error.message
    return Problem(name, row, column, message)


def _fk_column(note: str) -> str:
    if 'for "' in note:
        return note.split('for "', 1)[1].split('"', 1)[0]
    return "-"


def _constraint_message(column: str, cell: object, note: str) -> str:
    if 'constraint "required"' in note:
        return "required value is empty"
    if 'constraint "enum"' in note:
        allowed = note.split(" is ", 1)[-1]
        return f"{cell!r} is not one of the allowed values {allowed}"
    if 'constraint "pattern"' in note:
        if column == "source_url":
            return f"{cell!r} is not an http(s) address (several separated by ' ; ')"
        return f"{cell!r} does not match the required pattern"
    if 'constraint "minimum"' in note or 'constraint "maximum"' in note:
        return f"{cell!r} is out of range ({note.split('constraint ', 1)[-1]})"
    return f"{cell!r}: {note}"


def _num(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _check_studies(studies: Rows, bib_keys: frozenset[str] | None, today: dt.date) -> Iterator[Problem]:
    for row in studies:
        pos = int(row["_row"])
        key = row.get("citation_key", "")
        if bib_keys is not None and key and key not in bib_keys:
            yield Problem("studies.csv", pos, "citation_key", f"{key!r} is not in {BIB_FILE}")
        year = _int(row.get("year", ""))
        if year is not None and year > today.year:
            yield Problem("studies.csv", pos, "year", f"{year} is in the future")


def _check_effects(effects: Rows, studies: Rows) -> Iterator[Problem]:
    study_n = {s["study_id"]: _int(s.get("n_analysed", "")) for s in studies}
    for row in effects:
        pos = int(row["_row"])
        study = row.get("study_id", "")
        effect_id = row.get("effect_id", "")
        if study and effect_id and not effect_id.startswith(f"{study}-"):
            yield Problem("effects.csv", pos, "effect_id", f"{effect_id!r} should start with '{study}-'")
        r = _num(row.get("r", ""))
        derived = _num(row.get("r_derived", ""))
        derivation = row.get("r_derivation", "").strip()
        if derived is not None and not derivation:
            yield Problem("effects.csv", pos, "r_derivation", "r_derived is given without its derivation")
        if derivation and derived is None:
            yield Problem("effects.csv", pos, "r_derived", "a derivation is given but r_derived is empty")
        if r is not None and derived is not None:
            yield Problem(
                "effects.csv",
                pos,
                "r_derived",
                "give either the printed r or a derived r, not both",
            )
        if r is not None and row.get("statistic_type") not in {"r", "rho"}:
            yield Problem(
                "effects.csv",
                pos,
                "r",
                "r is filled but the statistic printed is not a correlation",
            )
        value = r if r is not None else derived
        orientation = row.get("outcome_higher_is_better", "")
        if value is not None and orientation not in {"yes", "no"}:
            yield Problem(
                "effects.csv",
                pos,
                "outcome_higher_is_better",
                "required when r or r_derived is given (yes or no)",
            )
        direction = row.get("direction", "")
        if (
            value is not None
            and orientation in {"yes", "no"}
            and value != 0
            and direction in {"positive", "negative"}
        ):
            favourable = value > 0 if orientation == "yes" else value < 0
            expected = "positive" if favourable else "negative"
            if direction != expected:
                yield Problem(
                    "effects.csv",
                    pos,
                    "direction",
                    f"direction {direction!r} contradicts the sign of r ({value:+g}, higher outcome "
                    f"{'better' if orientation == 'yes' else 'worse'}): expected {expected!r}",
                )
        if direction in {"positive", "negative"} and row.get("significant") == "no" and value is None:
            yield Problem(
                "effects.csv",
                pos,
                "direction",
                "a non-significant association without a coefficient must have direction 'not_reported'",
            )
        n = _int(row.get("n", ""))
        cap = study_n.get(study)
        if n is not None and cap is not None and n > cap:
            yield Problem("effects.csv", pos, "n", f"{n} exceeds the study's n_analysed ({cap})")
    with_effects = {row.get("study_id") for row in effects}
    for study in studies:
        if study["study_id"] and study["study_id"] not in with_effects:
            yield Problem("studies.csv", int(study["_row"]), "study_id", "study has no row in effects.csv")


def _check_screening(screening: Rows, studies: Rows) -> Iterator[Problem]:
    relevance = {s["study_id"]: s.get("arm_relevance", "") for s in studies}
    seen: Counter[str] = Counter()
    for row in screening:
        pos = int(row["_row"])
        decision = row.get("decision", "")
        study = row.get("study_id", "")
        if decision in {"included", "adjacent"}:
            if not study:
                yield Problem("screening.csv", pos, "study_id", f"an {decision} record needs its study_id")
            else:
                seen[study] += 1
                expected = "adjacent" if relevance.get(study) == "D" else "included"
                if study in relevance and decision != expected:
                    yield Problem(
                        "screening.csv",
                        pos,
                        "decision",
                        f"{decision!r} disagrees with arm relevance {relevance[study]!r} in studies.csv "
                        f"(expected {expected!r})",
                    )
        elif study:
            yield Problem("screening.csv", pos, "study_id", f"an {decision} record must not name a study")
        if decision and decision != "included" and not row.get("reason", "").strip():
            yield Problem("screening.csv", pos, "reason", f"an {decision} record needs a reason")
    for study in studies:
        count = seen[study["study_id"]]
        if study["study_id"] and count != 1:
            yield Problem(
                "studies.csv",
                int(study["_row"]),
                "study_id",
                f"study appears {count} times as included/adjacent in screening.csv (expected once)",
            )


def _check_searches(searches: Rows, today: dt.date) -> Iterator[Problem]:
    for row in searches:
        try:
            date = dt.date.fromisoformat(row.get("date_searched", ""))
        except ValueError:
            continue  # the schema check reports it
        if date > today:
            yield Problem("searches.csv", int(row["_row"]), "date_searched", f"{date} is in the future")


def _check_syntheses(syntheses: Rows, bib_keys: frozenset[str] | None) -> Iterator[Problem]:
    for row in syntheses:
        pos = int(row["_row"])
        key = row.get("citation_key", "")
        if bib_keys is not None and key and key not in bib_keys:
            yield Problem("syntheses.csv", pos, "citation_key", f"{key!r} is not in {BIB_FILE}")
        est, lb, ub = (_num(row.get(c, "")) for c in ("estimate", "ci_lb", "ci_ub"))
        if est is not None and lb is not None and ub is not None and not lb <= est <= ub:
            yield Problem("syntheses.csv", pos, "estimate", f"{est} lies outside its CI [{lb}, {ub}]")
        if est is not None and not row.get("metric"):
            yield Problem("syntheses.csv", pos, "metric", "an estimate needs its metric")
        if _num(row.get("r_derived", "")) is not None and not row.get("r_derivation", "").strip():
            yield Problem("syntheses.csv", pos, "r_derivation", "r_derived is given without its derivation")


def _check_reporting(tables: dict[str, Rows]) -> Iterator[Problem]:
    """PRISMA flow counts, risk-of-bias completeness and GRADE completeness (issue 6)."""
    from livingreview import grade, prisma, rob

    studies = tables.get("studies", [])
    if "screening" in tables and "searches" in tables:
        for found in prisma.check_rows(tables["screening"], tables["searches"]):
            yield Problem(*found)
    if "risk_of_bias" in tables:
        for found in rob.check_rows(tables["risk_of_bias"], studies):
            yield Problem(*found)
    if "grade" in tables and "effects" in tables:
        for found in grade.check_rows(tables["grade"], tables["effects"], studies):
            yield Problem(*found)


def validate_data(data_dir: Path, bib_path: Path | None = None, today: dt.date | None = None) -> Report:
    """Validate every table of the data package in ``data_dir`` (and its bibliography)."""
    today = today or dt.date.today()
    data_dir = Path(data_dir)
    bib_path = bib_path or data_dir.parent / BIB_FILE
    problems: list[Problem] = []
    package_path = data_dir / "datapackage.json"
    if not package_path.is_file():
        return Report((Problem("datapackage.json", 0, "-", f"missing in {data_dir}"),), {})
    try:
        package = json.loads(package_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        return Report((Problem("datapackage.json", err.lineno, "-", f"invalid JSON: {err.msg}"),), {})

    tables: dict[str, Rows] = {}
    unreadable: set[str] = set()
    for resource in package.get("resources", []):
        name = resource["path"]
        path = data_dir / name
        fields = {f["name"]: f["type"] for f in resource["schema"]["fields"]}
        if not path.is_file():
            problems.append(Problem(name, 0, "-", "file is missing"))
            unreadable.add(name)
            continue
        text = _read_text(path, name, problems)
        if text is None:
            unreadable.add(name)
            continue
        tables[resource["name"]] = _parse_csv(text, name, fields, problems)

    if not unreadable:
        problems.extend(p for p in _frictionless_problems(package_path, unreadable) if p.message)

    bib_keys: frozenset[str] | None = None
    if bib_path.is_file():
        bib = read_bibliography(bib_path)
        bib_keys = bib.keys
        problems.extend(
            Problem(BIB_FILE, line, "-", f"entry could not be parsed ({kind})") for line, kind in bib.failed
        )
        problems.extend(Problem(BIB_FILE, line, key, "duplicate entry key") for line, key in bib.duplicates)
        included = included_keys(tables.get("studies", []), tables.get("screening", []))
        problems.extend(Problem(*found) for found in check_bibliography(bib, BIB_FILE, included))
        methods_bib = bib_path.parent / "methods.bib"
        if methods_bib.is_file():
            problems.extend(
                Problem(*found)
                for found in check_bibliography(read_bibliography(methods_bib), methods_bib.name)
            )
    else:
        problems.append(Problem(BIB_FILE, 0, "-", f"bibliography missing at {bib_path}"))

    studies = tables.get("studies", [])
    effects = tables.get("effects", [])
    problems.extend(_check_studies(studies, bib_keys, today))
    if "effects" in tables:
        problems.extend(_check_effects(effects, studies))
    if "screening" in tables:
        problems.extend(_check_screening(tables["screening"], studies))
    problems.extend(_check_searches(tables.get("searches", []), today))
    problems.extend(_check_syntheses(tables.get("syntheses", []), bib_keys))
    problems.extend(_check_reporting(tables))
    problems.extend(Problem(*found) for found in rules.check_rows(tables))
    problems.extend(Problem(*found) for found in candidates.check_rows(tables))

    counts = {name: len(rows) for name, rows in tables.items()}
    return Report(tuple(sorted(set(problems))), counts)


def format_problems(problems: Iterable[Problem]) -> str:
    return "\n".join(str(p) for p in problems)
