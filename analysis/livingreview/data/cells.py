"""Reading a data table and parsing its cells one way, shared by the validator and the loaders."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
import re
from pathlib import Path

# One CSV dialect for everyone: the csv module on text with its line endings kept (never
# str.splitlines, which also breaks at U+2028, form feeds and other characters pandas keeps).
csv.field_size_limit(2**31 - 1)
MAX_CELL = 131_072  # characters; longer cells are reported, not read
INTEGER_RE = re.compile(r"[+-]?[0-9]+")
NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
BOOLEAN = {"true": True, "false": False}
TYPES = ("string", "integer", "number", "date", "boolean")


class CellError(ValueError):
    """A cell that is not a plain value of its column's type; the message says why."""


class DataError(ValueError):
    """A table that could not be read; ``str()`` is one ``file:row:column: message`` line."""


def parse_cell(kind: str, text: str) -> object:
    """The value of ``text`` in a column of type ``kind`` (None when empty); raise :class:`CellError`.

    Numbers are plain ASCII decimals: no digit separators (``1_523``), no other scripts
    (full-width digits, superscripts), no ``nan``/``inf``/``sNaN``.
    """
    if text == "":
        return None
    if kind == "string":
        return text
    if kind == "integer":
        if not INTEGER_RE.fullmatch(text):
            raise CellError(f"{text!r} is not a valid integer (plain digits 0-9)")
        return int(text)
    if kind == "number":
        if not NUMBER_RE.fullmatch(text):
            raise CellError(f"{text!r} is not a valid number (a plain decimal such as -0.25)")
        value = float(text)
        if not math.isfinite(value):
            raise CellError(f"{text!r} is not a valid number (out of range)")
        return value
    if kind == "date":
        if not DATE_RE.fullmatch(text):
            raise CellError(f"{text!r} is not a valid date (YYYY-MM-DD)")
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise CellError(f"{text!r} is not a valid date (YYYY-MM-DD)") from None
    if kind == "boolean":
        if text not in BOOLEAN:
            raise CellError(f"{text!r} is not a valid boolean (true or false)")
        return BOOLEAN[text]
    raise CellError(f"unknown column type {kind!r}")


def decode(raw: bytes) -> str:
    """UTF-8 text of a file (raises UnicodeDecodeError); a byte-order mark is dropped."""
    return raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8")


def csv_records(text: str) -> csv.reader:
    """Records of a CSV text, as every reader of the project splits them."""
    return csv.reader(io.StringIO(text, newline=""))


def read_records(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and records of ``path``; raise :class:`DataError` on anything unreadable."""
    name = path.name
    try:
        text = decode(path.read_bytes())
    except OSError as err:
        raise DataError(f"{name}:0:-: cannot be read ({err.strerror})") from None
    except UnicodeDecodeError:
        raise DataError(f"{name}:0:-: not valid UTF-8") from None
    reader = csv_records(text)
    try:
        records = list(reader)
    except csv.Error as err:
        raise DataError(f"{name}:{reader.line_num}:-: not readable as CSV ({err})") from None
    if not records:
        raise DataError(f"{name}:0:-: file is empty (no header row)")
    return records[0], records[1:]
