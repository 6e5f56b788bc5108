"""The book without Quarto: one model of the sources, resolved chapter by chapter as Quarto would.

It resolves ``{{< var >}}`` values (from ``_variables.yml``, which holds Markdown-safe text),
``{{< embed >}}`` outputs (stored in the executed notebooks), chapter/figure/table numbers and
cross-references (also across pages). ``html_book`` and ``pdf_book`` render this model as a
multi-page HTML book and a Typst PDF; ``render.build_preview`` writes both into ``_preview/``. Quarto
remains the renderer of record.
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from livingreview.book.pandoc import ConversionCache, convert, parallel_map, thread_pool
from livingreview.project.paths import Project
from livingreview.project.qmd import (
    CITE_RE,
    CROSSREF_PREFIXES,
    EMBED_RE,
    HEADING_RE,
    ID_RE,
    VAR_RE,
    BookFile,
    LabelledCell,
    book_files,
    heading_ids,
    labelled_cells,
    load_yaml,
    read_quarto_yml,
    strip_front_matter,
)
from livingreview.text.safe import one_line


class PreviewError(RuntimeError):
    """The sources cannot be turned into a book (missing notebook, label or output)."""


@dataclass
class Numbering:
    """Quarto-style numbers of chapters, sections, figures and tables across the book."""

    labels: dict[str, str] = field(default_factory=dict)  # id -> "Figure 3.1", "Chapter 2", ...
    pages: dict[str, str] = field(default_factory=dict)  # id -> "results.html"


def _chapter_prefix(book_file: BookFile, first_heading_attrs: str, counters: dict[str, int]) -> str:
    if ".unnumbered" in first_heading_attrs or "-}" in first_heading_attrs:
        return ""
    if book_file.appendix:
        counters["appendix"] += 1
        return chr(64 + counters["appendix"])
    counters["chapter"] += 1
    return str(counters["chapter"])


def _first_heading_attrs(text: str) -> str:
    for line in text.splitlines():
        match = HEADING_RE.match(line)
        if match and len(match.group("hashes")) == 1:
            return match.group("attrs") or ""
    return ""


def page_name(book_file: BookFile) -> str:
    """The HTML page of a book file: ``chapters/results.qmd`` → ``results.html``."""
    return Path(book_file.path).with_suffix(".html").name


def number_book(sources: list[tuple[BookFile, str]]) -> tuple[Numbering, list[str]]:
    """Number chapters/sections/floats and return the per-chapter prefixes ("" = unnumbered)."""
    numbering = Numbering()
    counters = {"chapter": 0, "appendix": 0}
    prefixes = []
    for book_file, text in sources:
        page = page_name(book_file)
        for _, ident, _ in heading_ids(text):
            numbering.pages[ident] = page
        for label in (m.group("label") for m in EMBED_RE.finditer(text)):
            numbering.pages[label] = page
        prefix = _chapter_prefix(book_file, _first_heading_attrs(text), counters)
        prefixes.append(prefix)
        section = [0, 0, 0]
        for line in text.splitlines():
            match = HEADING_RE.match(line)
            if not match:
                continue
            level = len(match.group("hashes"))
            ident = ID_RE.search(match.group("attrs") or "")
            if level > 1 and level <= 3:
                section[level - 2] += 1
                for i in range(level - 1, 3):
                    section[i] = 0
            if not ident or not prefix:
                continue
            if level == 1:
                kind = "Appendix" if book_file.appendix else "Chapter"
                numbering.labels[ident.group("id")] = f"{kind} {prefix}"
            else:
                numbers = ".".join(str(n) for n in section[: level - 1])
                numbering.labels[ident.group("id")] = f"Section {prefix}.{numbers}"
        counts = {"fig": 0, "tbl": 0}
        for match in EMBED_RE.finditer(text):
            kind = match.group("label").split("-", 1)[0]
            if kind in counts and prefix:
                counts[kind] += 1
                name = "Figure" if kind == "fig" else "Table"
                numbering.labels[match.group("label")] = f"{name} {prefix}.{counts[kind]}"
    return numbering, prefixes


def _number_headings(text: str, prefix: str) -> str:
    if not prefix:
        return text
    section = [0, 0, 0]
    lines = []
    for line in text.splitlines():
        match = HEADING_RE.match(line)
        if match and len(match.group("hashes")) <= 4:
            level = len(match.group("hashes"))
            if level == 1:
                number = prefix
            elif level <= 3:
                section[level - 2] += 1
                for i in range(level - 1, 3):
                    section[i] = 0
                number = prefix + "." + ".".join(str(n) for n in section[: level - 1])
            else:
                number = ""
            attrs = match.group("attrs")
            title = f"{number} {match.group('title')}".strip()
            line = f"{match.group('hashes')} {title}" + (f" {{{attrs}}}" if attrs else "")
        lines.append(line)
    return "\n".join(lines) + "\n"


@dataclass
class Embed:
    """One embedded notebook output: a figure (PNG) or a table (HTML), with its numbered caption."""

    token: str
    label: str
    caption: str  # plain text, e.g. "Figure 3.1: Effect directions by study."
    alt: str
    png: bytes | None = None
    width_px: float = 0.0  # display size at 100 px per inch (the figures' design size)
    height_px: float = 0.0
    table_html: str | None = None
    text: str | None = None
    source: str = ""  # the notebook, relative to the project root


@dataclass
class Chapter:
    """One book file, with its embeds replaced by tokens and its headings numbered."""

    book_file: BookFile
    page: str
    prefix: str
    title: str
    source: str
    embeds: list[Embed] = field(default_factory=list)

    @property
    def is_references(self) -> bool:
        return re.search(r"^:::+\s*\{#refs", self.source, re.M) is not None


@dataclass
class Book:
    """The whole book as the renderers need it."""

    project: Project
    config: dict
    variables: dict[str, str]
    numbering: Numbering
    chapters: list[Chapter]
    nonce: str
    cache: ConversionCache | None = None  # pandoc outputs of earlier builds (set by the renderer)

    @property
    def title(self) -> str:
        return str(self.config.get("book", {}).get("title", "Living review"))

    @property
    def subtitle(self) -> str:
        return str(self.config.get("book", {}).get("subtitle", ""))

    def var(self, key: str) -> str:
        """A var value as Markdown (``_variables.yml`` holds Markdown-safe text), on one line."""
        return one_line(self.variables.get(key, ""))

    @property
    def references_page(self) -> str:
        return next((c.page for c in self.chapters if c.is_references), "")

    def bibliographies(self) -> list[Path]:
        bibs = self.config.get("bibliography", [])
        return [self.project.root / b for b in ([bibs] if isinstance(bibs, str) else bibs)]

    def bibliography_args(self) -> list[str]:
        # BibTeX as it is: a conversion to CSL JSON would drop literal dates such as "[year not verified]"
        args = [f"--bibliography={b}" for b in self.bibliographies()]
        if self.config.get("csl"):
            args.append(f"--csl={self.project.root / self.config['csl']}")
        return args

    def markdown(self, chapter: Chapter, target: str) -> str:
        """The chapter as pandoc Markdown for ``target`` ("html" or "typst"): vars, refs, numbers."""
        return resolve_markdown(chapter, self, target)


def _png_size(png: bytes) -> tuple[int, int]:
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise PreviewError("embedded figure is not a PNG")
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def make_embed(cell: LabelledCell, label: str, caption_prefix: str, token: str, source: str = "") -> Embed:
    """The embeddable content of ``cell``: its PNG or HTML output, else its text."""
    caption = one_line(cell.options.get("fig-cap") or cell.options.get("tbl-cap") or "")
    caption = f"{caption_prefix}: {caption}" if caption_prefix else caption
    alt = one_line(cell.options.get("fig-alt", caption))
    for output in cell.outputs:
        data = output.get("data", {})
        if label.startswith("fig-") and "image/png" in data:
            png = base64.b64decode("".join(data["image/png"]))
            width, height = _png_size(png)
            meta = output.get("metadata", {}).get("image/png", {})
            if meta.get("width") and meta.get("height"):
                width, height = meta["width"], meta["height"]
            return Embed(token, label, caption, alt, png=png, width_px=width, height_px=height, source=source)
        if "text/html" in data:
            return Embed(token, label, caption, alt, table_html="".join(data["text/html"]), source=source)
    for output in cell.outputs:
        text = output.get("data", {}).get("text/plain") or output.get("text")
        if text:
            return Embed(token, label, caption, alt, text="".join(text), source=source)
    raise PreviewError(f"cell {label!r} has no output to embed; run `livingreview execute` first")


def _replace_embeds(
    chapter: Chapter, numbering: Numbering, cache: dict[Path, dict[str, LabelledCell]], root: Path, nonce: str
) -> None:
    path = root / chapter.book_file.path

    def repl(match: re.Match[str]) -> str:
        notebook = (path.parent / match.group("path")).resolve()
        if notebook not in cache:
            if not notebook.is_file():
                raise PreviewError(f"{path.name}: embedded notebook {match.group('path')} not found")
            cache[notebook] = labelled_cells(notebook)
        label = match.group("label")
        cell = cache[notebook].get(label)
        if cell is None:
            raise PreviewError(f"{path.name}: no cell labelled {label!r} in {notebook.name}")
        token = f"LRX{nonce}E{len(chapter.embeds)}X"
        source = notebook.relative_to(root).as_posix() if notebook.is_relative_to(root) else notebook.name
        chapter.embeds.append(make_embed(cell, label, numbering.labels.get(label, ""), token, source))
        return f"\n\n{token}\n\n"

    chapter.source = EMBED_RE.sub(repl, chapter.source)


def resolve_markdown(chapter: Chapter, book: Book, target: str) -> str:
    """Vars become tokens first, so that nothing in a value is read as a cross-reference or shortcode."""
    values: list[str] = []
    where = chapter.book_file.path

    def hold(match: re.Match[str]) -> str:
        key = match.group("key")
        if key not in book.variables:
            raise PreviewError(f"{where}: unknown var {key!r} (not in _variables.yml)")
        values.append(book.var(key))
        return f"LRX{book.nonce}V{len(values) - 1}X"

    text = VAR_RE.sub(hold, chapter.source)

    def ref(match: re.Match[str]) -> str:
        key = match.group("key")
        if not key.startswith(CROSSREF_PREFIXES):
            return match.group(0)
        label = book.numbering.labels.get(key, f"?{key}")
        page = book.numbering.pages.get(key, chapter.page)
        href = f"#{key}" if target != "html" or page == chapter.page else f"{page}#{key}"
        return f"[{label}]({href})"

    text = CITE_RE.sub(ref, text)
    text = _number_headings(text, chapter.prefix)
    return re.sub(rf"LRX{book.nonce}V(\d+)X", lambda m: values[int(m.group(1))], text)


def _title(text: str, prefix: str) -> str:
    for line in text.splitlines():
        match = HEADING_RE.match(line)
        if match and len(match.group("hashes")) == 1:
            return f"{prefix} {match.group('title')}".strip()
    return ""


def load_book(project: Project, variables_yml: str | None = None, nonce: str | None = None) -> Book:
    """Read the config, variables, chapters and notebook outputs; number everything.

    ``variables_yml``: the text of ``_variables.yml`` to use instead of the file's; ``nonce``: the
    tokens' nonce (random unless given).
    """
    from livingreview.book.variables import flatten  # pandas: imported only when the book is read

    config = read_quarto_yml(project.quarto_yml)
    if variables_yml is None:
        variables_yml = project.variables_yml.read_text(encoding="utf-8")
    variables = flatten(load_yaml(variables_yml) or {})
    sources = []
    for book_file in book_files(config):
        path = project.root / book_file.path
        if not path.is_file():
            raise PreviewError(f"_quarto.yml lists {book_file.path}, which does not exist")
        sources.append((book_file, strip_front_matter(path.read_text(encoding="utf-8"))))
    numbering, prefixes = number_book(sources)
    nonce = nonce or secrets.token_hex(6)
    cache: dict[Path, dict[str, LabelledCell]] = {}
    chapters = []
    for (book_file, text), prefix in zip(sources, prefixes, strict=True):
        chapter = Chapter(book_file, page_name(book_file), prefix, _title(text, prefix), text)
        _replace_embeds(chapter, numbering, cache, project.root, nonce)
        chapters.append(chapter)
    return Book(project, config, variables, numbering, chapters, nonce)


def assemble_markdown(project: Project) -> tuple[str, dict]:
    """The whole book as one pandoc-markdown document for HTML (embeds as tokens), and the config."""
    book = load_book(project)
    return "\n\n".join(book.markdown(c, "html") for c in book.chapters), book.config


STYLE_RE = re.compile(r"<(style|script)\b[^>]*>.*?</\1\s*>", re.S | re.I)


def _strip_style(table_html: str | None) -> str:
    """great-tables' ``<style>`` block (pandoc's HTML reader would keep its text); scripts likewise."""
    return STYLE_RE.sub("", table_html or "")


MAX_TABLE_ROWS = 1000  # a book page is no place for more; pandoc and Typst time grow with every row


def cap_rows(table_html: str, where: str, limit: int = MAX_TABLE_ROWS) -> str:
    """The table with at most ``limit`` body rows, and a note saying where all of them are."""
    head, sep, rest = table_html.partition("<tbody")
    body, end, tail = rest.partition("</tbody>")
    rows = re.split(r"(?=<tr\b)", body)
    if not sep or not end or len(rows) - 1 <= limit:
        return table_html
    total = len(rows) - 1
    note = (
        f"<p>The book shows the first {limit:,} of {total:,} rows; "
        f"all rows are in {html.escape(where)} and the data it reads.</p>"
    )
    return head + sep + "".join(rows[: limit + 1]) + end + tail + note


def _para(token: str) -> dict:
    return {"t": "Para", "c": [{"t": "Str", "c": token}]}


def _token(block: dict) -> str | None:
    """The text of a paragraph that holds nothing but one string (a token), else None."""
    if block.get("t") == "Para" and len(block["c"]) == 1 and block["c"][0].get("t") == "Str":
        return block["c"][0]["c"]
    return None


@dataclass
class Prose:
    """The chapters' prose parsed and cited (citations rendered, reference list placed): what
    ``book_asts`` needs besides the tables. ``texts`` are the Markdown it was parsed from."""

    nonce: str
    texts: list[str]
    read: list[dict]
    cited: dict
    used: set[str] = field(default_factory=set)  # the conversion cache entries it used


def chapter_texts(book: Book) -> list[str]:
    return [book.markdown(chapter, "html") for chapter in book.chapters]


def _parse(book: Book, chapter: Chapter, text: str) -> dict:
    """One chapter parsed on its own (its heading identifiers are its own; the result is cached)."""
    keep = ["--metadata=lr-keep-cites:true"]  # the filter leaves citations to the citation pass
    return json.loads(convert(text, "markdown", "json", keep, chapter.book_file.path, True, book.cache))


def _prose(book: Book, texts: list[str], read: list[dict]) -> Prose:
    cited = _cite(book, read)
    return Prose(book.nonce, texts, read, cited, set(book.cache.used) if book.cache else set())


def parse_prose(book: Book) -> Prose:
    """The book's chapters parsed (in parallel), then cited in one pass."""
    texts = chapter_texts(book)
    pairs = list(zip(book.chapters, texts, strict=True))
    return _prose(book, texts, parallel_map(lambda pair: _parse(book, *pair), pairs))


def book_asts(book: Book, prose: Prose | None = None) -> list[str]:
    """Every chapter as one pandoc JSON document: prose after citeproc, tables read from their HTML.

    Citeproc runs once, on every citation of the book in reading order and the reference list,
    so that citations are rendered and disambiguated as in the one reference list and the
    bibliography is parsed once; the rendered citations go back where they were. Each table sits
    between its token paragraph and the same token + ``END`` so that the renderers can wrap it
    with its caption; figures stay a single token paragraph. ``prose`` (parsed while the
    notebooks ran) is used when it was parsed from exactly this book's texts.
    """
    chapters = book.chapters
    texts = chapter_texts(book)  # the tokens in them carry the nonce
    if prose is not None and prose.texts != texts:
        prose = None  # parsed from other texts: parse these
    # The tables are read while the chapters are parsed and citeproc runs (they need neither).
    with thread_pool() as pool:
        pairs = [] if prose is not None else list(zip(chapters, texts, strict=True))
        parsing = [pool.submit(_parse, book, chapter, text) for chapter, text in pairs]
        reading = [pool.submit(_read_tables, book, chapter) for chapter in chapters]
        if prose is None:
            prose = _prose(book, texts, [future.result() for future in parsing])
        elif book.cache is not None:
            book.cache.used |= prose.used  # kept by prune
        tables = [future.result() for future in reading]
    return [
        json.dumps({**prose.cited, "blocks": _place_tables(doc["blocks"], pieces)})
        for doc, pieces in zip(prose.read, tables, strict=True)
    ]


def _cite(book: Book, read: list[dict]) -> dict:
    """Render every citation of the parsed chapters ``read`` in place (one citeproc run); return
    citeproc's document (its metadata is the book's)."""
    cites: list[dict] = []
    refs: list[dict] = []

    def collect(cite: dict) -> list[dict]:
        cites.append(cite)
        return [cite]  # left in place until it is rendered

    for doc in read:
        _visit_citations(doc["blocks"], collect, refs.append)
    small = {
        "pandoc-api-version": read[0]["pandoc-api-version"] if read else [1, 23, 1],
        "meta": {},
        "blocks": [{"t": "Para", "c": [cite]} for cite in cites] + refs,
    }
    # citeproc, then the sanitizing filter; citations link to the reference page (on that page too)
    args = ["--citeproc", *book.bibliography_args(), f"--metadata=lr-refs-page:{book.references_page}"]
    cited = json.loads(convert(json.dumps(small), "json", "json", args, "citations", cache=book.cache))
    rendered = [block["c"] for block in cited["blocks"][: len(cites)] if block.get("t") == "Para"]
    lists = [block for block in cited["blocks"][len(cites) :] if _div_id(block) == "refs"]
    if len(rendered) != len(cites) or len(lists) != len(refs):
        raise PreviewError("citations: citeproc did not return every citation and reference list")
    done = iter(rendered)
    placed = iter(lists)
    for doc in read:
        _visit_citations(doc["blocks"], lambda _cite: next(done), lambda div: div.update(next(placed)))
    return cited


def _div_id(node: object) -> str | None:
    if isinstance(node, dict) and node.get("t") == "Div":
        return node["c"][0][0]
    return None


def _visit_citations(
    node: object, cite: Callable[[dict], list[dict]], refs: Callable[[dict], object]
) -> None:
    """Walk a pandoc JSON tree in reading order: each citation is replaced by the inlines
    ``cite`` returns for it, and ``refs`` is called with the reference-list ``Div`` (``#refs``)."""
    if isinstance(node, list):
        i = 0
        while i < len(node):
            item = node[i]
            if isinstance(item, dict) and item.get("t") == "Cite":
                replacement = cite(item)
                node[i : i + 1] = replacement
                i += len(replacement)
                continue
            if _div_id(item) == "refs":
                refs(item)
            else:
                _visit_citations(item, cite, refs)
            i += 1
    elif isinstance(node, dict):
        for value in node.values():
            if isinstance(value, list | dict):
                _visit_citations(value, cite, refs)


def _read_tables(book: Book, chapter: Chapter) -> dict[str, list]:
    """Each table embed's HTML of ``chapter``, read by pandoc: its blocks by the embed's token."""
    tables = [e for e in chapter.embeds if e.table_html is not None]
    if not tables:
        return {}
    seps = [f"LRX{book.nonce}S{i}X" for i in range(len(tables))]
    joined = "".join(
        f"<p>{sep}</p>\n{cap_rows(_strip_style(e.table_html), e.source)}\n"
        for sep, e in zip(seps, tables, strict=True)
    )
    args = ["--metadata=lr-no-images:true"]  # a table cell cannot bring an image (or read a file)
    read = json.loads(
        convert(joined, "html-raw_html", "json", args, chapter.book_file.path, cache=book.cache)
    )["blocks"]
    pieces: dict[str, list] = {}
    current: list | None = None
    for block in read:
        token = _token(block)
        if token in seps:
            current = pieces.setdefault(tables[seps.index(token)].token, [])
        elif current is not None:
            current.append(block)
    return pieces


def _place_tables(blocks: list, pieces: dict[str, list]) -> list:
    """``blocks`` with each table's blocks after its token paragraph (and its token + END after)."""
    out = []
    for block in blocks:
        token = _token(block)
        if token is not None and token in pieces:
            out += [_para(token), *pieces[token], _para(token + "END")]
        else:
            out.append(block)
    return out


def write_figures(book: Book, out_dir: Path) -> None:
    """Each embedded figure as ``figures/<label>.png`` (shared by the HTML book and the PDF)."""
    figures = out_dir / "figures"
    figures.mkdir(exist_ok=True)
    for chapter in book.chapters:
        for embed in chapter.embeds:
            if embed.png is not None:
                (figures / f"{embed.label}.png").write_bytes(embed.png)


def pdf_name(config: dict) -> str:
    """The PDF's file name: ``book.output-file`` of ``_quarto.yml`` (Quarto's rule), else ``book``."""
    stem = str(config.get("book", {}).get("output-file") or "book")
    return re.sub(r"[^\w.-]+", "-", stem) + ".pdf"
