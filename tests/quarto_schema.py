"""Quarto's own ``_quarto.yml`` schema, converted to JSON Schema 2020-12 for validation.

Quarto ships its schemas in an internal dialect (``all-schema-definitions.json``, since v1.8.15,
added "for easier external validation"). This maps its forms (``object``/``closed``, ``ref``,
``anyOf``/``allOf``/``enum``) onto JSON Schema. The result is a lint for typos, wrong types and
unknown keys in closed objects; Quarto's own validator stays the authority.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SKIP = {
    "_internalId",
    "tags",
    "documentation",
    "completions",
    "exhaustiveCompletions",
    "case-convention",
    "error-importance",
    "case-detection",
    "complete-from",
    "hidden",
    "errorMessage",
    "$id",
    "description",
    "closed",
}
COMBINATORS = ("anyOf", "allOf", "enum", "key")


def convert(node: Any) -> Any:
    """Convert one node of Quarto's schema dialect to JSON Schema."""
    if isinstance(node, list):
        return [convert(x) for x in node]
    if not isinstance(node, dict):
        return node
    kind = node.get("type")
    if kind == "ref":
        return {"$ref": "#/$defs/" + node["$ref"]}
    out = {
        k: convert(v) for k, v in node.items() if k not in SKIP and not (k == "type" and kind in COMBINATORS)
    }
    if kind == "object" and node.get("closed"):
        out["additionalProperties"] = False
    if out.get("patternProperties") == {}:
        del out["patternProperties"]
    return out


def project_schema(definitions: Path) -> dict:
    """JSON Schema of a whole ``_quarto.yml`` (Quarto's ``project-config``)."""
    source = json.loads(definitions.read_text(encoding="utf-8"))
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {name: convert(node) for name, node in source.items()},
        "$ref": "#/$defs/project-config",
    }


def schema_errors(config: dict, definitions: Path) -> list[str]:
    """Human-readable schema violations of a parsed ``_quarto.yml`` (empty when valid)."""
    schema = project_schema(definitions)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]
