"""Validation of the extraction dataset: file, schema, cross-table and bibliography checks.

Every problem is reported as ``file:row:column: message`` where ``row`` is the row's position
in the file with the header as row 1 (``0`` for problems of the whole file) and ``column`` is
the field name (``-`` when no single column is at fault).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from livingreview.checks import rules
from livingreview.checks.bibliography import check_bibliography, included_keys
from livingreview.checks.schema import (
    CORE,
    PACKAGE,
    cell_problems,
    foreign_key_problems,
    key_problems,
    package_problems,
)
from livingreview.data.bib import read_bibliography
from livingreview.data.cells import CellError, csv_records, parse_cell
from livingreview.search import log_check

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
        return one_line(f"{self.file}:{self.row}:{self.column}: {self.message}")


def one_line(text: str) -> str:
    """``text`` with every line break and other unprintable character escaped (``\\u2028``)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


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
    reader = csv_records(text)
    try:
        records = list(reader)
    except csv.Error as err:
        problems.append(Problem(name, reader.line_num, "-", f"not readable as CSV ({err})"))
        return []
    header = records[0] if records else None
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
    for position, cells in enumerate(records[1:], start=2):
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


def _num(value: str) -> float | None:
    try:
        number = parse_cell("number", value)
    except CellError:
        return None
    return number if isinstance(number, float) else None


def _int(value: str) -> int | None:
    try:
        number = parse_cell("integer", value)
    except CellError:
        return None
    return number if isinstance(number, int) else None


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
        for column, number in (("r", r), ("r_derived", derived)):
            if number is not None and abs(number) == 1:
                yield Problem(
                    "effects.csv",
                    pos,
                    column,
                    "a correlation of exactly ±1 cannot be analysed (its Fisher z is infinite); "
                    "check the source",
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
            date = parse_cell("date", row.get("date_searched", ""))
        except CellError:
            continue  # the schema check reports it
        if isinstance(date, dt.date) and date > today:
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
    from livingreview.reporting import grade, prisma, rob

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


def _read_package(package_path: Path) -> tuple[dict | None, list[Problem]]:
    """The parsed descriptor, or None with the problems that make it unusable."""
    problems: list[Problem] = []
    text = _read_text(package_path, PACKAGE, problems)
    if text is None:
        return None, problems
    try:
        package = json.loads(text)
    except json.JSONDecodeError as err:
        return None, [*problems, Problem(PACKAGE, err.lineno, "-", f"invalid JSON: {err.msg}")]
    except RecursionError:
        return None, [*problems, Problem(PACKAGE, 0, "-", "invalid JSON: nested too deeply")]
    structural = [Problem(*p) for p in package_problems(package)]
    return (None if structural else package), problems + structural


def _check_bibliography(
    bib_path: Path, problems: list[Problem], tables: dict[str, Rows]
) -> frozenset[str] | None:
    if not bib_path.is_file():
        problems.append(Problem(BIB_FILE, 0, "-", f"bibliography missing at {bib_path}"))
        return None
    if _read_text(bib_path, BIB_FILE, problems) is None:
        return None
    bib = read_bibliography(bib_path)
    problems.extend(
        Problem(BIB_FILE, line, "-", f"entry could not be parsed ({kind})") for line, kind in bib.failed
    )
    problems.extend(Problem(BIB_FILE, line, key, "duplicate entry key") for line, key in bib.duplicates)
    included = included_keys(tables.get("studies", []), tables.get("screening", []))
    problems.extend(Problem(*found) for found in check_bibliography(bib, BIB_FILE, included))
    methods_bib = bib_path.parent / "methods.bib"
    if methods_bib.is_file() and _read_text(methods_bib, methods_bib.name, problems) is not None:
        problems.extend(
            Problem(*found) for found in check_bibliography(read_bibliography(methods_bib), methods_bib.name)
        )
    return bib.keys


def validate_data(data_dir: Path, bib_path: Path | None = None, today: dt.date | None = None) -> Report:
    """Validate every table of the data package in ``data_dir`` (and its bibliography)."""
    today = today or dt.date.today()
    data_dir = Path(data_dir)
    bib_path = bib_path or data_dir.parent / BIB_FILE
    package_path = data_dir / PACKAGE
    if not package_path.is_file():
        return Report((Problem(PACKAGE, 0, "-", f"missing in {data_dir}"),), {})
    package, problems = _read_package(package_path)
    if package is None:
        return Report(tuple(sorted(set(problems))), {})

    tables: dict[str, Rows] = {}
    schemas: dict[str, dict] = {}
    for resource in package["resources"]:
        name = resource["path"]
        path = data_dir / name
        fields = {f["name"]: f.get("type", "string") for f in resource["schema"]["fields"]}
        if not path.is_file():
            problems.append(Problem(name, 0, "-", "file is missing"))
            continue
        text = _read_text(path, name, problems)
        if text is None:
            continue
        parsed: list[Problem] = []
        rows = _parse_csv(text, name, fields, parsed)
        problems.extend(parsed)
        reported = {(p.row, p.column) for p in parsed}
        for found in (
            *cell_problems(name, rows, resource["schema"]["fields"]),
            *key_problems(name, rows, resource["schema"]),
        ):
            if (found[1], found[2]) not in reported:
                problems.append(Problem(*found))
        tables[resource["name"]] = rows
        schemas[resource["name"]] = resource["schema"]
    files = {r["name"]: r["path"] for r in package["resources"]}
    for table, rows in tables.items():
        problems.extend(Problem(*f) for f in foreign_key_problems(files[table], rows, schemas[table], tables))

    bib_keys = _check_bibliography(bib_path, problems, tables)
    if any(name not in tables for name in CORE):
        # A core table could not be read: cross-table checks would only repeat that problem.
        return Report(tuple(sorted(set(problems))), {n: len(r) for n, r in tables.items()})

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
    problems.extend(Problem(*found) for found in log_check.check_rows(tables))

    counts = {name: len(rows) for name, rows in tables.items()}
    return Report(tuple(sorted(set(problems))), counts)


def format_problems(problems: Iterable[Problem]) -> str:
    return "\n".join(str(p) for p in problems)
