"""Reading the Quarto sources without Quarto: book structure, shortcodes, citations, labels.

Used by the pandoc preview and by the tests that check the book's sources where Quarto
cannot run. The syntax handled is the one documented by Quarto (embed, var, cross-references).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

EMBED_RE = re.compile(r"\{\{<\s*embed\s+(?P<path>[^\s#>]+)#(?P<label>[^\s>]+)(?P<opts>[^>]*)>\}\}")
VAR_RE = re.compile(r"\{\{<\s*var\s+(?P<key>[^\s>]+)\s*>\}\}")
SHORTCODE_RE = re.compile(r"\{\{<.*?>\}\}", re.S)
CITE_RE = re.compile(r"(?<![\w@.])-?@(?P<key>[A-Za-z0-9_][\w:.#$%&+?<>~/-]*[A-Za-z0-9_])")
HEADING_RE = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<title>.*?)\s*(?:\{(?P<attrs>[^}]*)\})?\s*$")
ID_RE = re.compile(r"#(?P<id>[A-Za-z][\w-]*)")
FRONT_MATTER_RE = re.compile(r"\A---\n.*?\n---\n", re.S)
FENCE_RE = re.compile(r"^(```|~~~).*?^\1\s*$", re.S | re.M)
COMMENT_RE = re.compile(r"<!--.*?-->", re.S)
CROSSREF_PREFIXES = ("fig-", "tbl-", "sec-", "eq-", "lst-", "apx-")
OPTION_RE = re.compile(r"^#\|\s*(?P<key>[\w-]+):\s*(?P<value>.*)$")


@dataclass(frozen=True)
class BookFile:
    """One file of the book in reading order."""

    path: str
    part: str | None
    appendix: bool


# libyaml's parser when PyYAML was built with it (the wheels are): the same safe loading, several
# times faster on the machine-written _variables.yml.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> object:
    """``yaml.safe_load`` through libyaml where available."""
    return yaml.load(text, Loader=_SAFE_LOADER)


def read_quarto_yml(path: Path) -> dict:
    return load_yaml(path.read_text(encoding="utf-8"))


def book_files(config: dict) -> list[BookFile]:
    """Chapters (inside parts too) and appendices of ``book:`` in reading order."""
    book = config.get("book", {})
    out: list[BookFile] = []

    def walk(items: list, appendix: bool) -> None:
        for item in items or []:
            if isinstance(item, str):
                out.append(BookFile(item, None, appendix))
            elif isinstance(item, dict) and "part" in item:
                part = item["part"]
                if str(part).endswith((".qmd", ".md", ".ipynb")):
                    out.append(BookFile(part, None, appendix))
                for chapter in item.get("chapters", []):
                    out.append(
                        BookFile(
                            chapter if isinstance(chapter, str) else chapter.get("href"),
                            str(part),
                            appendix,
                        )
                    )
            elif isinstance(item, dict) and "href" in item:
                out.append(BookFile(item["href"], None, appendix))

    walk(book.get("chapters", []), appendix=False)
    walk(book.get("appendices", []), appendix=True)
    return out


def strip_front_matter(text: str) -> str:
    return FRONT_MATTER_RE.sub("", text, count=1)


def prose_only(text: str) -> str:
    """Text with front matter, fenced code, comments and shortcodes blanked (lines kept)."""

    def blank(match: re.Match[str]) -> str:
        return re.sub(r"[^\n]", " ", match.group(0))

    text = FRONT_MATTER_RE.sub(blank, text, count=1)
    text = FENCE_RE.sub(blank, text)
    text = COMMENT_RE.sub(blank, text)
    return SHORTCODE_RE.sub(blank, text)


def citations(text: str) -> list[tuple[int, str]]:
    """Citation keys (line, key) in prose: ``@key`` and ``[@key]``, cross-references excluded."""
    out = []
    for lineno, line in enumerate(prose_only(text).splitlines(), start=1):
        for match in CITE_RE.finditer(line):
            key = match.group("key")
            if not key.startswith(CROSSREF_PREFIXES):
                out.append((lineno, key))
    return out


def crossrefs(text: str) -> list[tuple[int, str]]:
    """Cross-reference targets used in prose: ``@fig-x``, ``@tbl-x``, ``@sec-x`` (line, id)."""
    out = []
    for lineno, line in enumerate(prose_only(text).splitlines(), start=1):
        for match in CITE_RE.finditer(line):
            key = match.group("key")
            if key.startswith(CROSSREF_PREFIXES):
                out.append((lineno, key))
    return out


def embeds(text: str) -> list[tuple[int, str, str]]:
    """Embed shortcodes as (line, notebook path, label)."""
    return [
        (text[: m.start()].count("\n") + 1, m.group("path"), m.group("label"))
        for m in EMBED_RE.finditer(text)
    ]


def var_keys(text: str) -> list[tuple[int, str]]:
    return [(text[: m.start()].count("\n") + 1, m.group("key")) for m in VAR_RE.finditer(text)]


def heading_ids(text: str) -> list[tuple[int, str, str]]:
    """(level, id, title) of headings carrying an ``{#id}`` attribute."""
    out = []
    for line in prose_only(text).splitlines():
        match = HEADING_RE.match(line)
        if match and match.group("attrs"):
            ident = ID_RE.search(match.group("attrs"))
            if ident:
                out.append((len(match.group("hashes")), ident.group("id"), match.group("title")))
    return out


def div_ids(text: str) -> set[str]:
    return set(re.findall(r"^:::+\s*\{[^}]*#([A-Za-z][\w-]*)", text, re.M))


@dataclass(frozen=True)
class LabelledCell:
    """A notebook cell with a Quarto ``#| label:`` and its other options."""

    label: str
    options: dict[str, str]
    outputs: list


def labelled_cells(notebook: Path) -> dict[str, LabelledCell]:
    """Cells of ``notebook`` addressable by ``#| label:`` (what an embed resolves to)."""
    import nbformat  # 0.1 s (jsonschema): not for the commands that never read a notebook

    nb = nbformat.read(notebook, as_version=4)
    out: dict[str, LabelledCell] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        options = cell_options(cell.source)
        if "label" in options:
            out[options["label"]] = LabelledCell(options["label"], options, list(cell.outputs))
    return out


def cell_options(source: str) -> dict[str, str]:
    """Leading ``#| key: value`` lines of a cell (YAML scalars, quotes removed)."""
    options: dict[str, str] = {}
    for line in source.splitlines():
        match = OPTION_RE.match(line.strip())
        if not match:
            break
        value = yaml.safe_load(match.group("value")) if match.group("value") else ""
        options[match.group("key")] = "" if value is None else str(value)
    return options


DIGIT_RE = re.compile(r"\d")
ALLOWED_TOKEN_RE = re.compile(r"\{#[^}]*\}|\]\([^)]*\)|https?://\S+|`[^`]*`")


def digits_in_prose(text: str) -> list[tuple[int, str]]:
    """Lines of prose that contain a digit outside shortcodes, citations, ids and links.

    Every number a reader sees must come from ``{{< var >}}``; this finds the ones that don't.
    """
    out = []
    for lineno, line in enumerate(prose_only(text).splitlines(), start=1):
        cleaned = ALLOWED_TOKEN_RE.sub(" ", line)
        cleaned = CITE_RE.sub(" ", cleaned)
        if DIGIT_RE.search(cleaned):
            out.append((lineno, line.strip()))
    return out
