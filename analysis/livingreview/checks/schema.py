"""The data package checked by column name: its descriptor's structure, cell types, constraints and keys."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from livingreview.data.cells import MAX_CELL, TYPES, CellError, parse_cell

PACKAGE = "datapackage.json"
# Resources and fields (with their types) that the analysis code reads: a descriptor that drops
# one of them, or changes its type, would pass a generic schema check and break the build.
CORE: dict[str, dict[str, str]] = {
    "studies": {
        "study_id": "string",
        "citation_key": "string",
        "year": "integer",
        "design": "string",
        "diagnosis": "string",
        "population": "string",
        "country": "string",
        "setting": "string",
        "medication": "string",
        "arms": "string",
        "n_analysed": "integer",
        "arm_relevance": "string",
        "extraction_level": "string",
        "source_url": "string",
    },
    "effects": {
        "effect_id": "string",
        "study_id": "string",
        "outcome_domain": "string",
        "outcome_measure": "string",
        "arm": "string",
        "alliance_measure": "string",
        "rater": "string",
        "timing": "string",
        "statistic_type": "string",
        "statistic_reported": "string",
        "r": "number",
        "r_derived": "number",
        "r_derivation": "string",
        "outcome_higher_is_better": "string",
        "n": "integer",
        "direction": "string",
        "significant": "string",
        "quote": "string",
        "source_url": "string",
    },
    "screening": {
        "record_id": "string",
        "citation": "string",
        "study_id": "string",
        "decision": "string",
        "reason": "string",
    },
    "searches": {
        "search_id": "string",
        "source": "string",
        "date_searched": "date",
        "records_found": "integer",
    },
    "syntheses": {
        "synthesis_id": "string",
        "citation_key": "string",
        "alliance_context": "string",
        "metric": "string",
        "estimate": "number",
        "ci_lb": "number",
        "ci_ub": "number",
        "r_derived": "number",
        "r_derivation": "string",
    },
    "risk_of_bias": {"study_id": "string", "domain": "string", "judgement": "string"},
    "grade": {"outcome_domain": "string", "factor": "string", "downgrade": "integer", "reason": "string"},
    "prisma-checklist": {"item": "string", "anchor": "string"},
}
NUMERIC = {"integer", "number"}  # interchangeable for the analysis code (a protocol change may retype)
CONSTRAINTS = {"required", "unique", "enum", "pattern", "minimum", "maximum", "minLength", "maxLength"}
FILE_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.csv")

Found = tuple[str, int, str, str]  # file, row, column, message
Rows = list[dict[str, str]]


def _where(*parts: object) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")


def package_problems(package: object) -> list[Found]:
    """Structural problems of a parsed ``datapackage.json`` (empty when every resource is usable)."""
    out: list[Found] = []

    def bad(message: str, *where: object) -> None:
        out.append((PACKAGE, 0, _where(*where) or "-", message))

    if not isinstance(package, dict):
        bad("must be a JSON object")
        return out
    resources = package.get("resources")
    if not isinstance(resources, list):
        bad("'resources' must be a list", "resources")
        return out
    names: Counter[str] = Counter()
    for i, res in enumerate(resources):
        if not isinstance(res, dict):
            bad("each resource must be an object", "resources", i)
            continue
        name, path, schema = res.get("name"), res.get("path"), res.get("schema")
        if not isinstance(name, str) or not name:
            bad("a resource needs a 'name'", "resources", i, "name")
            continue
        names[name] += 1
        if not isinstance(path, str) or not FILE_NAME_RE.fullmatch(path):
            bad(f"resource {name!r}: 'path' must be a CSV file name inside data/", "resources", i, "path")
        elif name in CORE and path != f"{name}.csv":
            bad(f"resource {name!r} must be read from {name}.csv", "resources", i, "path")
        if not isinstance(schema, dict) or not isinstance(schema.get("fields"), list):
            bad(f"resource {name!r} needs a schema with a list of fields", "resources", i, "schema")
            continue
        out.extend(_schema_problems(name, schema, ("resources", i, "schema")))
    for name, count in names.items():
        if count > 1:
            bad(f"resource {name!r} is declared {count} times", "resources")
    for name in CORE:
        if name not in names:
            bad(f"resource {name!r} is missing (the analysis reads {name}.csv)", "resources")
    by_name = {r["name"]: r for r in resources if isinstance(r, dict) and isinstance(r.get("name"), str)}
    for i, res in enumerate(resources):
        if isinstance(res, dict) and isinstance(res.get("schema"), dict):
            out.extend(_foreign_key_problems(res, by_name, ("resources", i, "schema", "foreignKeys")))
    return out


def _schema_problems(name: str, schema: dict, at: tuple) -> Iterator[Found]:
    seen: dict[str, str] = {}
    for j, field in enumerate(schema["fields"]):
        where = (*at, "fields", j)
        if not isinstance(field, dict) or not isinstance(field.get("name"), str) or not field["name"]:
            yield PACKAGE, 0, _where(*where), f"resource {name!r}: each field needs a 'name'"
            continue
        fname, kind = field["name"], field.get("type", "string")
        if fname in seen:
            yield PACKAGE, 0, _where(*where), f"{name}.{fname} is declared twice"
        seen[fname] = kind
        if kind not in TYPES:
            yield PACKAGE, 0, _where(*where, "type"), f"{name}.{fname}: unknown type {kind!r}"
        constraints = field.get("constraints", {})
        yield from _constraint_problems(name, fname, kind, constraints, (*where, "constraints"))
    for fname, kind in CORE.get(name, {}).items():
        if fname not in seen:
            yield PACKAGE, 0, _where(*at, "fields"), f"{name}.{fname} is missing (the analysis reads it)"
        elif seen[fname] != kind and {seen[fname], kind} != NUMERIC:
            yield PACKAGE, 0, _where(*at, "fields"), f"{name}.{fname} must be of type {kind!r}"
    key = schema.get("primaryKey", [])
    key = [key] if isinstance(key, str) else key
    if not isinstance(key, list) or any(k not in seen for k in key):
        yield PACKAGE, 0, _where(*at, "primaryKey"), f"{name}: primaryKey must name fields of the table"


def _constraint_problems(table: str, field: str, kind: str, c: object, where: tuple) -> Iterator[Found]:
    label = f"{table}.{field}"
    if not isinstance(c, dict):
        yield PACKAGE, 0, _where(*where), f"{label}: constraints must be an object"
        return
    for key in sorted(set(c) - CONSTRAINTS):
        yield PACKAGE, 0, _where(*where, key), f"{label}: unknown constraint {key!r}"
    for key in ("required", "unique"):
        if key in c and not isinstance(c[key], bool):
            yield PACKAGE, 0, _where(*where, key), f"{label}: {key} must be true or false"
    if "enum" in c and (not isinstance(c["enum"], list) or not all(isinstance(v, str) for v in c["enum"])):
        yield PACKAGE, 0, _where(*where, "enum"), f"{label}: enum must be a list of strings"
    if "pattern" in c:
        try:
            re.compile(str(c["pattern"]))
        except re.error as err:
            yield PACKAGE, 0, _where(*where, "pattern"), f"{label}: bad pattern ({err})"
    for key in ("minimum", "maximum", "minLength", "maxLength"):
        value = c.get(key)
        if key in c and (isinstance(value, bool) or not isinstance(value, int | float)):
            yield PACKAGE, 0, _where(*where, key), f"{label}: {key} must be a number"
        elif key in ("minimum", "maximum") and key in c and kind not in ("integer", "number"):
            yield PACKAGE, 0, _where(*where, key), f"{label}: {key} applies to numbers only"


def _foreign_key_problems(res: dict, by_name: dict[str, dict], at: tuple) -> Iterator[Found]:
    fks = res["schema"].get("foreignKeys", [])
    own = _field_names(res)
    if not isinstance(fks, list):
        yield PACKAGE, 0, _where(*at), "foreignKeys must be a list"
        return
    for k, fk in enumerate(fks):
        ref = fk.get("reference") if isinstance(fk, dict) else None
        target = by_name.get(ref.get("resource")) if isinstance(ref, dict) else None
        fields = fk.get("fields") if isinstance(fk, dict) else None
        ref_fields = ref.get("fields") if isinstance(ref, dict) else None
        ok = (
            target is not None
            and isinstance(fields, list)
            and isinstance(ref_fields, list)
            and len(fields) == len(ref_fields) > 0
            and all(f in own for f in fields)
            and all(f in _field_names(target) for f in ref_fields)
        )
        if not ok:
            yield PACKAGE, 0, _where(*at, k), "foreign key must name fields of this and an existing table"


def _field_names(res: dict) -> set[str]:
    schema = res.get("schema")
    fields = schema.get("fields", []) if isinstance(schema, dict) else []
    return {f["name"] for f in fields if isinstance(f, dict) and isinstance(f.get("name"), str)}


def _range_problem(value: float, c: dict) -> str | None:
    if "minimum" in c and value < c["minimum"]:
        return f"minimum is {c['minimum']}"
    if "maximum" in c and value > c["maximum"]:
        return f"maximum is {c['maximum']}"
    return None


def cell_problems(file: str, rows: Rows, fields: list[dict]) -> Iterator[Found]:
    """Type and constraint problems of every cell, found by column name."""
    for field in fields:
        name, kind, c = field["name"], field.get("type", "string"), field.get("constraints", {})
        pattern = re.compile(str(c["pattern"])) if "pattern" in c else None
        enum = set(c["enum"]) if "enum" in c else None
        first_row: dict[str, int] = {}
        for row in rows:
            if name not in row:
                break  # a missing column is reported with the header
            text, pos = row[name], int(row["_row"])
            if len(text) > MAX_CELL:
                yield file, pos, name, f"cell has {len(text):,} characters; at most {MAX_CELL:,} are allowed"
                continue
            if text == "":
                if c.get("required"):
                    yield file, pos, name, "required value is empty"
                continue
            try:
                value = parse_cell(kind, text)
            except CellError as err:
                yield file, pos, name, str(err)
                continue
            if enum is not None and text not in enum:
                yield file, pos, name, f"{text!r} is not one of the allowed values {sorted(enum)}"
            if pattern is not None and not pattern.fullmatch(text):
                if name == "source_url":
                    yield file, pos, name, f"{text!r} is not an http(s) address (several separated by ' ; ')"
                else:
                    yield file, pos, name, f"{text!r} does not match the required pattern"
            if kind in ("integer", "number") and (why := _range_problem(value, c)):
                yield file, pos, name, f"{text!r} is out of range ({why})"
            if "minLength" in c and len(text) < c["minLength"]:
                yield file, pos, name, f"{text!r} is shorter than {c['minLength']} characters"
            if "maxLength" in c and len(text) > c["maxLength"]:
                yield file, pos, name, f"value is longer than {c['maxLength']} characters"
            if c.get("unique"):
                if text in first_row:
                    yield (
                        file,
                        pos,
                        name,
                        f"duplicate value {text!r} (must be unique; see row {first_row[text]})",
                    )
                else:
                    first_row[text] = pos


def key_problems(file: str, rows: Rows, schema: dict) -> Iterator[Found]:
    """Empty or duplicated primary keys."""
    key = schema.get("primaryKey", [])
    key = [key] if isinstance(key, str) else list(key)
    if not key or any(rows and k not in rows[0] for k in key):
        return
    seen: dict[tuple[str, ...], int] = {}
    for row in rows:
        value, pos = tuple(row[k] for k in key), int(row["_row"])
        column = ",".join(key)
        if any(v == "" for v in value):
            yield file, pos, column, "primary key is empty"
        elif value in seen:
            shown = ", ".join(value)
            yield file, pos, column, f"duplicate key {shown!r} (must be unique; see row {seen[value]})"
        else:
            seen[value] = pos


def foreign_key_problems(file: str, rows: Rows, schema: dict, tables: dict[str, Rows]) -> Iterator[Found]:
    """Values that refer to rows which do not exist in the referenced table."""
    for fk in schema.get("foreignKeys", []):
        fields, ref = fk["fields"], fk["reference"]
        target = tables.get(ref["resource"])
        if target is None or not rows or any(f not in rows[0] for f in fields):
            continue
        if target and any(f not in target[0] for f in ref["fields"]):
            continue
        existing = {tuple(t[f] for f in ref["fields"]) for t in target}
        column = ",".join(fields)
        for row in rows:
            value = tuple(row[f] for f in fields)
            if all(v != "" for v in value) and value not in existing:
                yield (
                    file,
                    int(row["_row"]),
                    column,
                    f"refers to a value that does not exist: {', '.join(value)!r} is not a "
                    f"{'/'.join(ref['fields'])} of {ref['resource']}",
                )
